"""Status updates on a clock: when the runner asks for one (at the next question, before the
next step, never during a command), what it records, run time across a pause, drills."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from sop import events as ev
from sop.audit.actions import Action
from sop.audit.reader import AuditEntry
from sop.events import Clock, StatusHow, SystemClock
from sop.executors import Executors, local_executor
from sop.format.loader import load_sop
from sop.run.inputs import resolve_inputs
from sop.run.options import DrillOptions, RunOptions
from sop.run.reminders import status_every
from sop.run.resume import run_time_since_status
from sop.run.runner import Runner
from sop.run.scope import Restored
from sop.run.testing import FakeClock, Recorder, ScriptedPrompter, write_sop

PROSE = """\
sop: 1
id: update
title: Updates
severity: sev2
status_updates: {sev1: 2m, sev2: 5m}
inputs:
  token: {secret: true, env: TOKEN}
steps:
  - prose: One
  - prose: Two
  - prose: Three
  - prose: Four
"""


class SlowResponder(ScriptedPrompter):
    """A responder who takes `pause` seconds of the clock to answer each menu."""

    def __init__(self, clock: FakeClock, pause: float, *script: tuple[str, str, Any]) -> None:
        super().__init__(*script)
        self.clock = clock
        self.pause = pause

    def choose(
        self, prompt: str, choices: Sequence[tuple[str, str]], default: str | None = None
    ) -> str:
        self.clock.t += self.pause
        return super().choose(prompt, choices, default)


def walk(
    path: Path,
    prompter: ScriptedPrompter | None,
    clock: Clock,
    restored: Restored | None = None,
    **options: Any,
) -> Recorder:
    sop = load_sop(path)
    environ = {"TOKEN": "s3cr3t-t0ken"}
    inputs = resolve_inputs(sop, {}, secret_files={}, environ=environ, asker=None)
    recorder = Recorder()
    Runner(
        sop,
        inputs,
        inventory=None,
        prompter=prompter,
        executors=Executors({"local": local_executor}),
        sinks=[recorder],
        clock=clock,
        environ=environ,
        options=RunOptions(operator="tester", **options),
        restored=restored,
    ).run()
    if prompter is not None:
        assert not prompter.script, prompter.script
    return recorder


def test_an_update_is_asked_before_the_question_at_which_it_is_due(tmp_path: Path) -> None:
    """Updates every 2 minutes (sev1), each answer takes a minute: due at the third question,
    asked before it; the next a whole interval after it was given. The text is masked."""
    clock = FakeClock()
    start = clock.t
    prompter = SlowResponder(
        clock,
        60,
        ("choose", "Done?", "d"),
        ("choose", "Done?", "d"),
        ("text", "Status update for the team", "rotating; token s3cr3t-t0ken works"),
        ("choose", "Done?", "d"),
        ("choose", "Done?", "d"),
    )
    recorder = walk(write_sop(tmp_path, PROSE), prompter, clock, severity="sev1")

    [started] = recorder.of(ev.RunStarted)
    assert (started.severity, started.status_every) == ("sev1", 120.0)
    [due] = recorder.of(ev.StatusUpdateDue)
    assert (due.every, due.running, due.step.number) == (120.0, False, "3")
    [update] = recorder.of(ev.StatusUpdate)
    assert update == ev.StatusUpdate(
        start + 120, "rotating; token ******** works", start + 120, 120.0, StatusHow.GIVEN,
        "sev1", update.step,
    )  # fmt: skip
    assert update.step is not None and update.step.number == "3"
    kinds = [type(e).__name__ for e in recorder.events]
    shown = [i for i, kind in enumerate(kinds) if kind == "StepShown"]
    assert shown[1] < kinds.index("StatusUpdate") < shown[2]  # before step 3 is shown


def test_an_empty_answer_is_recorded_as_declined(tmp_path: Path) -> None:
    clock = FakeClock()
    start = clock.t
    prompter = SlowResponder(
        clock,
        150,
        ("choose", "Done?", "d"),
        ("choose", "Done?", "d"),
        ("text", "Status update for the team", "  "),
        ("choose", "Done?", "d"),
        ("choose", "Done?", "d"),
    )
    recorder = walk(write_sop(tmp_path, PROSE), prompter, clock)  # sev2: every 5 minutes
    [update] = recorder.of(ev.StatusUpdate)
    assert (update.text, update.how, update.due, update.every) == (
        "",
        StatusHow.DECLINED,
        start + 300,  # asked then, before the third question
        300.0,
    )


def test_a_severity_the_mapping_does_not_name_asks_for_none(tmp_path: Path) -> None:
    clock = FakeClock()
    prompter = SlowResponder(clock, 3600, *[("choose", "Done?", "d")] * 4)
    recorder = walk(write_sop(tmp_path, PROSE), prompter, clock, severity="sev3")
    assert recorder.of(ev.StatusUpdate) == []
    assert recorder.of(ev.RunStarted)[0].status_every == 0.0


def test_a_resumed_run_keeps_the_schedule(tmp_path: Path) -> None:
    """4 of the 5 minutes had passed before the pause: due a minute into the resumed run."""
    clock = FakeClock()
    prompter = SlowResponder(
        clock,
        60,
        ("choose", "Done?", "d"),
        ("text", "Status update for the team", "still rotating"),
        ("choose", "Done?", "d"),
        ("choose", "Done?", "d"),
        ("choose", "Done?", "d"),
    )
    recorder = walk(
        write_sop(tmp_path, PROSE), prompter, clock, restored=Restored(status_since=240.0)
    )
    [update] = recorder.of(ev.StatusUpdate)
    assert update.step is not None and update.step.number == "2"


def test_a_yes_run_records_that_an_update_was_due_and_none_given(tmp_path: Path) -> None:
    """No prompt: between steps, a long step's command having made it due."""
    path = write_sop(
        tmp_path,
        """\
        sop: 1
        id: unattended
        title: Unattended
        status_updates: 300ms
        steps:
          - id: slow
            run: sleep 0.5; echo slept
            confirm: never
          - id: quick
            run: echo quick
            confirm: never
        """,
    )
    recorder = walk(path, None, SystemClock(), yes=True)
    names = [type(e).__name__ for e in recorder.events]
    due = names.index("StatusUpdateDue")
    assert names.index("StepStarted") < due < names.index("StepFinished")  # said while it ran
    assert recorder.of(ev.StatusUpdateDue)[0].running is True
    [update] = recorder.of(ev.StatusUpdate)
    assert (update.text, update.how, update.every) == ("", StatusHow.UNATTENDED, 0.3)
    assert update.step is not None and update.step.id == "quick"  # before the next step


