"""Stopping is pausing, in a real terminal: [q]uit, Ctrl-C and Ctrl-D at a prompt pause the run,
`sop resume` opens with a recap and goes on where it paused; abort ends it for good; `sop runs`
tells live, paused, crashed, aborted, finished and drill runs apart."""

from __future__ import annotations

import getpass
import os
import re
import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from ..integration.rundir import RunDir
from .session import DONE, WHY_ABORT, Terminal, failed, run_on, running, wait_until

Start = Callable[..., Terminal]

HEADER = """\
sop: 1
id: {id}
title: Test
owner: team
reviewed: 2026-11-01
"""

STEPS = """\
steps:
  - id: look
    title: Look at the graphs
    prose: Which mount is full?
    ask:
      mount: {help: Mount that is full}
      password: {help: Console password, secret: true}
  - id: clean
    title: Clean up
    run: "@MARK@ clean {{ mount }}"
  - id: tell
    title: Tell the channel
    run: "@MARK@ tell"
"""
PASSWORD = "console-password-5678"
ME = getpass.getuser()  # the operator sop records
RUN_ID = re.compile(r"\brun (\d{8}T\d{6}-[0-9a-f]{8})\b")


def write(rundir: RunDir, sop_id: str, body: str = STEPS) -> Path:
    return rundir.write_sop(HEADER.format(id=sop_id) + body, f"{sop_id}.yaml")


def run_id(term: Terminal) -> str:
    found = RUN_ID.search(term.transcript)
    assert found, term.transcript
    return found[1]


def runs(rundir: RunDir) -> dict[str, tuple[str, str, str, str]]:
    """`sop runs`: run id -> (SOP, operator, kind, status); no incident is given."""
    listing = rundir.sop(["runs"])
    assert listing.returncode == 0, listing.stderr
    rows = [re.split(r"  +", line) for line in listing.stdout.splitlines()[1:]]
    return {run: (sop, operator, kind, status) for run, sop, _, operator, kind, status in rows}


def resume(rundir: RunDir, run: str) -> Terminal:
    return Terminal.spawn(rundir.resume_args(run), cwd=rundir.path, env=rundir.env())


def answer_the_prose_step(term: Terminal) -> None:
    term.answer(DONE, "d")
    term.answer("Mount that is full: ", "/var")
    term.answer("Console password: ", PASSWORD)


@pytest.mark.parametrize(
    ("how", "code", "said"),
    [("q", 4, "quit"), ("ctrl-c", 130, "Ctrl-C"), ("ctrl-d", 4, "Ctrl-D (end of input)")],
)
def test_a_paused_run_resumes_at_the_step_where_it_paused_after_a_recap(
    rundir: RunDir, terminal: Start, how: str, code: int, said: str
) -> None:
    term = terminal(write(rundir, "pause"))
    answer_the_prose_step(term)
    term.expect(run_on("local"))
    if how == "q":
        term.child.sendline("q")
    elif how == "ctrl-c":
        term.interrupt_prompt()
    else:
        term.end_input()

    assert term.exit_status() == code
    run = run_id(term)
    assert f"{said} at step 2 (clean). Nothing is finished" in term.transcript
    assert f"resume with: sop resume {run}" in term.transcript
    assert rundir.marks() == []
    assert runs(rundir) == {run: ("pause", ME, "run", f"paused: {said} at step 2 (clean)")}

    resumed = resume(rundir, run)
    try:
        resumed.expect(run_on("local"))  # at the step where it paused: step 1 stays done
        recap = resumed.transcript.split("Recap: so far", 1)[1].split("Step 2 · Clean up")[0]
        lines = [re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", "TIME", line.rstrip())
                 for line in recap.splitlines()[1:]]  # fmt: skip
        assert lines == [
            f"started TIME by {ME}",
            f"  ✔ done  step 1 · Look at the graphs  {ME}, TIME",
            "Answers",
            f"  step 1 · mount = /var  {ME}, TIME",
            f"  step 1 · password = ********  {ME}, TIME",
            "Pauses and handovers",
            f"  step 2 · {said} at step 2 (clean)  {ME}, TIME",
            "─" * 200,
            "",
        ]
        resumed.child.sendline("r")
        resumed.answer(run_on("local"), "r")
        assert resumed.exit_status() == 0
    finally:
        resumed.close()
    assert rundir.marks() == ["local clean /var", "local tell"]
    assert PASSWORD not in resumed.transcript
    assert runs(rundir)[run][3] == "finished: success"


