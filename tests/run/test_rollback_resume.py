"""A run paused inside its rollback goes on with the rollback when resumed: the rollback steps
done before stay done, the failed step is not run again, and nothing after it runs. The
`rollback-started` record names the step the rollback was chosen at; the recap says so."""

from __future__ import annotations

from pathlib import Path

import pytest

from sop import events as ev
from sop.audit.actions import Action
from sop.audit.reader import read_run
from sop.run.launch import Launched
from sop.run.testing import Recorder

from .test_pause import go_on, start

CALLER = """\
sop: 1
id: caller
title: Caller
owner: team
reviewed: 2026-11-01
steps:
  - id: one
    run: echo one >> {d}/ran
  - id: nested
    call: callee
  - id: two
    run: echo two >> {d}/ran; exit {fail}
  - id: three
    run: echo three >> {d}/ran
rollback:
  - id: undo-one
    run: echo undo-one >> {d}/ran
  - id: undo-all
    run: echo undo-all >> {d}/ran
"""
CALLEE = """\
sop: 1
id: callee
title: Callee
owner: team
reviewed: 2026-11-01
steps:
  - id: inner
    run: echo inner >> {d}/ran; exit {fail}
rollback:
  - id: undo-inner
    run: echo undo-inner >> {d}/ran
"""
RUN = ("choose", "Run on local?", "r")
QUIT = ("choose", "Run on local?", "q")
ROLLBACK = ("choose", "What now?", "b")


def write(tmp_path: Path, *, inner_fails: bool) -> Path:
    (tmp_path / "callee.yaml").write_text(CALLEE.format(d=tmp_path, fail=int(inner_fails)))
    path = tmp_path / "caller.yaml"
    path.write_text(CALLER.format(d=tmp_path, fail=0 if inner_fails else 4))
    return path


@pytest.fixture(autouse=True)
def keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOP_AUDIT_KEYS", str(tmp_path / "keys"))


def ran(tmp_path: Path) -> list[str]:
    return (tmp_path / "ran").read_text().split()


def rollbacks(launched: Launched) -> list[tuple[str, str, bool]]:
    assert launched.run_dir is not None
    return [
        (e.number, e.reason, e.resumed)
        for e in read_run(launched.run_dir)
        if e.action == Action.ROLLBACK_STARTED
    ]


def recap_notes(recorder: Recorder, kind: str) -> list[str]:
    return [f"{n.number}: {n.text}" for n in recorder.of(ev.Recap)[0].notes if n.kind == kind]


def test_quit_inside_the_rollback_resumes_with_the_rollback_step_it_quit_at(
    tmp_path: Path,
) -> None:
    path = write(tmp_path, inner_fails=False)
    paused = start(path, RUN, RUN, RUN, ROLLBACK, RUN, QUIT)  # one, inner, two; R1; quit at R2
    assert paused.result.outcome == "paused"
    assert ran(tmp_path) == ["one", "inner", "two", "undo-one"]

    resumed, recorder = go_on(path, paused.result.run_id, RUN)  # R2 only: two is not run again
    assert resumed.result.outcome == "rolled-back"
    assert ran(tmp_path) == ["one", "inner", "two", "undo-one", "undo-all"]
    assert rollbacks(resumed) == [("3", "local: exit 4", False), ("3", "local: exit 4", True)]
    assert recap_notes(recorder, "rollback") == [
        "3: rollback chosen (local: exit 4): resume goes on with it"
    ]
    assert recap_notes(recorder, "paused") == ["R2: quit at step R2 (undo-all)"]
    started = recorder.of(ev.RollbackStarted)
    assert [(e.step.number if e.step else "", e.resumed) for e in started] == [("3", True)]


def test_a_rollback_paused_in_a_called_sop_goes_on_there_then_with_the_callers(
    tmp_path: Path,
) -> None:
    path = write(tmp_path, inner_fails=True)
    paused = start(path, RUN, RUN, ROLLBACK, QUIT)  # one, inner fails; quit at 2.R1
    assert ran(tmp_path) == ["one", "inner"]

    again, _ = go_on(path, paused.result.run_id, RUN, RUN, QUIT)  # 2.R1, R1; quit at R2
    assert again.result.outcome == "paused"
    assert ran(tmp_path) == ["one", "inner", "undo-inner", "undo-one"]

    last, recorder = go_on(path, paused.result.run_id, RUN)
    assert last.result.outcome == "rolled-back"
    assert ran(tmp_path) == ["one", "inner", "undo-inner", "undo-one", "undo-all"]
    assert rollbacks(last) == [
        ("2.1", "local: exit 1", False),  # the callee's, chosen at its step 2.1
        ("2.1", "local: exit 1", True),  # resumed: the callee's again, then the caller's
        ("2.1", "local: exit 1", False),
        ("2.1", "local: exit 1", True),  # the callee's, all done; the caller's, at R2
        ("2.1", "local: exit 1", True),
    ]
    assert recap_notes(recorder, "rollback") == [
        "2.1: rollback chosen (local: exit 1): resume goes on with it",
        "2.1: rollback chosen (local: exit 1): resume goes on with it",
    ]
