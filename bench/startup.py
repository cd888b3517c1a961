"""Start-up: `sop --help` and `sop list` against bare interpreters importing what sop must.

Floors: `python -c 'import click'` for `--help`, `python -c 'import click, yaml'` for `list`
(whole processes, same interpreter). Peers for scale: fabric, invoke, ansible. A second check
asks which heavy libraries each command really imports: fabric, invoke, paramiko, jinja2 and
rich (and OpenTelemetry, protobuf) must load only when a command needs them.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile

from bench.common import BENCH_BIN, PYTHON, REPO, SOP, Section, Target, fmt, interleave

HEAVY = (
    "fabric",
    "invoke",
    "paramiko",
    "jinja2",
    "rich",
    "markdown_it",
    "cryptography",
    "opentelemetry",
    "google",
)

# Runs a sop command in-process and prints which heavy top-level packages it imported.
PROBE = """
import json, sys
from sop.cli import cli
try:
    cli.main(args=sys.argv[1:], prog_name="sop", standalone_mode=False)
except SystemExit:
    pass
heavy = %r
print(json.dumps(sorted({m.split(".")[0] for m in sys.modules} & set(heavy))))
"""


def imported_by(*args: str) -> list[str]:
    result = subprocess.run(
        [str(PYTHON), "-c", PROBE % (HEAVY,), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    found: list[str] = json.loads(result.stdout.strip().splitlines()[-1])
    return found


def bench(runs: int, smoke: bool = False) -> Section:
    py = str(PYTHON)
    variants: dict[str, list[str]] = {
        "python -c pass": [py, "-c", "pass"],
        "python -c 'import click'": [py, "-c", "import click"],
        "python -c 'import click, yaml'": [py, "-c", "import click, yaml"],
        "sop --help": [str(SOP), "--help"],
        "sop list runbooks/": [str(SOP), "list", "runbooks/"],
        # the same without its cache (every file parsed and validated), through env(1)
        "sop list runbooks/, SOP_NO_CACHE=1": [
            "env",
            "SOP_NO_CACHE=1",
            str(SOP),
            "list",
            "runbooks/",
        ],
    }
    if not smoke:
        variants["python -c 'import jinja2, yaml'"] = [py, "-c", "import jinja2, yaml"]
        variants["python -c 'import invoke'"] = [py, "-c", "import invoke"]
        variants["python -c 'import fabric'"] = [py, "-c", "import fabric"]
        if (BENCH_BIN / "ansible").exists():
            variants["ansible --version"] = [str(BENCH_BIN / "ansible"), "--version"]
    with tempfile.TemporaryDirectory(prefix="sop-bench-cache-") as cache:
        env = {**os.environ, "XDG_CACHE_HOME": cache}  # warmed by the first round
        # these runs take 0.01-0.35 s each: 15 of them (3x make bench's default) cost 20 s more
        # and keep a median of a 50-ms command from one busy moment of the machine
        runs = runs if smoke else max(runs, 15)
        series = interleave(variants, runs, cwd=REPO, env=env, warmup=1 if smoke else 3)
    floor = series["python -c pass"].wall
    rows = [[name, f"{s.wall * 1000:.0f}", f"{s.wall / floor:.2f}"] for name, s in series.items()]
    help_ratio = series["sop --help"].wall / series["python -c 'import click'"].wall
    list_ratio = series["sop list runbooks/"].wall / series["python -c 'import click, yaml'"].wall
    cold_ratio = (
        series["sop list runbooks/, SOP_NO_CACHE=1"].wall
        / series["python -c 'import click, yaml'"].wall
    )
    help_mods = imported_by("--help")
    list_mods = imported_by("list", "runbooks/")
    notes = [
        f"{runs} interleaved runs per command (after warm-up), whole process, median; "
        "`vs pass` is the ratio to `python -c pass`.",
        f"`sop --help` / `import click` = {fmt(help_ratio)}x; "
        f"`sop list runbooks/` / `import click, yaml` = {fmt(list_ratio)}x with its cache warm "
        f"(the usual case: any earlier listing warms it), {fmt(cold_ratio)}x without it "
        "(SOP_NO_CACHE=1: all 15 runbooks parsed and validated).",
        f"Heavy libraries ({', '.join(HEAVY)}) imported by `sop --help`: "
        f"{', '.join(help_mods) or 'none'}; by `sop list`: {', '.join(list_mods) or 'none'}.",
    ]
    lazy = ("fabric", "invoke", "paramiko", "jinja2", "rich")
    loaded = sorted(set(help_mods + list_mods) & set(lazy))
    return Section(
        "Start-up",
        ["command", "median ms", "vs pass"],
        rows,
        notes,
        [
            Target("start-up", "`sop --help` / `python -c 'import click'`", help_ratio, 1.3),
            Target(
                "start-up",
                "`sop list runbooks/` / `python -c 'import click, yaml'`",
                list_ratio,
                1.5,
            ),
            Target(
                "start-up",
                "fabric/invoke/paramiko/jinja2/rich loaded by --help or list"
                + (f" ({', '.join(loaded)})" if loaded else ""),
                len(loaded),
                0,
                unit="",
            ),
        ],
    )
