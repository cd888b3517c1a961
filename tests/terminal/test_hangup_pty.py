"""The responder's terminal hangs up (their SSH session to the jump host drops, the laptop
sleeps): the run pauses, resumable, its audit log verified; a command under way runs to its end
as confirmed and nothing after it starts. sop used to die of the SIGHUP, the run listed as
crashed and the hosts' last commands unaccounted for."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from ..integration.rundir import RunDir
from .session import DONE, Terminal, run_on, wait_until

Start = Callable[..., Terminal]

SOP = """\
sop: 1
id: hangup
title: Hang-up
owner: team
reviewed: 2026-11-01
steps:
  - id: look
    title: Look at the graphs
    prose: Which mount is full?
  - id: clean
    title: Clean up
    run: 'echo clean""ing; sleep 1.5; @MARK@ clean'
  - id: tell
    title: Tell the channel
    run: "@MARK@ tell"
"""
RUN_ID = re.compile(r"\b(\d{8}T\d{6}-[0-9a-f]{8})\b")


def hang_up(term: Terminal) -> tuple[int | None, int | None]:
    """Close the terminal as a dropped session does (the kernel sends SIGHUP); how sop ended:
    (exit status, signal)."""
    term.child.ptyproc.fileobj.close()  # the pty's master side: what a dropped session closes
    assert wait_until(lambda: not term.child.isalive(), 60), "sop still runs after the hang-up"
    return term.child.exitstatus, term.child.signalstatus


def listed(rundir: RunDir) -> tuple[str, str]:
    """The only run `sop runs` lists: (run id, status)."""
    listing = rundir.sop(["runs"])
    assert listing.returncode == 0, listing.stderr
    (row,) = listing.stdout.splitlines()[1:]
    found = RUN_ID.search(row)
    assert found, row
    return found[1], re.split(r"  +", row)[-1]


def verified(rundir: RunDir, run: str) -> None:
    checked = rundir.sop(["audit", "verify", run])
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_a_hang_up_at_a_prompt_pauses_the_run_and_nothing_runs(
    rundir: RunDir, terminal: Start
) -> None:
    term = terminal(rundir.write_sop(SOP, "hangup.yaml"))
    term.answer(DONE, "d")
    term.expect(run_on("local"))

    status, signal = hang_up(term)

    assert signal is None, "sop died of the hang-up"
    run, shown = listed(rundir)
    # sop learns of it from the signal or from its next write to the terminal, whichever first
    assert re.fullmatch(
        r"paused: its output could not be written \((the terminal hung up|Input/output error)\)"
        r" at step 2 \(clean\)",
        shown,
    ), shown
    assert rundir.marks() == []
    verified(rundir, run)
    assert status == 141


def test_a_hang_up_while_a_command_runs_lets_it_finish_and_pauses_before_the_next(
    rundir: RunDir, terminal: Start, tmp_path: Path
) -> None:
    term = terminal(rundir.write_sop(SOP, "hangup.yaml"))
    term.answer(DONE, "d")
    term.answer(run_on("local"), "r")
    term.expect("cleaning")  # the command is under way (its first line of output)

    status, signal = hang_up(term)

    assert signal is None, "sop died of the hang-up"
    run, shown = listed(rundir)
    assert shown.startswith("paused: ") and "hung up" in shown, shown
    assert rundir.marks() == ["local clean"]  # confirmed, so it ran to its end; tell did not
    verified(rundir, run)
    assert status == 141
    resumed = rundir.sop(rundir.resume_args(run, "--yes"))
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert rundir.marks() == ["local clean", "local tell"]
