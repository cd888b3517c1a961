"""A run's state outside the walk: what resume restores, how variables are saved (secrets
never, the rest redacted), and how events are redacted before any sink sees them."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from sop import events as ev
from sop import templating
from sop.model import BUILTIN_VARIABLES as BUILTINS
from sop.model import Sop, Step
from sop.outcomes import Outcome
from sop.redact import Redactor

StopHow = Literal["abort", "quit", "failure", "rollback"]


class Stop(Exception):
    """Unwinds the walk: the responder chose abort/quit/rollback, or a non-interactive run failed."""

    def __init__(self, how: StopHow, reason: str = "") -> None:
        self.how = how
        self.reason = reason


@dataclass
class Restored:
    """What a resumed run knows from before: outcomes by step key, variables by scope prefix,
    the steps in doubt (started, never finished) with the evidence to show, and the hosts the
    responder excluded (host -> reason)."""

    outcomes: dict[str, Outcome] = field(default_factory=dict)
    variables: dict[str, dict[str, Any]] = field(default_factory=dict)
    in_doubt: dict[str, str] = field(default_factory=dict)
    excluded: dict[str, str] = field(default_factory=dict)


def step_ref(step: Step, scope: Scope, title: str = "") -> ev.StepRef:
    """How events name a step: numbered within its scope, titled (rendered) or labelled."""
    return ev.StepRef(
        step.id,
        f"{scope.prefix}{step.number}",
        title or step.label,
        step.kind,
        scope.sop.id,
        scope.depth,
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


def load_variables(saved: Mapping[str, Any]) -> dict[str, Any]:
    wrap = {"choice": templating.Choice, "dash": templating.DashOk}
    out: dict[str, Any] = {}
    for name, (kind, value) in saved.items():
        out[name] = wrap[kind](value) if kind in wrap else value
    return out


def redact_event(event: ev.Event, redactor: Redactor) -> ev.Event:
    changes: dict[str, Any] = {}
    for f in dataclasses.fields(event):
        value = getattr(event, f.name)
        new = _redact_value(value, redactor)
        if new is not value:
            changes[f.name] = new
    return dataclasses.replace(event, **changes) if changes else event


def _redact_value(value: Any, redactor: Redactor) -> Any:
    if isinstance(value, str):
        masked = redactor(value)
        return masked if masked != value else value
    if isinstance(value, tuple):
        items = tuple(_redact_value(v, redactor) for v in value)
        return items if any(a is not b for a, b in zip(items, value, strict=True)) else value
    if isinstance(value, Mapping):
        return {k: _redact_value(v, redactor) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and isinstance(value, ev.Event):
        return redact_event(value, redactor)
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
