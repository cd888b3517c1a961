"""Run every benchmark, print the tables and the targets with their measured ratios, and write
bench/RESULTS.md.

    python -m bench.run                 # make bench: 5 interleaved runs of everything
    python -m bench.run --smoke --out DIR   # make bench-smoke: one quick pass, keeps the scripts working

Only ratios measured in the same run are judged; the exit status is 0 whatever they are
(benchmarks are not tests), unless --strict.
"""

from __future__ import annotations

import argparse
import compileall
import datetime as dt
import sys
import time
from pathlib import Path

from bench import audit_log, fanout, latency, lint_render, preflight, resume, startup, why
from bench.common import REPO, Section, machine, markdown_table

TARGET_HEADERS = ["area", "target", "measured", "limit", ""]


def run_all(runs: int, smoke: bool) -> list[Section]:
    if smoke:
        return [
            startup.bench(runs, smoke=True),
            *fanout.bench(runs, sizes=(1, 2, 3), smoke=True),
            preflight.bench(runs, sizes=(2,), smoke=True),
            latency.bench(runs, sizes=(1,), smoke=True),
            audit_log.bench(runs, block=50, verify_records=2_000),
            resume.bench(runs, records=1_000),
            lint_render.bench(runs, count=20),
        ]
    return [
        startup.bench(runs),
        *fanout.bench(runs),
        preflight.bench(runs),
        latency.bench(runs),
        audit_log.bench(runs),
        resume.bench(runs),
        lint_render.bench(runs),
    ]


def report(sections: list[Section], runs: int, smoke: bool, seconds: float) -> str:
    targets = [t for s in sections for t in s.targets]
    failing = [t for t in targets if not t.holds]
    summary = (
        "All targets hold."
        if not failing
        else f"{len(failing)} of {len(targets)} targets FAIL: "
        + "; ".join(f"{t.claim} ({t.row()[2]})" for t in failing)
        + "."
    )
    head = [
        "# Benchmark results" + (" (smoke run: numbers mean nothing)" if smoke else ""),
        "",
        f"- Date: {dt.date.today().isoformat()}",
        f"- Machine: {machine()}",
        f"- Runs: {runs} interleaved per comparison (medians); took {seconds:.0f} s",
        "- Reproduce: `make bench` (the peers' environment: bench/requirements.txt, in bench/.venv)",
        "",
        "## Targets",
        "",
        markdown_table(TARGET_HEADERS, [t.row() for t in targets]),
        "",
        summary,
        "",
    ]
    body = "\n".join([*(s.markdown() for s in sections), why.markdown()])
    return "\n".join(head) + "\n" + body


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=None, help="runs per variant (default 5)")
    parser.add_argument("--smoke", action="store_true", help="one quick pass, tiny sizes")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "RESULTS.md")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target fails")
    args = parser.parse_args(argv)
    runs = args.runs or (1 if args.smoke else 5)
    # byte-compile sop first: with PYTHONDONTWRITEBYTECODE set (some shells do), a module
    # changed since its .pyc was written is compiled again at every start, which the start-up
    # benchmarks would count (about 25 ms of `sop --help` after a pull)
    compileall.compile_dir(REPO / "sop", quiet=1)
    start = time.monotonic()
    sections = run_all(runs, args.smoke)
    text = report(sections, runs, args.smoke, time.monotonic() - start)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)
    print(f"written to {args.out}", file=sys.stderr)
    failing = [t for s in sections for t in s.targets if not t.holds]
    return 1 if args.strict and failing else 0


if __name__ == "__main__":
    sys.exit(main())
