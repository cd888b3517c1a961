"""A step that fails on one host of three, at a terminal, against real sshd hosts: retry runs it
again on that host only, exclude leaves the host out of the rest of the run, skip makes the step
partial; the audit log and `sop report` keep it all."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from pathlib import Path

from ..integration.rundir import SOP, RunDir
from .session import FAILED, WHY_ABORT, WHY_SKIP, Terminal, failed, run_on

Start = Callable[..., Terminal]

# `deploy` fails on h02 until the flag file exists; `mark` records every run on every host
SOP_TEXT = """\
sop: 1
id: {id}
title: Test
owner: team
reviewed: 2026-11-01
steps:
  - id: deploy
    on: web
    run: |
      @MARK@ deploy
      [ "$(echo "$SSH_CONNECTION" | cut -d' ' -f3)" != "{address}" ] || [ -e "{flag}" ]
  - id: after
    on: web
    run: "@MARK@ after"
  - id: tidy
    run: "@MARK@ tidy; exit 2"
"""


def write(rundir: RunDir, sop_id: str) -> tuple[Path, Path]:
    flag = rundir.path / "h02-fixed"
    text = SOP_TEXT.format(id=sop_id, address=rundir.hosts.host("h02").address, flag=flag)
    return rundir.write_sop(text, f"{sop_id}.yaml"), flag


def run_id(term: Terminal) -> str:
    found = re.search(r"run (\S+)   trace", term.transcript)
    assert found, term.transcript
    return found.group(1)


def report(rundir: RunDir, run: str) -> str:
    proc = subprocess.run(
        [str(SOP), "report", run], capture_output=True, text=True, env=rundir.env(), check=True
    )
    return proc.stdout


def test_retry_runs_the_step_again_only_on_the_host_where_it_failed(
    rundir: RunDir, terminal: Start
) -> None:
    sop, flag = write(rundir, "retry")
    term = terminal(sop)

    term.answer(run_on("h01, h02, h03"), "r")
    term.expect(failed("h02", of=3))
    flag.touch()  # fixed by hand
    term.child.sendline("r")
    term.answer(run_on("h01, h02, h03"), "r")  # after: on every host again
    term.answer(run_on("local"), "r")
    term.answer(FAILED, "s")  # the responder's machine cannot be excluded
    term.answer(WHY_SKIP, "nothing to tidy")

    assert term.exit_status() == 0
    marks = rundir.marks()
    assert sorted(marks[:3]) == ["h01 deploy", "h02 deploy", "h03 deploy"]
    assert marks[3] == "h02 deploy"  # h01 and h03, where it succeeded, ran it once
    assert sorted(marks[4:7]) == ["h01 after", "h02 after", "h03 after"]
    assert "running on 1 host(s) (attempt 2)..." in term.transcript


def test_an_excluded_host_is_left_out_and_the_step_is_partial(
    rundir: RunDir, terminal: Start
) -> None:
    sop, _ = write(rundir, "exclude")
    term = terminal(sop)

    term.answer(run_on("h01, h02, h03"), "r")
    term.answer(failed("h02", of=3), "e")
    term.answer("Why exclude h02 for the rest of the run?: ", "disk died, OPS-9")
    term.expect("h02 excluded for the rest of the run: disk died, OPS-9")
    term.expect("◐ partial: excluded: h02 (disk died, OPS-9)")
    term.expect("h02 excluded: disk died, OPS-9")  # on the next step's screen
    term.answer(run_on("h01, h03"), "r")
    term.answer(run_on("local"), "r")
    term.answer(FAILED, "a")
    term.answer(WHY_ABORT, "enough for today")

    assert term.exit_status() == 1
    marks = rundir.marks()
    assert sorted(marks[:3]) == ["h01 deploy", "h02 deploy", "h03 deploy"]
    assert sorted(marks[3:5]) == ["h01 after", "h03 after"]
    timeline = report(rundir, run_id(term))
    deviations = timeline.split("## Deviations")[1]
    assert re.search(
        r"step 1 .* on h02: excluded for the rest of the run: disk died, OPS-9", deviations
    )
    assert re.search(
        r"step 1 .* on h01, h02, h03: excluded: h02 .*h02 failure \(exit 1\)", deviations
    )
    assert "| partial |" in timeline


def test_skip_after_some_hosts_succeeded_is_partial_and_excludes_nothing(
    rundir: RunDir, terminal: Start
) -> None:
    sop, _ = write(rundir, "skip")
    term = terminal(sop)

    term.answer(run_on("h01, h02, h03"), "r")
    term.answer(failed("h02", of=3), "s")
    term.answer(WHY_SKIP, "h02 is being rebuilt")
    term.expect("◐ partial: h02 is being rebuilt")
    term.answer(run_on("h01, h02, h03"), "r")
    term.answer(run_on("local"), "s")
    term.answer(WHY_SKIP, "nothing to tidy")

    assert term.exit_status() == 0
    assert sorted(rundir.marks()) == [
        "h01 after",
        "h01 deploy",
        "h02 after",
        "h02 deploy",
        "h03 after",
        "h03 deploy",
    ]
