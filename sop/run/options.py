"""What the runner is given (a clock, a responder, options) and what it gives back."""

from __future__ import annotations

import getpass
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from sop.errors import SopError
from sop.model import Input


class ConfirmationRequired(SopError):
    """A non-interactive run reached a step that `--yes` does not answer."""


class Prompter(Protocol):
    """The responder. Every method may raise KeyboardInterrupt (Ctrl-C)."""

    def ask(self, question: Input) -> str: ...

    def choose(
        self, prompt: str, choices: Sequence[tuple[str, str]], default: str | None = None
    ) -> str: ...

    def text(self, prompt: str) -> str: ...

    def edit(self, command: str) -> str: ...


@dataclass(frozen=True)
class RunOptions:
    yes: bool = False
    dry_run: bool = False
    confirm: frozenset[str] = frozenset()  # step ids --yes may confirm although they ask for more
    answers: Mapping[str, str] = field(default_factory=dict)  # -a NAME=VALUE
    on: tuple[str, ...] | None = None  # --on: replaces the SOP's default target
    incident: str | None = None
    operator: str = ""
    run_id: str = ""
    trace_id: str = ""
    event_kind: str = "event"  # ECS event.kind of the audit records; drills use their own
    drill: bool = False  # a fire drill: recorded as one
    simulate: bool = False  # commands are not run: executors return the SOP's drill results
    scenario: str = ""
    pace: float = 1.0  # drills: how much of each simulated delay to wait


@dataclass(frozen=True)
class RunResult:
    outcome: str  # success | failure | aborted | rolled-back | interrupted
    run_id: str
    trace_id: str
    steps: Mapping[str, str]

    @property
    def exit_code(self) -> int:
        return {"success": 0, "interrupted": 130}.get(self.outcome, 1)


def default_operator() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name in this environment
        return str(os.getuid())
