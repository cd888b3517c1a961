"""Step kinds, each a handler behind one interface: the runner prepares a step (resume, `when`,
title, note) and hands it to the handler of its kind. A new kind is one module here and one
line in `HANDLERS`."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Protocol

from sop.events import StepRef
from sop.model import Step
from sop.run.scope import Scope
from sop.run.services import Services
from sop.run.steps.call import run_call
from sop.run.steps.commands import run_commands
from sop.run.steps.decide import run_decide
from sop.run.steps.prose import run_prose


class StepHandler(Protocol):
    def __call__(
        self, services: Services, step: Step, scope: Scope, ref: StepRef, note: str
    ) -> None:
        """Show the step, get the responder's go-ahead, do it, and finish it (or raise Stop)."""


HANDLERS: Mapping[str, StepHandler] = MappingProxyType(
    {
        "prose": run_prose,
        "call": run_call,
        "run": run_commands,
        "script": run_commands,
        "task": run_commands,
        "decide": run_decide,
    }
)
