"""Stopping is pausing: quit, Ctrl-C and Ctrl-D at a prompt pause a run (a `run-paused` record,
nothing finished), `sop resume` goes on where it paused and opens with a recap; only the end of
the SOP or an abort (with a reason) finishes a run. `sop runs` tells the states apart."""

from __future__ import annotations

from pathlib import Path

import pytest

from sop import events as ev
from sop.audit.actions import Action
from sop.audit.reader import read_run
from sop.audit.runs import list_runs
from sop.audit.state import RunLock
from sop.errors import ExitCode
from sop.events import SystemClock
from sop.run.launch import Launched, RunRequest, launch, resume
from sop.run.options import ConfirmationRequired, DrillOptions, EndOfInput, RunOptions
from sop.run.resume import ResumeError
from sop.run.testing import Recorder, ScriptedPrompter

PAUSABLE = """\
sop: 1
id: pausable
title: Pausable
owner: team
reviewed: 2026-11-01
inputs:
  token: {{help: API token, secret: true, env: PAUSE_TOKEN}}
steps:
  - id: look
    title: Look at the graphs
    prose: Which mount is full?
    ask:
      mount: {{help: Mount}}
      password: {{help: Console password, secret: true}}
  - id: first
    title: Write it down
    run: echo "$SOP_SECRET_TOKEN {{{{ mount }}}}" >> {d}/ran
  - id: second
    run: echo second >> {d}/ran
"""
TOKEN = "token-of-the-day-1234"
PASSWORD = "console-password-5678"


@pytest.fixture
def sop_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SOP_AUDIT_KEYS", str(tmp_path / "keys"))
    monkeypatch.setenv("PAUSE_TOKEN", TOKEN)
    path = tmp_path / "pausable.yaml"
    path.write_text(PAUSABLE.format(d=tmp_path))
    return path


def request(sop_path: Path, operator: str = "alice", **options: object) -> RunRequest:
    return RunRequest(
        sop=str(sop_path),
        state_dir=sop_path.parent / "state",
        options=RunOptions(operator=operator, **options),  # type: ignore[arg-type]
    )


def start(sop_path: Path, *script: tuple[str, str, object], **options: object) -> Launched:
    prompter = ScriptedPrompter(*script)
    launched = launch(
        request(sop_path, **options),
        prompter=prompter,
        asker=None,
        sinks=[Recorder()],
        clock=SystemClock(),
    )
    assert prompter.script == []
    return launched


def go_on(
    sop_path: Path, run_id: str, *script: tuple[str, str, object], operator: str = "alice"
) -> tuple[Launched, Recorder]:
    prompter = ScriptedPrompter(*script)
    recorder = Recorder()
    launched = resume(
        run_id,
        request(sop_path, operator),
        prompter=prompter,
        asker=None,
        sinks=[recorder],
        clock=SystemClock(),
    )
    assert prompter.script == []
    return launched, recorder


def actions(launched: Launched) -> list[str]:
    assert launched.run_dir is not None
    return [e.action for e in read_run(launched.run_dir) if e.action != Action.SEAL]


LOOKED = (
    ("choose", "Done?", "d"),
    ("ask", "Mount", "/var"),
    ("ask", "Console password", PASSWORD),
)