def test_a_dry_run_asks_for_none(tmp_path: Path) -> None:
    sop = load_sop(write_sop(tmp_path, PROSE))
    assert status_every(sop, RunOptions(dry_run=True)) == 0.0
    assert status_every(sop, RunOptions()) == 300.0


@pytest.mark.parametrize(
    ("drill", "every"),
    [
        (DrillOptions(pace=1.0), 300.0),
        (DrillOptions(pace=0.1), 30.0),
        (DrillOptions(pace=0.0), 0.0),  # nothing waits, so nothing comes due
        (DrillOptions(simulate=False, pace=0.1), 300.0),  # a sandbox drill runs in real time
    ],
)
def test_a_drill_scales_the_interval_by_its_pace(
    tmp_path: Path, drill: DrillOptions, every: float
) -> None:
    sop = load_sop(write_sop(tmp_path, PROSE))
    assert status_every(sop, RunOptions(drill=drill)) == every


def entry(action: str, at: float) -> AuditEntry:
    return AuditEntry(
        action=action, time=f"2023-11-14T22:{int(at) // 60:02d}:{int(at) % 60:02d}.000Z"
    )


def test_run_time_leaves_out_the_time_the_run_was_paused() -> None:
    """Started at 0, update at 60, paused at 100; resumed at 1000 (a handover note first),
    crashed after a record at 1030: 40 + 30 seconds since the update."""
    entries = [
        entry(Action.RUN_STARTED, 0),
        entry(Action.STEP_FINISHED, 50),
        entry(Action.STATUS_UPDATE, 60),
        entry(Action.RUN_PAUSED, 100),
        entry(Action.NOTIFICATION, 103),  # delivered after the pause
        entry(Action.HANDOVER, 1000),
        entry(Action.RUN_RESUMED, 1001),
        entry(Action.STEP_FINISHED, 1031),
    ]
    assert run_time_since_status(entries) == 70.0
    assert run_time_since_status(entries[:2]) == 50.0
    assert run_time_since_status(entries[:4]) == 40.0
