"""A run's state outside the walk: what resume restores, how variables are saved (secrets
never, the rest redacted), and how events are redacted before any sink sees them."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import field
from typing import Any, Literal

from sop import events as ev
from sop import templating
from sop.errors import SopError
from sop.events import Outcome
from sop.model import BUILTIN_VARIABLES as BUILTINS
from sop.model import STEP_RESULTS, Sop, Step
from sop.records import dataclass
from sop.redact import Redactor
from sop.run.inputs import InputError, validate
from sop.run.stepresults import restore_step_results

StopHow = Literal["abort", "quit", "failure", "rollback"]


class Stop(Exception):
    """Unwinds the walk: the responder chose abort/quit/rollback, or a non-interactive run failed.
    Only a quit leaves the run unfinished (paused); the others end it. `at`: the step a
    rollback was chosen at."""

    def __init__(self, how: StopHow, reason: str = "", at: ev.StepRef | None = None) -> None:
        self.how = how
        self.reason = reason
        self.at = at


@dataclass
class Restored:
    """What a resumed run knows from before: outcomes by step key, the saved variables by scope
    prefix (as saved: checked by `restore_variables` when the scope's SOP is known), the steps
    in doubt (started, never finished) with the evidence to show, and the hosts the responder
    excluded (host -> reason), and the recap the resumed run opens with."""

    outcomes: dict[str, Outcome] = field(default_factory=dict)
    variables: dict[str, dict[str, Any]] = field(default_factory=dict)
    in_doubt: dict[str, str] = field(default_factory=dict)
    excluded: dict[str, str] = field(default_factory=dict)
    recap: ev.Recap | None = None
    # what the run decided: a decide step's choice by step key, a repeating section's verdict
    # after a pass by section key ("again", "done", "limit")
    decisions: dict[str, str] = field(default_factory=dict)
    # the rollbacks that started (innermost first: a called SOP's, then its caller's), each as
    # (the key of the step it was chosen at, why): the resumed walk rolls back from that step
    rollbacks: list[tuple[str, str]] = field(default_factory=list)
    status_since: float = 0.0  # seconds of run time since the last status update (or start)
    # the refusals the run recorded and showed, as (step key, approver id, binding, given): an
    # answer file still there after the resume is not shown again
    refusals: frozenset[tuple[str, str, str, str]] = frozenset()
    # the answers the run recorded and showed as not accepted (approval-rejected), as (step key,
    # file, approver id, given or "", reason): such a file still there is not shown again
    rejections: frozenset[tuple[str, str, str, str, str]] = frozenset()


def step_ref(step: Step, scope: Scope, title: str = "") -> ev.StepRef:
    """How events name a step: numbered within its scope, titled (rendered) or labelled."""
    return ev.StepRef(
        step.id,
        f"{scope.prefix}{step.number}",
        title or step.label,
        step.kind,
        scope.sop.id,
        scope.depth,
        scope.round,
    )


def section_key(section_id: str, scope: Scope) -> str:
    """How the audit log and resume name one pass of a section (`verify@2`), as `step_key`
    names a step: SOP:prefix+id inside a called SOP."""
    return ev.step_key(
        section_id, f"{scope.prefix}{section_id}", scope.sop.id if scope.depth else "", scope.round
    )


def save_variables(variables: Mapping[str, Any], redactor: Redactor) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in variables.items():
        if name in BUILTINS or isinstance(value, templating.Secret):
            continue
        kind = (
            "choice"
            if isinstance(value, templating.Choice)
            else "dash"
            if isinstance(value, templating.DashOk)
            else "plain"
        )
        # captures and answers: masked like every event (a capture per host is a mapping)
        out[name] = [
            kind,
            redactor(str(value)) if isinstance(value, str) else _redact_value(value, redactor),
        ]
    return out


class RestoreError(SopError):
    """A saved value that the SOP's rules no longer accept: resume stops before using it."""


def restore_variables(saved: Mapping[str, Any], sop: Sop, where: str) -> dict[str, Any]:
    """The saved variables of a scope walking `sop`, each checked again as if it were given
    now: an input or an answer against its declaration (type, choices, pattern, the dash rule),
    which alone makes it a `Choice` or a `DashOk`; a captured output as plain text; the results
    of finished steps (`steps`) as the shape sop saves. The saved
    kind tag is ignored: a file is no authority on how a value may be put into a command."""
    steps = (*sop.steps, *sop.rollback)
    captures = {step.capture for step in steps if step.capture}
    declared = {i.name: i for i in sop.inputs} | {q.name: q for step in steps for q in step.ask}
    out: dict[str, Any] = {}
    for name, item in saved.items():
        if name in BUILTINS:
            continue  # set afresh by the run
        value = item[1] if isinstance(item, list) and len(item) == 2 else item
        if name == STEP_RESULTS:
            try:
                out[name] = restore_step_results(value, {step.id for step in steps})
            except ValueError as exc:
                raise RestoreError(f"{where}: {exc}; sop will not use it") from None
        elif name in captures:
            if isinstance(value, str):
                out[name] = str(value)
            elif isinstance(value, Mapping) and all(isinstance(v, str) for v in value.values()):
                out[name] = {str(k): str(v) for k, v in value.items()}
            else:
                raise RestoreError(f"{where}: the captured output '{name}' is not text")
        elif name in declared and not declared[name].secret:
            raw = _raw(value)
            if raw is None:
                raise RestoreError(
                    f"{where}: the value of '{name}' is not text, a number or true/false"
                )
            try:
                out[name] = validate(declared[name], raw, "restored value") if raw else ""
            except InputError as exc:
                raise RestoreError(f"{where}: {exc}; sop will not use it") from None
        else:
            raise RestoreError(
                f"{where}: '{name}' is no input, answer or capture of '{sop.id}'; sop will not use it"
            )
    return out


def _raw(value: Any) -> str | None:
    """A saved value as it was given (save_variables keeps numbers and true/false typed)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, str)):
        return str(value)
    return None


def redact_event(event: ev.Event, redactor: Redactor) -> ev.Event:
    """`event` with every string in it masked; itself, at once, while the run has no secret
    (most runs: no walk through every field of every event)."""
    if redactor.empty:
        return event
    redacted: ev.Event = _redact_fields(event, redactor)
    return redacted


def _redact_fields(record: Any, redactor: Redactor) -> Any:
    """An event, or a record inside one (a host's result), with every string masked."""
    changes: dict[str, Any] = {}
    for f in dataclasses.fields(record):
        value = getattr(record, f.name)
        new = _redact_value(value, redactor)
        if new is not value:
            changes[f.name] = new
    return dataclasses.replace(record, **changes) if changes else record


def _redact_value(value: Any, redactor: Redactor) -> Any:
    if isinstance(value, str):
        masked = redactor(value)
        return masked if masked != value else value
    if isinstance(value, tuple):
        items = tuple(_redact_value(v, redactor) for v in value)
        return items if any(a is not b for a, b in zip(items, value, strict=True)) else value
    if isinstance(value, Mapping):
        return {k: _redact_value(v, redactor) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and isinstance(value, ev.Frozen):  # an event's parts too
        return _redact_fields(value, redactor)
    return value


@dataclass
class Scope:
    """One SOP's variables while it is walked (a call gets a scope of its own). Its steps get
    secrets from its `secrets` only: a called SOP's steps its own inputs', never the caller's."""

    sop: Sop
    variables: dict[str, Any]
    targets: tuple[str, ...]
    prefix: str = ""
    depth: int = 0
    secrets: dict[str, str] = field(default_factory=dict)  # this SOP's, by name
    on_data: tuple[str, ...] = ()  # what templated `targets` may name beyond one host
    round: int = (
        1  # the pass of the section being walked (2 and up: it repeats or was gone back to)
    )