@pytest.mark.parametrize(
    ("answer", "how", "code", "reason"),
    [
        ("q", ev.PauseHow.QUIT, ExitCode.PAUSED, "quit at step 2 (first)"),
        (KeyboardInterrupt(), ev.PauseHow.CTRL_C, ExitCode.INTERRUPTED, "Ctrl-C at step 2 (first)"),
        (
            EndOfInput("end of input"),
            ev.PauseHow.CTRL_D,
            ExitCode.PAUSED,
            "Ctrl-D (end of input) at step 2 (first)",
        ),
    ],
    ids=["quit", "ctrl-c", "ctrl-d"],
)
def test_quit_ctrl_c_and_ctrl_d_pause_the_run_and_resume_goes_on_where_it_paused(
    sop_path: Path, answer: object, how: ev.PauseHow, code: ExitCode, reason: str
) -> None:
    paused = start(sop_path, *LOOKED, ("choose", "Run on local?", answer))

    assert (paused.result.outcome, paused.result.paused) == ("paused", how)
    assert paused.result.exit_code == code
    assert Action.RUN_FINISHED not in actions(paused)
    assert actions(paused)[-1] == Action.RUN_PAUSED
    assert paused.run_dir is not None
    record = read_run(paused.run_dir)[-2]  # the seal follows it
    assert (record.action, record.step_id, record.reason, record.operator) == (
        Action.RUN_PAUSED,
        "first",
        reason,
        "alice",
    )
    assert list_runs(sop_path.parent / "state")[0].shown_status == f"paused: {reason}"
    assert not (sop_path.parent / "ran").exists()

    resumed, _ = go_on(
        sop_path,
        paused.result.run_id,
        ("choose", "Run on local?", "r"),
        ("choose", "Run on local?", "r"),
    )
    assert resumed.result.outcome == "success"
    # the answer given before the pause is used; the secret input is read again (env)
    assert (sop_path.parent / "ran").read_text() == f"{TOKEN} /var\nsecond\n"
    assert list_runs(sop_path.parent / "state")[0].shown_status == "finished: success"


def test_a_paused_run_resumed_and_paused_again_goes_on_again(sop_path: Path) -> None:
    paused = start(sop_path, *LOOKED, ("choose", "Run on local?", "q"))
    run_id = paused.result.run_id
    again, _ = go_on(
        sop_path, run_id, ("choose", "Run on local?", "r"), ("choose", "Run on local?", "q")
    )
    assert again.result.outcome == "paused"
    last, recorder = go_on(sop_path, run_id, ("choose", "Run on local?", "r"))
    assert last.result.outcome == "success"
    pauses = [n.text for n in recorder.of(ev.Recap)[0].notes if n.kind == "paused"]
    assert pauses == ["quit at step 2 (first)", "quit at step 3 (second)"]


def test_abort_asks_why_finishes_the_run_and_resume_refuses_it(sop_path: Path) -> None:
    aborted = start(
        sop_path,
        *LOOKED,
        ("choose", "Run on local?", "a"),
        ("text", "Why abort the run?", " "),  # a reason is required
        ("text", "Why abort the run?", "wrong host paged"),
    )
    assert (aborted.result.outcome, aborted.result.exit_code) == ("aborted", ExitCode.FAILED)
    assert aborted.run_dir is not None
    end = read_run(aborted.run_dir)[-2]
    assert (end.action, end.outcome, end.reason) == (
        Action.RUN_FINISHED,
        "aborted",
        "wrong host paged",
    )
    assert list_runs(sop_path.parent / "state")[0].shown_status == "aborted: wrong host paged"

    with pytest.raises(ResumeError) as refused:
        go_on(sop_path, aborted.result.run_id)
    assert str(refused.value) == (
        f"run {aborted.result.run_id} was aborted: wrong host paged ({end.time} by alice); "
        "an aborted run cannot be resumed: start a new run"
    )


def test_resume_of_a_finished_run_refuses(sop_path: Path) -> None:
    done = start(sop_path, *LOOKED, ("choose", "Run on local?", "r"), ("choose", "Run on", "r"))
    with pytest.raises(ResumeError) as refused:
        go_on(sop_path, done.result.run_id)
    assert str(refused.value) == (
        f"run {done.result.run_id} already finished (success); start a new run"
    )


def unattended(sop_path: Path) -> None:
    """The SOP without its secret question, which only a responder at a prompt may answer."""
    text = sop_path.read_text()
    sop_path.write_text(
        text.replace("      password: {help: Console password, secret: true}\n", "")
    )


