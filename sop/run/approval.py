"""The two-person rule and roles in a run: a step that needs someone other than the operator
(`approval:`, or a `role:` the run was not started with) shows what will run where, records an
approval request bound to exactly that, and waits for an answer through the run's folder
(`sop.audit.approvals`): at a terminal until it comes or the responder pauses (q, Ctrl-C), in an
unattended run up to `--approval-timeout`, then the run pauses. A drill simulates the answer."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import NamedTuple

from sop import events as ev
from sop.audit.approvals import (
    Answer,
    Unreadable,
    account_name,
    binding,
    read_answers,
    why_not,
)
from sop.audit.records import timestamp
from sop.errors import SopError
from sop.model import APPROVAL_ANYONE, Step
from sop.run.options import AwaitingApproval, RunOptions
from sop.run.scope import Stop
from sop.run.services import Services

POLL = 0.5  # seconds between looks at the approvals folder in an unattended run
SIMULATED_APPROVER = "drill"


class Gate(NamedTuple):
    """What a step waits for: an answer stating `role` ("" anyone but the operator); `task`,
    the step's role when the step is someone else's task."""

    role: str
    task: str

    def who(self) -> str:
        if self.task:
            return f"the {self.task} (someone else's task)"
        return f"an approval by the {self.role}" if self.role else "an approval by someone else"


class Verdict(NamedTuple):
    """`go`: the step goes on (False: the responder skipped it after a refusal); `answer`: the
    approval it got (None: it needed none)."""

    go: bool
    answer: ev.ApprovalAnswered | None = None


def gate_of(step: Step, options: RunOptions) -> Gate | None:
    """What `step` waits for in a run of `options`, or None: nobody but its operator."""
    task = step.role if step.role and step.role not in options.roles else ""
    if not step.approval and not task:
        return None
    role = task if step.approval in ("", APPROVAL_ANYONE) else step.approval
    return Gate(role, task)


def await_approval(
    s: Services,
    step: Step,
    ref: ev.StepRef,
    *,
    command: str = "",
    hosts: tuple[str, ...] = (),
    stdin: str | None = None,
) -> Verdict:
    """Wait for the go-ahead `step` needs (none: go at once). Raises Stop (quit, abort, or a
    refusal in an unattended run) and AwaitingApproval (an unattended run waited too long)."""
    gate = gate_of(step, s.options)
    if gate is None:
        return Verdict(True)
    inputs = dict(s.shown_inputs)
    bound = binding(
        run_id=s.run_id,
        step_key=ref.key,
        command=command,
        hosts=hosts,
        stdin=stdin,
        inputs=inputs,
        role=gate.role,
    )
    s.emit(
        ev.ApprovalRequested(
            s.clock.now(), ref, bound, command, hosts, stdin, inputs, gate.role, gate.task
        )
    )
    if s.options.drill is not None:  # a drill rehearses the wait, not the colleague
        answered = ev.ApprovalAnswered(
            s.clock.now(), ref, True, SIMULATED_APPROVER, -1, bound, gate.role, s.clock.now(),
            simulated=True,
        )  # fmt: skip
        s.emit(answered)
        return Verdict(True, answered)
    if s.run_dir is None:
        raise SopError(
            f"step {ref.number} ({step.id}) needs {gate.who()}, and this run keeps no folder "
            "to receive it in"
        )
    seen: set[tuple[int, int]] = set()
    while True:
        answer = _wait(s, step, ref, gate, bound, seen)
        answered = ev.ApprovalAnswered(
            s.clock.now(), ref, answer.approved, answer.approver, answer.approver_id, bound,
            answer.role, answer.given, answer.reason,
        )  # fmt: skip
        s.emit(answered)
        if answer.approved:
            return Verdict(True, answered)
        seen.add(answer.identity)
        refusal = f"refused by {answer.approver}: {answer.reason}"
        if s.options.yes or s.prompter is None:
            raise Stop("failure", f"step {ref.number} ({step.id}) {refusal}")
        choice = s.prompter.choose(
            f"{answer.approver} refused. What now?",
            [("w", "wait again"), ("s", "skip"), ("q", "quit"), ("a", "abort")],
        )
        if choice == "q":
            raise Stop("quit")
        if choice == "a":
            s.abort(ref)
        if choice == "s":
            s.skip(ref, step, refusal)
            return Verdict(False, answered)


def _wait(
    s: Services, step: Step, ref: ev.StepRef, gate: Gate, bound: str, seen: set[tuple[int, int]]
) -> Answer:
    """The first answer the run believes; each one it does not is recorded once, and ignored."""
    assert s.run_dir is not None
    run_dir = s.run_dir
    operator = os.geteuid()
    got: list[Answer] = []

    def ready() -> bool:
        for found in read_answers(run_dir, ref.key):
            if found.identity in seen:
                continue
            if isinstance(found, Answer) and _refused_before(s, ref, found):
                seen.add(found.identity)  # shown and recorded before the resume: not again
                continue
            if isinstance(found, Unreadable):
                why, given = found.reason, None
            else:
                why, given = (
                    why_not(
                        found,
                        run_id=s.run_id,
                        step_key=ref.key,
                        bound=bound,
                        role=gate.role,
                        operator_id=operator,
                    ),
                    found.given,
                )
                if not why:
                    got.append(found)
                    return True
            seen.add(found.identity)
            if _rejected_before(s, ref, found, why, given):
                continue  # shown and recorded before the resume: not again
            s.emit(ev.ApprovalRejected(s.clock.now(), ref, found.file, why, *_who(found), given))
        return False

    if ready():
        return got[0]
    command = f"sop approve {s.run_id} {step.id}" + (f" --role {gate.role}" if gate.role else "")
    if s.options.yes or s.prompter is None:
        _unattended(s, ref, gate, command, ready)
    elif not s.prompter.wait(f"Waiting for {gate.who()}: {command}", ready):
        raise Stop("quit")
    return got[0]


def _unattended(
    s: Services, ref: ev.StepRef, gate: Gate, command: str, ready: Callable[[], bool]
) -> None:
    deadline = s.clock.monotonic() + s.options.approval_timeout
    while not ready():
        s.remind()  # an update due meanwhile: recorded as none given, and the wait goes on
        if s.clock.monotonic() >= deadline:
            raise AwaitingApproval(
                f"waited {s.options.approval_timeout:g}s for {gate.who()} at step {ref.number} "
                f"({ref.id}): `{command}` from another account, then sop resume {s.run_id}"
            )
        s.clock.sleep(POLL)


def _refused_before(s: Services, ref: ev.StepRef, found: Answer) -> bool:
    """Whether `found` is a refusal the run recorded (and showed) before it was resumed."""
    recorded = (ref.key, str(found.approver_id), found.binding, timestamp(found.given))
    return not found.approved and recorded in s.refusals


def _rejected_before(
    s: Services, ref: ev.StepRef, found: Answer | Unreadable, why: str, given: float | None
) -> bool:
    """Whether the run recorded (and showed) `found` as not accepted, for `why`, before it was
    resumed: the same file, owner and reason, and for an answer sop wrote, the same time."""
    when = "" if given is None else timestamp(given)
    return (ref.key, found.file, str(found.approver_id), when, why) in s.rejections


def _who(found: Answer | Unreadable) -> tuple[str, int]:
    if isinstance(found, Answer):
        return found.approver, found.approver_id
    return (account_name(found.approver_id) if found.approver_id >= 0 else ""), found.approver_id
