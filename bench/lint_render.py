"""`sop lint` and `sop render --format markdown` of N generated SOPs, against the floor: one
process that parses the same files with PyYAML's C loader (`yaml.load(..., CSafeLoader)`)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from bench.common import PYTHON, SOP, Section, Target, fmt, interleave
from bench.gen_sops import generate

PARSE = (
    "import sys, yaml\n"
    "from pathlib import Path\n"
    "for p in sorted(Path(sys.argv[1]).glob('bench-*.yaml')):\n"
    "    yaml.load(p.read_bytes(), Loader=yaml.CSafeLoader)\n"
)


def bench(runs: int, count: int = 1000) -> Section:
    work = Path(tempfile.mkdtemp(prefix="sop-bench-lint-"))
    try:
        sops = work / "sops"
        generate(sops, count)
        out = work / "site"
        series = interleave(
            {
                "python: yaml.load(CSafeLoader) of every file": [
                    str(PYTHON),
                    "-c",
                    PARSE,
                    str(sops),
                ],
                "sop lint": [str(SOP), "lint", str(sops)],
                "sop render --format markdown": [
                    str(SOP),
                    "render",
                    str(sops),
                    "--format",
                    "markdown",
                    "--out",
                    str(out),
                ],
            },
            runs,
            cwd=work,
            warmup=1,
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    floor = series["python: yaml.load(CSafeLoader) of every file"].wall
    lint = series["sop lint"].wall / floor
    render = series["sop render --format markdown"].wall / floor
    return Section(
        f"Lint and render {count:,} generated SOPs",
        ["command", "median s", "ms/SOP", "vs C-loader parse"],
        [
            [name, f"{s.wall:.2f}", f"{s.wall / count * 1000:.2f}", fmt(s.wall / floor)]
            for name, s in series.items()
        ],
        [
            f"{runs} interleaved runs, whole processes (the floor includes its interpreter start); "
            "SOPs from `python -m bench.gen_sops`, about 80 lines each.",
        ],
        [
            Target("lint/render", f"`sop lint` / C-loader parse, {count:,} SOPs", lint, 2),
            Target(
                "lint/render",
                f"`sop render --format markdown` / C-loader parse, {count:,} SOPs",
                render,
                3,
            ),
        ],
    )