def test_yes_stopped_at_a_step_it_may_not_confirm_is_paused(sop_path: Path, tmp_path: Path) -> None:
    unattended(sop_path)
    typed = sop_path.read_text().replace("  - id: second\n", "  - id: second\n    confirm: typed\n")
    sop_path.write_text(typed)
    with pytest.raises(ConfirmationRequired):
        launch(
            request(sop_path, yes=True, answers={"mount": "/srv"}),
            prompter=None,
            asker=None,
            sinks=[],
            clock=SystemClock(),
        )
    (run,) = list_runs(tmp_path / "state")
    assert run.status == "paused"
    assert run.detail.startswith("--yes stopped at step 3 (second): step 3 (second) needs")


def test_the_recap_says_what_was_done_by_whom_and_never_a_secret(sop_path: Path) -> None:
    paused = start(
        sop_path,
        *LOOKED,
        ("choose", "Run on local?", "s"),
        ("text", "Why skip", "disk is fine now"),
        ("choose", "Run on local?", "q"),
    )
    _, recorder = go_on(
        sop_path, paused.result.run_id, ("choose", "Run on local?", "r"), operator="bob"
    )

    (recap,) = recorder.of(ev.Recap)
    kinds = [type(e).__name__ for e in recorder.events]
    assert kinds[kinds.index("Recap") - 1 :][:3] == ["RunStarted", "Recap", "StepRestored"]
    assert recap.operator == "alice"
    assert [(s.number, s.title, s.outcome, s.operator, s.reason) for s in recap.steps] == [
        ("1", "Look at the graphs", "done", "alice", ""),
        ("2", "Write it down", "skipped", "alice", "disk is fine now"),
    ]
    assert [(n.kind, n.number, n.text, n.operator) for n in recap.notes] == [
        ("answer", "1", "mount = /var", "alice"),
        ("answer", "1", "password = ********", "alice"),
        ("deviation", "2", "skip (why: disk is fine now)", "alice"),
        ("paused", "3", "quit at step 3 (second)", "alice"),
    ]
    assert all(s.time for s in recap.steps) and all(n.time for n in recap.notes)
    assert PASSWORD not in repr(recorder.events) and TOKEN not in repr(recorder.events)
    handover = [e for e in recorder.of(ev.AuditNote) if e.action == Action.HANDOVER]
    assert [h.message for h in handover] == ["alice handed the run over to bob"]


def test_runs_tells_live_paused_crashed_aborted_finished_and_drill_runs_apart(
    sop_path: Path,
) -> None:
    state = sop_path.parent / "state"
    unattended(sop_path)
    looked = LOOKED[:2]
    start(sop_path, *looked, ("choose", "Run on local?", "r"), ("choose", "Run on", "r"))
    start(sop_path, *looked, ("choose", "Run on local?", "q"))
    start(sop_path, *looked, ("choose", "Run on local?", "a"), ("text", "Why", "not needed"))
    launch(
        request(sop_path, yes=True, answers={"mount": "/srv"}, drill=DrillOptions(pace=0)),
        prompter=None,
        asker=None,
        sinks=[],
        clock=SystemClock(),
    )
    crashed = start(sop_path, *looked, ("choose", "Run on local?", "q"))
    assert crashed.run_dir is not None
    log = crashed.run_dir / "audit.jsonl"  # as a kill -9 before the pause leaves it
    lines = log.read_bytes().splitlines(keepends=True)
    end = next(i for i, line in enumerate(lines) if b'"action":"run-paused"' in line)
    log.write_bytes(b"".join(lines[:end]))
    live = start(sop_path, *looked, ("choose", "Run on local?", "q"))
    assert live.run_dir is not None

    with RunLock(live.run_dir):  # as the process driving it holds it
        rows = [(r.status, r.drill) for r in list_runs(state)]
    assert rows == [
        ("finished", False),
        ("paused", False),
        ("aborted", False),
        ("finished", True),
        ("crashed", False),
        ("live", False),
    ]
    assert [r.as_row()[5] for r in list_runs(state)][3] == "drill"
