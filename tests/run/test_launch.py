"""Starting a run from plain values: `run_or_resume` offers to resume an unfinished run of the
same SOP before it starts a new one."""

from __future__ import annotations

from pathlib import Path

import pytest

from sop.audit.runs import list_runs
from sop.events import SystemClock
from sop.run.launch import RunRequest, launch, run_or_resume, unfinished_run
from sop.run.options import RunOptions
from sop.run.testing import Recorder, ScriptedPrompter
from tests.conftest import MINIMAL


@pytest.fixture
def request_(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> RunRequest:
    monkeypatch.setenv("SOP_AUDIT_KEYS", str(tmp_path / "keys"))
    path = tmp_path / "minimal.yaml"
    path.write_text(MINIMAL)
    return RunRequest(
        sop=str(path), state_dir=tmp_path / "state", options=RunOptions(operator="tester")
    )


def cut_before_the_end(run_dir: Path) -> None:
    """The log as a crash before `run-finished` leaves it."""
    log = run_dir / "audit.jsonl"
    lines = log.read_bytes().splitlines(keepends=True)
    end = next(i for i, line in enumerate(lines) if b'"action":"run-finished"' in line)
    log.write_bytes(b"".join(lines[:end]))


def test_a_new_run_after_the_responder_declines_to_resume_the_unfinished_one(
    request_: RunRequest,
) -> None:
    yes = RunRequest(request_.sop, state_dir=request_.state_dir, options=RunOptions(yes=True))
    first = launch(yes, prompter=None, asker=None, sinks=[], clock=SystemClock())
    assert first.run_dir is not None and unfinished_run(request_) is None
    cut_before_the_end(first.run_dir)
    last = unfinished_run(request_)
    assert last is not None and last.run_id == first.result.run_id
    prompter = ScriptedPrompter(
        ("choose", "did not finish (crashed). Resume it?", "n"), ("choose", "Run on local?", "r")
    )

    second = run_or_resume(
        request_, prompter=prompter, asker=None, sinks=[Recorder()], clock=SystemClock()
    )

    assert prompter.asked[0] == (
        "choose",
        f"Run {last.run_id} of minimal (started {last.started} by {last.operator}) "
        "did not finish (crashed). Resume it?",
    )
    assert second.result.outcome == "success" and second.result.run_id != first.result.run_id
    assert request_.state_dir is not None
    assert [(r.status, r.detail) for r in list_runs(request_.state_dir)] == [
        ("crashed", ""),
        ("finished", "success"),
    ]


def test_no_offer_without_a_responder(request_: RunRequest) -> None:
    yes = RunRequest(request_.sop, state_dir=request_.state_dir, options=RunOptions(yes=True))
    first = launch(yes, prompter=None, asker=None, sinks=[], clock=SystemClock())
    assert first.run_dir is not None
    cut_before_the_end(first.run_dir)

    second = run_or_resume(yes, prompter=None, asker=None, sinks=[], clock=SystemClock())

    assert second.result.run_id != first.result.run_id