def test_abort_asks_why_and_the_aborted_run_cannot_be_resumed(
    rundir: RunDir, terminal: Start
) -> None:
    term = terminal(write(rundir, "abort"))
    answer_the_prose_step(term)
    term.answer(run_on("local"), "a")
    term.answer(WHY_ABORT, "paged for the wrong host")
    assert term.exit_status() == 1
    run = run_id(term)
    assert "Run aborted" in term.transcript and "paged for the wrong host" in term.transcript
    assert "resume with" not in term.transcript

    refused = rundir.sop(rundir.resume_args(run, "--yes"))
    assert refused.returncode == 1
    assert refused.stderr.startswith(
        f"sop: error: run {run} was aborted: paged for the wrong host ("
    )
    assert refused.stderr.rstrip().endswith(
        f"by {ME}); an aborted run cannot be resumed: start a new run"
    )
    assert runs(rundir)[run][3] == "aborted: paged for the wrong host"


NAP = """\
steps:
  - id: nap
    title: Nap
    run: "@MARK@ nap; {nap} 30"
  - id: after
    run: "@MARK@ after"
"""


def test_ctrl_c_while_a_command_runs_leaves_the_step_in_doubt_and_the_run_paused(
    rundir: RunDir, terminal: Start, nap: Path
) -> None:
    term = terminal(write(rundir, "nap", NAP.format(nap=nap)))
    term.answer(run_on("local"), "r")
    assert wait_until(lambda: running(f"^{nap} 30")), running(f"^{nap} 30")
    term.interrupt()
    term.expect("The step failed. What now? [r]etry", timeout=10)
    term.interrupt_prompt()
    assert term.exit_status() == 130
    run = run_id(term)
    assert runs(rundir)[run][3] == "paused: Ctrl-C at step 1 (nap)"

    resumed = resume(rundir, run)
    try:
        resumed.expect("In doubt (decided next)")
        resumed.expect(
            "step 1 · Nap: interrupted (Ctrl-C) on local: it may have done part of its work"
        )
        resumed.expect("In doubt: this step started before the interruption and never finished.")
        resumed.answer("In doubt. What now? [m]ark done / [r]un again / [a]bort: ", "a")
        resumed.answer(WHY_ABORT, "the nap is over")
        assert resumed.exit_status() == 1
    finally:
        resumed.close()
    assert rundir.marks() == ["local nap"]
    assert runs(rundir)[run][3] == "aborted: the nap is over"


def test_runs_tells_live_crashed_and_drill_runs_apart(rundir: RunDir, terminal: Start) -> None:
    plain = """\
steps:
  - id: check
    run: "@MARK@ check"
"""
    drill = rundir.sop(["drill", str(write(rundir, "drilled", plain)), "--yes", "--pace", "0"])
    assert drill.returncode == 0, drill.stdout + drill.stderr
    assert list(runs(rundir).values()) == [("drilled", ME, "drill", "finished: success")]

    term = terminal(write(rundir, "killed", plain))
    term.expect(run_on("local"))
    run = run_id(term)
    assert runs(rundir)[run] == ("killed", ME, "run", "live")  # at a prompt: its lock is held

    os.kill(term.child.pid, signal.SIGKILL)
    assert term.exit_status() == 128 + signal.SIGKILL
    assert runs(rundir)[run] == ("killed", ME, "run", "crashed")  # no end record, no lock


ROLLS_BACK = """\
steps:
  - id: clean
    run: "@MARK@ clean"
  - id: breaks
    on: h01
    run: "@MARK@ breaks; exit 3"
  - id: tell
    run: "@MARK@ tell"
rollback:
  - id: restore
    on: h01
    run: "@MARK@ restore"
  - id: reopen
    run: "@MARK@ reopen"
"""


def test_ctrl_c_inside_the_rollback_pauses_it_and_resume_goes_on_with_the_rollback(
    rundir: RunDir, terminal: Start
) -> None:
    term = terminal(write(rundir, "rolls", ROLLS_BACK))
    term.answer(run_on("local"), "r")
    term.answer(run_on("h01"), "r")
    term.answer(failed("h01"), "b")
    term.answer(run_on("h01"), "r")  # R1
    term.expect(run_on("local"))  # R2
    term.interrupt_prompt()

    assert term.exit_status() == 130
    run = run_id(term)
    assert runs(rundir) == {run: ("rolls", ME, "run", "paused: Ctrl-C at step R2 (reopen)")}
    assert rundir.marks() == ["local clean", "h01 breaks", "h01 restore"]

    resumed = resume(rundir, run)
    try:
        resumed.expect(run_on("local"))
        shown = resumed.transcript
        assert "Rolling back\n  step 2 · rollback chosen (h01: exit 3): resume goes on with it" in (
            shown
        )
        assert "Rollback (resumed: the steps done before stay done)" in shown
        assert "Step R2 · " in shown.split("Rollback (resumed")[1]
        assert "Step 2 · " not in shown.split("Recap: so far")[1]  # the failed step stays
        resumed.child.sendline("r")
        assert resumed.exit_status() == 1  # rolled back: the SOP did not succeed
    finally:
        resumed.close()
    assert rundir.marks() == ["local clean", "h01 breaks", "h01 restore", "local reopen"]
    assert runs(rundir)[run][3] == "finished: rolled-back"
