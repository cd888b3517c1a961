"""The benchmarks in smoke mode: tiny sizes, one run each, only to keep the scripts working.

Nothing here asserts a speed (that is `make bench`'s job, with ratios measured side by side).
"""

from __future__ import annotations

from pathlib import Path

from bench import run


def test_smoke_run_writes_every_table_and_target(tmp_path: Path) -> None:
    out = tmp_path / "RESULTS.md"

    assert run.main(["--smoke", "--out", str(out)]) == 0

    text = out.read_text()
    for title in (
        "## Targets",
        "## Start-up",
        "## Fan-out: `hostname; echo ok` on N hosts",
        "## Beyond one machine",
        "## Resume of a long run",
        "## Output latency: a host's line to the terminal",
        "## Pre-flight: every targeted host connected before the first step",
        "## Audit trail",
        "## Lint and render 20 generated SOPs",
        "## Why the code looks like this",
    ):
        assert title in text
    for claim in (
        "`sop --help` / `python -c 'import click'`",
        "SSH logins per host, 5-step SOP",
        "peak RSS, `sop run` on 3 hosts",
        "`sop run`: time(3 hosts) / time(1 host)",
        "`sop run` CPU per added host, 2 -> 3 / 1 -> 2 hosts",
        "`sop resume` start, ",
        "line latency p99, 1 host(s), a secret input",
        "pre-flight / one-step fan-out, 2 hosts",
        "`AuditLog.append` / raw fsync-per-record rate",
        "`sop audit verify` CLI, records/s (2,000)",
        "`sop lint` / C-loader parse, 20 SOPs",
        "Where `sop run`'s time over fabric's goes at ",
        "hosts' sshd used ",
        "The hosts' sshd CPU for one run on ",
    ):
        assert claim in text
