"""The two-person rule in the runner: a step with `approval` (or of a role the run does not
hold) records a request bound to what will run, waits, and believes only an answer written by
someone other than the operator, for this run, this step and exactly this command, hosts and
inputs. (Answers by another account: the test runs as root and gives the file to uid OTHER.)
Two real users against the real CLI: tests/integration/test_approval.py."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sop import events as ev
from sop.audit.approvals import (
    ANSWER_MODE,
    ApprovalError,
    Request,
    binding,
    check_approver,
    read_answers,
    why_not,
    write_answer,
)
from sop.audit.records import timestamp
from sop.events import Outcome, PauseHow, StatusHow
from sop.run.scope import Restored
from sop.run.testing import FakeClock, Recorder, ScriptedPrompter, run_sop, write_sop

OTHER = 4242  # the approver's uid (no such account: named "uid 4242")

GATED = """\
sop: 1
id: gated
title: Gated
owner: team
reviewed: 2026-11-01
inputs:
  host: {{default: web1}}
steps:
  - id: revoke
    approval: required
    run: echo revoked {{{{ host }}}} > {out}
  - id: tell
    role: comms
    prose: Tell the customers.
"""

BOUND = dict(
    run_id="r1", step_key="revoke", command="rm -rf /x", hosts=["web1"], stdin=None,
    inputs={"host": "web1"}, role="",
)  # fmt: skip


def test_the_binding_covers_every_part_of_what_is_approved() -> None:
    base = binding(**BOUND)  # type: ignore[arg-type]
    assert len(base) == 64 and base == binding(**BOUND)  # type: ignore[arg-type]
    changes = {
        "run_id": "r2",
        "step_key": "revoke@2",
        "command": "rm -rf /y",
        "hosts": ["web1", "web2"],
        "stdin": "",
        "inputs": {"host": "web2"},
        "role": "ir-lead",
    }
    for key, value in changes.items():
        assert binding(**{**BOUND, key: value}) != base, key  # type: ignore[arg-type]
    # inputs in another order are the same inputs; a command is compared byte for byte
    assert binding(**{**BOUND, "inputs": {"b": "1", "a": "2"}}) == binding(  # type: ignore[arg-type]
        **{**BOUND, "inputs": {"a": "2", "b": "1"}}  # type: ignore[arg-type]
    )
    assert binding(**{**BOUND, "command": "rm -rf /x "}) != base  # type: ignore[arg-type]


def _run_dir(tmp_path: Path) -> Path:
    run_dir = tmp_path / "state" / "runs" / "r1"
    run_dir.mkdir(parents=True, mode=0o700)
    (tmp_path / "state").chmod(0o700)
    (tmp_path / "state" / "runs").chmod(0o700)
    return run_dir


def _give(run_dir: Path, step: str, bound: str, *, approved: bool = True, uid: int = OTHER,
          run_id: str = "", role: str = "", reason: str = "") -> Path:  # fmt: skip
    path = write_answer(
        run_dir, run_id=run_id or run_dir.name, step_key=step, bound=bound, approved=approved,
        role=role, given=1_700_000_000.0, reason=reason,
    )  # fmt: skip
    os.chown(path, uid, -1)
    return path


def test_an_answer_is_believed_only_from_someone_else_for_exactly_this(tmp_path: Path) -> None:
    run_dir = _run_dir(tmp_path)
    bound = binding(**{**BOUND, "run_id": "r1"})  # type: ignore[arg-type]
    path = _give(run_dir, "revoke", bound)
    assert os.stat(path).st_mode & 0o777 == ANSWER_MODE
    (found,) = read_answers(run_dir, "revoke")
    judge = dict(run_id="r1", step_key="revoke", bound=bound, role="", operator_id=os.geteuid())
    assert why_not(found, **judge) == ""  # type: ignore[arg-type]
    assert why_not(found, **{**judge, "operator_id": OTHER}) == (  # type: ignore[arg-type]
        "uid 4242 is the operator of this run: the two-person rule needs someone else"
    )
    assert (
        why_not(found, **{**judge, "bound": "0" * 64})
        == (  # type: ignore[arg-type]
            f"it approves something other than what will run (its binding {bound[:12]} is not "
            "000000000000: a command, host or input differs)"
        )
    )
    assert why_not(found, **{**judge, "step_key": "revoke@2"}) == (  # type: ignore[arg-type]
        "it answers another request (run r1, step revoke)"
    )
    assert why_not(found, **{**judge, "role": "ir-lead"}) == (  # type: ignore[arg-type]
        "it states no role; this step needs ir-lead"
    )


def test_an_answer_someone_else_could_have_written_is_no_answer(tmp_path: Path) -> None:
    run_dir = _run_dir(tmp_path)
    path = _give(run_dir, "revoke", "b" * 64)
    path.chmod(0o664)  # the group could have changed what its owner wrote
    (found,) = read_answers(run_dir, "revoke")
    assert (found.file, found.reason) == (  # type: ignore[union-attr]
        path.name,
        "writable by others than its owner, so its owner may not have written it",
    )
    path.unlink()
    (run_dir / "approvals" / "elsewhere").mkdir()
    os.symlink(run_dir / "approvals" / "elsewhere", run_dir / "approvals" / "revoke.1.json")
    (found,) = read_answers(run_dir, "revoke")
    assert found.reason == "cannot be opened (Too many levels of symbolic links)"  # type: ignore[union-attr]


def test_the_operator_cannot_answer_their_own_request() -> None:
    request = Request(
        "r1", "gated", "revoke", "revoke", "1", "Revoke", "rm x", ("web1",), None, {}, "",
        "", "alice", str(os.geteuid()), "2026-11-01T00:00:00.000Z",
    )  # fmt: skip
    with pytest.raises(ApprovalError) as caught:
        check_approver(request, "")
    assert str(caught.value).endswith(
        "are the operator of run r1: the two-person rule needs someone else to answer"
    )


def _gated(tmp_path: Path) -> tuple[Path, Path, Path]:
    out = tmp_path / "out"
    return write_sop(tmp_path, GATED.format(out=out)), _run_dir(tmp_path), out


def _requested(recorder: object, step: str) -> ev.ApprovalRequested:
    (request,) = [e for e in recorder.of(ev.ApprovalRequested) if e.step.id == step]  # type: ignore[attr-defined]
    return request  # type: ignore[no-any-return]


def _approve_revoke(run_dir: Path, out: Path, **answer: object) -> None:
    """The answer of someone who was shown the request (and so computed this binding)."""
    _give(run_dir, "revoke", binding(
        run_id="r1", step_key="revoke", command=f"echo revoked {'web1'} > {out}",
        hosts=["local"], stdin=None, inputs={"host": "web1"}, role="",
    ), **answer)  # type: ignore[arg-type]  # fmt: skip


def _done_by_comms(run_dir: Path) -> None:
    _give(run_dir, "tell", binding(
        run_id="r1", step_key="tell", command="", hosts=[], stdin=None,
        inputs={"host": "web1"}, role="comms",
    ), role="comms")  # fmt: skip


def test_an_approved_step_runs_and_both_people_are_recorded(tmp_path: Path) -> None:
    path, run_dir, out = _gated(tmp_path)
    prompter = ScriptedPrompter(
        ("wait", "Waiting for an approval by someone else: sop approve r1 revoke",
         lambda: _approve_revoke(run_dir, out)),
        ("choose", "Run on local?", "r"),
        ("wait", "Waiting for the comms (someone else's task): sop approve r1 tell --role comms",
         lambda: _done_by_comms(run_dir)),
    )  # fmt: skip
    result, recorder, _ = run_sop(path, prompter=prompter, run_dir=run_dir, run_id="r1")
    assert result.outcome == Outcome.SUCCESS
    assert out.read_text() == "revoked web1\n"
    answered = recorder.of(ev.ApprovalAnswered)
    assert [(a.step.id, a.approved, a.approver, a.approver_id, a.role) for a in answered] == [
        ("revoke", True, "uid 4242", OTHER, ""),
        ("tell", True, "uid 4242", OTHER, "comms"),
    ]
    assert _requested(recorder, "revoke").binding == answered[0].binding
    (done,) = [e for e in recorder.of(ev.StepFinished) if e.step.id == "tell"]
    assert (done.outcome, done.reason) == (Outcome.DONE, "done by uid 4242 as comms")


def test_a_tampered_or_own_answer_is_recorded_and_the_run_waits_on(tmp_path: Path) -> None:
    path, run_dir, out = _gated(tmp_path)
    tampered = _give(run_dir, "revoke", "f" * 64)  # for another command
    tampered.rename(tampered.with_name(f"revoke.{OTHER}.json"))
    _approve_revoke(run_dir, out, uid=os.geteuid())  # the operator's own
    prompter = ScriptedPrompter(("wait", "Waiting for an approval", "q"))
    result, recorder, _ = run_sop(path, prompter=prompter, run_dir=run_dir, run_id="r1")
    assert (result.outcome, result.paused) == (Outcome.PAUSED, PauseHow.QUIT)
    assert not out.exists()
    rejected = sorted((e.file, e.reason.split(" (")[0]) for e in recorder.of(ev.ApprovalRejected))
    assert rejected == [
        ("revoke.0.json", "root is the operator of this run: the two-person rule needs someone else"),
        ("revoke.4242.json", "it approves something other than what will run"),
    ]  # fmt: skip


def test_a_refusal_stops_an_unattended_run_and_is_skipped_with_its_reason(tmp_path: Path) -> None:
    path, run_dir, out = _gated(tmp_path)
    prompter = ScriptedPrompter(
        (
            "wait",
            "Waiting for an approval",
            lambda: _approve_revoke(run_dir, out, approved=False, reason="not during the sale"),
        ),
        ("choose", "uid 4242 refused. What now?", "s"),
        ("wait", "Waiting for the comms", "q"),
    )
    result, recorder, _ = run_sop(path, prompter=prompter, run_dir=run_dir, run_id="r1")
    assert result.paused == PauseHow.QUIT and not out.exists()
    (skip,) = recorder.of(ev.Deviation)
    assert skip.reason == "refused by uid 4242: not during the sale"
    (answered,) = recorder.of(ev.ApprovalAnswered)
    assert (answered.approved, answered.reason) == (False, "not during the sale")


def test_an_unattended_run_waits_its_timeout_then_pauses_saying_for_what(tmp_path: Path) -> None:
    path, run_dir, out = _gated(tmp_path)
    result, recorder, clock = run_sop(
        path, run_dir=run_dir, run_id="r1", yes=True, approval_timeout=60.0
    )
    assert (result.outcome, result.paused, result.exit_code) == (
        Outcome.PAUSED,
        PauseHow.AWAITING_APPROVAL,
        4,
    )
    assert sum(clock.slept) == 60.0 and not out.exists()
    (paused,) = recorder.of(ev.RunPaused)
    assert paused.reason == (
        "--yes waited 60s for an approval by someone else at step 1 (revoke): `sop approve r1 "
        "revoke` from another account, then sop resume r1"
    )


def test_a_drill_simulates_the_approval(tmp_path: Path) -> None:
    from sop.run.options import DrillOptions

    path, _, _ = _gated(tmp_path)
    result, recorder, _ = run_sop(path, yes=True, drill=DrillOptions(pace=0.0))
    assert result.outcome == Outcome.SUCCESS
    assert [(a.step.id, a.simulated, a.approver) for a in recorder.of(ev.ApprovalAnswered)] == [
        ("revoke", True, "drill"),
        ("tell", True, "drill"),
    ]


def test_a_role_the_operator_holds_waits_for_nobody(tmp_path: Path) -> None:
    path, run_dir, out = _gated(tmp_path)
    _approve_revoke(run_dir, out)  # given before the run got there: no wait at all
    prompter = ScriptedPrompter(("choose", "Run on local?", "r"), ("choose", "Done?", "d"))
    result, recorder, _ = run_sop(
        path, prompter=prompter, run_dir=run_dir, run_id="r1", roles=frozenset({"comms"})
    )
    assert result.outcome == Outcome.SUCCESS
    assert [e.step.id for e in recorder.of(ev.ApprovalRequested)] == ["revoke"]


def _resumed_until_approved(path: Path, run_dir: Path, out: Path, restored: Restored) -> Recorder:
    """The run resumed with `restored`: it waits until an approval comes, runs the step, and
    is paused at the next wait. Its recorder."""
    again = ScriptedPrompter(
        ("wait", "Waiting for an approval", lambda: _approve_revoke(run_dir, out)),
        ("choose", "Run on local?", "r"),
        ("wait", "Waiting for the comms", "q"),
    )
    result, recorder, _ = run_sop(
        path, prompter=again, run_dir=run_dir, run_id="r1", restored=restored
    )
    assert result.paused == PauseHow.QUIT and out.read_text() == "revoked web1\n"
    return recorder


def test_a_refusal_shown_before_a_resume_is_not_shown_again(tmp_path: Path) -> None:
    """The responder saw the refusal and paused; the resumed run waits for a new answer (its
    record stays in the log from before), and shows the next one."""
    path, run_dir, out = _gated(tmp_path)
    _approve_revoke(run_dir, out, approved=False, reason="not during the sale")
    first = ScriptedPrompter(("choose", "uid 4242 refused. What now?", "q"))
    result, recorder, _ = run_sop(path, prompter=first, run_dir=run_dir, run_id="r1")
    assert result.paused == PauseHow.QUIT
    (refused,) = recorder.of(ev.ApprovalAnswered)
    restored = Restored(
        refusals=frozenset({("revoke", str(OTHER), refused.binding, timestamp(refused.given))})
    )
    recorder = _resumed_until_approved(path, run_dir, out, restored)
    assert [(a.approved, a.approver) for a in recorder.of(ev.ApprovalAnswered)] == [
        (True, "uid 4242")
    ]
    assert recorder.of(ev.ApprovalRejected) == []


def test_a_refusal_given_anew_after_a_resume_is_shown(tmp_path: Path) -> None:
    path, run_dir, out = _gated(tmp_path)
    bound = binding(
        run_id="r1", step_key="revoke", command=f"echo revoked web1 > {out}", hosts=["local"],
        stdin=None, inputs={"host": "web1"}, role="",
    )  # fmt: skip
    shown = ("revoke", str(OTHER), bound, "2023-11-14T22:13:19.000Z")  # another refusal's time
    _approve_revoke(run_dir, out, approved=False, reason="still no")
    prompter = ScriptedPrompter(("choose", "uid 4242 refused. What now?", "q"))
    result, recorder, _ = run_sop(
        path, prompter=prompter, run_dir=run_dir, run_id="r1",
        restored=Restored(refusals=frozenset({shown})),
    )  # fmt: skip
    assert result.paused == PauseHow.QUIT
    assert [(a.approved, a.reason) for a in recorder.of(ev.ApprovalAnswered)] == [
        (False, "still no")
    ]


def test_a_rejected_answer_shown_before_a_resume_is_not_shown_again(tmp_path: Path) -> None:
    """The responder saw that the operator's own answer (and a tampered one) did not count,
    and paused; the resumed run does not show them again (their records stay in the log), and
    goes on with the approval given meanwhile."""
    path, run_dir, out = _gated(tmp_path)
    tampered = _give(run_dir, "revoke", "f" * 64)
    tampered.rename(tampered.with_name(f"revoke.{OTHER + 1}.json"))
    tampered.with_name(f"revoke.{OTHER + 1}.json").chmod(0o664)  # an answer nobody may trust
    _approve_revoke(run_dir, out, uid=os.geteuid())  # the operator's own
    first = ScriptedPrompter(("wait", "Waiting for an approval", "q"))
    result, recorder, _ = run_sop(path, prompter=first, run_dir=run_dir, run_id="r1")
    assert result.paused == PauseHow.QUIT
    shown = recorder.of(ev.ApprovalRejected)
    assert sorted((e.file, e.given) for e in shown) == [
        ("revoke.0.json", 1_700_000_000.0),
        (f"revoke.{OTHER + 1}.json", None),
    ]
    restored = Restored(
        rejections=frozenset(
            (
                "revoke",
                e.file,
                str(e.approver_id),
                "" if e.given is None else timestamp(e.given),
                e.reason,
            )
            for e in shown
        )
    )
    recorder = _resumed_until_approved(path, run_dir, out, restored)
    assert recorder.of(ev.ApprovalRejected) == []


def test_a_rejected_answer_given_anew_after_a_resume_is_shown(tmp_path: Path) -> None:
    """The operator answers their own step again after the resume (a new time), and a file
    shown before as not an answer is now one for something else: both are shown."""
    path, run_dir, out = _gated(tmp_path)
    tampered = _give(run_dir, "revoke", "f" * 64)
    tampered.rename(tampered.with_name(f"revoke.{OTHER}.json"))
    own = write_answer(
        run_dir, run_id="r1", step_key="revoke", bound="e" * 64, approved=True, role="",
        given=1_700_000_100.0,
    )  # fmt: skip
    operator, other = str(os.geteuid()), str(OTHER)
    before = "2023-11-14T22:13:20.000Z"  # the operator's answer then, at 1_700_000_000
    shown = {
        ("revoke", own.name, operator, before, "root is the operator of this run: the "
         "two-person rule needs someone else"),
        ("revoke", f"revoke.{OTHER}.json", other, "", "not an answer sop wrote"),
    }  # fmt: skip
    prompter = ScriptedPrompter(("wait", "Waiting for an approval", "q"))
    result, recorder, _ = run_sop(
        path, prompter=prompter, run_dir=run_dir, run_id="r1",
        restored=Restored(rejections=frozenset(shown)),
    )  # fmt: skip
    assert result.paused == PauseHow.QUIT and not out.exists()
    assert sorted((e.file, e.reason.split(" (")[0]) for e in recorder.of(ev.ApprovalRejected)) == [
        ("revoke.0.json", "root is the operator of this run: the two-person rule needs someone else"),
        ("revoke.4242.json", "it approves something other than what will run"),
    ]  # fmt: skip


STATUS_GATED = GATED.replace(
    "reviewed: 2026-11-01\n", "reviewed: 2026-11-01\nseverity: sev2\nstatus_updates: {{sev2: 5m}}\n"
)


def test_a_status_update_due_while_waiting_is_asked_and_the_wait_goes_on(tmp_path: Path) -> None:
    out = tmp_path / "out"
    path, run_dir = write_sop(tmp_path, STATUS_GATED.format(out=out)), _run_dir(tmp_path)
    clock = FakeClock()
    prompter = ScriptedPrompter(
        ("wait", "Waiting for an approval", lambda: clock.sleep(301)),  # bob takes his time
        ("text", "Status update for the team", "waiting for bob's go-ahead"),
        ("wait", "Waiting for an approval", lambda: _approve_revoke(run_dir, out)),
        ("choose", "Run on local?", "r"),
        ("wait", "Waiting for the comms", "q"),
    )
    result, recorder, _ = run_sop(
        path, prompter=prompter, run_dir=run_dir, run_id="r1", clock=clock
    )
    assert result.paused == PauseHow.QUIT and out.read_text() == "revoked web1\n"
    (update,) = recorder.of(ev.StatusUpdate)
    assert (update.text, update.how, update.step and update.step.id) == (
        "waiting for bob's go-ahead",
        StatusHow.GIVEN,
        "revoke",
    )
    kinds = [type(e).__name__ for e in recorder.events]
    assert kinds.index("ApprovalRequested") < kinds.index("StatusUpdate")
    assert kinds.index("StatusUpdate") < kinds.index("ApprovalAnswered")


def test_an_unattended_run_records_an_update_missed_while_it_waits(tmp_path: Path) -> None:
    out = tmp_path / "out"
    path, run_dir = write_sop(tmp_path, STATUS_GATED.format(out=out)), _run_dir(tmp_path)
    result, recorder, clock = run_sop(
        path, run_dir=run_dir, run_id="r1", yes=True, approval_timeout=660.0
    )
    assert (result.paused, sum(clock.slept)) == (PauseHow.AWAITING_APPROVAL, 660.0)
    updates = recorder.of(ev.StatusUpdate)
    assert [(u.how, u.text, u.step and u.step.id) for u in updates] == [
        (StatusHow.UNATTENDED, "", "revoke"),
        (StatusHow.UNATTENDED, "", "revoke"),
    ]
    kinds = [type(e).__name__ for e in recorder.events]
    assert kinds.index("ApprovalRequested") < kinds.index("StatusUpdate")
    assert kinds.index("StatusUpdate") < kinds.index("RunPaused")
