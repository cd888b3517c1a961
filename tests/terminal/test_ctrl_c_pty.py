"""Ctrl-C escalates while a step runs (sop/run/fanout.py): the first sends TERM, the second
(or the grace period) KILL, the third stops waiting and leaves the hosts still running in doubt.
Real commands that ignore TERM, locally and on the sshd fixture hosts, in a real terminal."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from ..integration.rundir import RunDir
from .session import Terminal, run_on, running, wait_until

Start = Callable[..., Terminal]

HEADER = """\
sop: 1
id: {id}
title: Test
owner: team
reviewed: 2026-11-01
tasks: tasks.py
"""

# the command ignores TERM, and so does `nap` (an ignored signal stays ignored across exec)
STUBBORN_RUN = """\
steps:
  - id: nap
    on: {target}
    run: "trap '' TERM; @MARK@ nap; {nap} 30; @MARK@ woke"
  - id: after
    run: "@MARK@ after"
"""

# a script step: its own `sh` runs it (`set -eu`), the same escalation reaches it
STUBBORN_SCRIPT = """\
steps:
  - id: nap
    on: {target}
    script: |
      trap '' TERM
      @MARK@ nap
      {nap} 30
      @MARK@ woke
  - id: after
    run: "@MARK@ after"
"""

STUBBORN_TASK = """\
steps:
  - id: nap
    on: {target}
    task: mark
    args: {{mark: "trap '' TERM; @MARK@ nap; {nap}", name: "30;", words: "@MARK@ woke"}}
  - id: after
    run: "@MARK@ after"
"""

# `setsid` takes the nap out of the command's process group, holding its output open: no
# signal to the group ends it, so only the third Ctrl-C gives the responder control back
ESCAPED = """\
steps:
  - id: nap
    on: {target}
    run: "trap '' TERM; @MARK@ nap; setsid {nap} 30 & wait"
  - id: after
    run: "@MARK@ after"
"""

MENU = "The step failed. What now? [r]etry"
HEADER_RUN = re.compile(r"\brun (\d{8}T\d{6}-[0-9a-f]{8})\b")


def write(rundir: RunDir, sop_id: str, body: str) -> Path:
    return rundir.write_sop(HEADER.format(id=sop_id) + body, f"{sop_id}.yaml")


def naps(nap: Path) -> list[str]:
    return running(f"^{nap} 30")


@pytest.mark.parametrize(
    ("body", "target"),
    [
        (STUBBORN_RUN, "h01"),
        (STUBBORN_RUN, "local"),
        (STUBBORN_SCRIPT, "h01"),
        (STUBBORN_SCRIPT, "local"),
        (STUBBORN_TASK, "local"),
        (STUBBORN_TASK, "h01"),
    ],
    ids=["remote-run", "local-run", "remote-script", "local-script", "local-task", "remote-task"],
)
def test_a_command_that_ignores_term_is_killed_at_the_second_ctrl_c(
    rundir: RunDir, terminal: Start, nap: Path, body: str, target: str
) -> None:
    term = terminal(write(rundir, "stubborn", body.format(target=target, nap=nap)))
    term.answer(run_on(target, task="task:" in body), "r")
    assert wait_until(lambda: len(naps(nap)) == 1), naps(nap)

    term.interrupt()
    term.expect(f"Ctrl-C: sent TERM to the commands still running on {target}. KILL in 5s")
    time.sleep(1)
    assert len(naps(nap)) == 1  # TERM ignored

    started = time.monotonic()
    term.interrupt()
    term.expect(f"sent KILL to the commands still running on {target}.")
    term.expect(MENU, timeout=5)
    assert time.monotonic() - started < 4
    assert wait_until(lambda: not naps(nap), timeout=2), naps(nap)
    assert rundir.marks() == [f"{target} nap"]

    term.interrupt_prompt()  # at the menu
    assert term.exit_status() == 130
    assert rundir.marks() == [f"{target} nap"]


def test_without_a_second_ctrl_c_kill_follows_after_the_grace_period(
    rundir: RunDir, terminal: Start, nap: Path
) -> None:
    term = terminal(write(rundir, "grace", STUBBORN_RUN.format(target="h01", nap=nap)))
    term.answer(run_on("h01"), "r")
    assert wait_until(lambda: len(naps(nap)) == 1), naps(nap)

    started = time.monotonic()
    term.interrupt()
    term.expect("sent KILL to the commands still running on h01.", timeout=10)
    assert 4.5 < time.monotonic() - started < 8
    term.expect(MENU, timeout=5)
    assert wait_until(lambda: not naps(nap), timeout=2), naps(nap)
    term.interrupt_prompt()
    assert term.exit_status() == 130


@pytest.mark.parametrize("target", ["h01", "local"])
def test_the_third_ctrl_c_stops_waiting_leaving_the_host_in_doubt_for_resume(
    rundir: RunDir, terminal: Start, nap: Path, target: str
) -> None:
    term = terminal(write(rundir, "escaped", ESCAPED.format(target=target, nap=nap)))
    term.answer(run_on(target), "r")
    assert wait_until(lambda: len(naps(nap)) == 1), naps(nap)

    term.interrupt()
    term.expect("sent TERM")
    term.interrupt()
    term.expect(f"sent KILL to the commands still running on {target}.")
    started = time.monotonic()
    term.interrupt()
    term.expect(f"stopped waiting for {target}: in doubt")
    assert term.exit_status(timeout=5) == 130
    assert time.monotonic() - started < 3
    assert len(naps(nap)) == 1  # it escaped every signal: in doubt is the truth
    found = HEADER_RUN.search(term.transcript)
    assert found, term.transcript
    run = found[1]
    assert f"resume with: sop resume {run}" in term.transcript
    assert "Run interrupted" not in term.transcript  # unfinished, not finished as interrupted

    verified = rundir.sop(["audit", "verify", run])
    assert verified.returncode == 0, verified.stdout + verified.stderr

    resumed = Terminal.spawn(rundir.resume_args(run), cwd=rundir.path, env=rundir.env())
    try:
        resumed.expect("In doubt: this step started before the interruption and never finished.")
        resumed.expect(
            f"the responder stopped waiting for {target}: "
            "their commands may still be running (in doubt)"
        )
        resumed.answer("In doubt. What now? [m]ark done / [r]un again / [a]bort: ", "m")
        resumed.answer("Why mark it done?: ", "killed the nap by hand")
        resumed.expect(run_on("local"))
        resumed.child.sendline("r")
        assert resumed.exit_status() == 0
    finally:
        resumed.close()
    assert rundir.marks() == [f"{target} nap", "local after"]
