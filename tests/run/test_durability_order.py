"""When the runner waits for the disk: before every command (its record first), and before
anything follows from a host's result, but not once per result in the host's own thread."""

from __future__ import annotations

from pathlib import Path

import pytest

from sop import events as ev
from sop.events import SystemClock
from sop.run.launch import RunRequest, launch
from sop.run.options import RunOptions

TWO_STEPS = """\
sop: 1
id: two
title: Two steps
owner: team
reviewed: 2026-11-01
steps:
  - id: first
    run: echo one
  - id: second
    run: echo two
"""


class Calls:
    """A durable sink that notes every emit and every wait for the disk, in order."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def emit(self, event: ev.Event) -> None:
        self.calls.append(type(event).__name__)

    def settle(self) -> None:
        self.calls.append("settle")


def test_a_command_waits_for_its_record_and_a_result_for_the_next_wait(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOP_AUDIT_KEYS", str(tmp_path / "keys"))
    path = tmp_path / "two.yaml"
    path.write_text(TWO_STEPS)
    calls = Calls()
    assert isinstance(calls, ev.DurableSink)
    launched = launch(
        RunRequest(str(path), state_dir=tmp_path / "state", options=RunOptions(yes=True)),
        prompter=None,
        asker=None,
        sinks=[calls],
        clock=SystemClock(),
    )
    assert launched.result.outcome == "success"
    seen = [c for c in calls.calls if c not in ("Output", "HostStarted")]
    started = [i for i, c in enumerate(seen) if c == "CommandStarted"]
    finished = [i for i, c in enumerate(seen) if c == "HostFinished"]
    assert len(started) == len(finished) == 2
    for i in started:  # the record of a command is on disk before the command
        assert seen[i + 1] == "settle"
    for i in finished:
        assert seen[i + 1] != "settle"  # the host's thread goes on at once
        after = seen[i + 1 :]
        # ... and the disk is waited for before the next command and before the run ends
        next_command = after.index("CommandStarted") if "CommandStarted" in after else len(after)
        assert "settle" in after[:next_command]
    assert seen[-1] == "settle"
