"""What the step handlers may use, in one object: the run's options, clock, responder, inventory
and fan-out; its events (emit, finish); the menus every kind of step shares (skip, broken,
failure, off-script, a reason); the masking of secrets; its scopes and the state it hands to resume.

Calls go one way: the runner calls a handler, the handler calls these, these call no handler.
(A call step walks its callee through `walk`, the runner's walk, given in.)"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sop import events as ev
from sop import templating
from sop.clock import Clock
from sop.executors import Executors
from sop.executors.base import HostResult
from sop.model import Inventory, Sop, Step
from sop.outcomes import Outcome
from sop.redact import Redactor
from sop.run.fanout import FanOut
from sop.run.inputs import ResolvedInputs
from sop.run.options import ConfirmationRequired, Prompter, RunOptions
from sop.run.scope import Restored, Scope, Stop, redact_event, save_variables

LoadCallee = Callable[[str, Sop], Sop]
Persist = Callable[[dict[str, Any], float], None]
Walk = Callable[[Scope], None]


class Services:
    def __init__(
        self,
        *,
        options: RunOptions,
        clock: Clock,
        prompter: Prompter | None,
        inventory: Inventory | None,
        executors: Executors,
        sinks: Sequence[ev.Sink],
        run_id: str,
        trace_id: str,
        environ: Mapping[str, str],
        shared_redactor: Redactor | None,
        load_callee: LoadCallee | None,
        restored: Restored | None,
        persist: Persist | None,
        walk: Walk,
    ) -> None:
        self.options = options
        self.clock = clock
        self.prompter = prompter
        self.inventory = inventory
        self.run_id = run_id
        self.trace_id = trace_id
        self.environ = environ  # what call steps read their callee's inputs from
        self.load_callee = load_callee
        self.walk = walk
        self.redactor = Redactor()
        self._shared_redactor = shared_redactor
        self.outcomes: dict[str, Outcome] = dict(restored.outcomes) if restored else {}
        self.scopes: dict[str, Scope] = {}
        self._restored = restored
        self._persist_state = persist
        self._sinks = list(sinks)
        self._lock = threading.Lock()
        self.fanout = FanOut(executors, self.emit, clock.now, self.redactor)

    # -- events ------------------------------------------------------------------------------

    def emit(self, event: ev.Event) -> None:
        if not isinstance(event, ev.Output):  # output was masked as it streamed
            event = redact_event(event, self.redactor)
        with self._lock:
            for sink in self._sinks:
                sink.emit(event)

    def finish(
        self,
        ref: ev.StepRef,
        outcome: Outcome,
        duration: float,
        *,
        attempt: int = 1,
        results: Sequence[HostResult] = (),
        reason: str = "",
    ) -> None:
        self.outcomes[ref.key] = outcome
        self._persist()
        finished = tuple(
            ev.HostFinished(
                self.clock.now(),
                ref,
                r.host,
                r.outcome,
                r.exit_code,
                r.duration,
                r.error,
                "",
                "",
                attempt,
            )
            for r in results
        )
        self.emit(
            ev.StepFinished(self.clock.now(), ref, outcome, duration, attempt, finished, reason)
        )

    # -- secrets and scopes ------------------------------------------------------------------

    def add_secret(self, scope: Scope, name: str, value: str) -> None:
        """A secret of `scope`'s SOP: its steps that name or list it get it (no other scope's
        do); masked from here on, in this run's events and in the process's error messages."""
        scope.secrets[name] = value
        self.mask(value)

    def mask(self, value: str) -> None:
        """Mask `value` from here on: in this run's events and the process's error messages."""
        self.redactor.add(value)
        if self._shared_redactor is not None:
            self._shared_redactor.add(value)

    def variables(self, sop: Sop, inputs: ResolvedInputs) -> dict[str, Any]:
        """A new scope's variables: its inputs (secrets as placeholders) and the built-ins."""
        return {
            **inputs.values,
            **{name: templating.Secret(name) for name in inputs.secrets},
            "sop_id": sop.id,
            "run_id": self.run_id,
            "trace_id": self.trace_id,
            "incident": self.options.incident or "",
            "operator": self.options.operator,
        }

    def open_scope(self, scope: Scope) -> Scope:
        """Keep `scope` for resume, with the variables a resumed run saved for it."""
        self.scopes[scope.prefix] = scope
        if self._restored is not None:
            scope.variables.update(self._restored.variables.get(scope.prefix, {}))
        return scope

    def _persist(self) -> None:
        """Hand the resumable state (no secrets; redacted) to whoever keeps it."""
        if self._persist_state is None or self.options.dry_run:
            return
        scopes = {
            prefix: save_variables(scope.variables, self.redactor)
            for prefix, scope in self.scopes.items()
        }
        with self._lock:  # it appends to the audit log too: not while a host thread emits
            self._persist_state(
                {"outcomes": dict(self.outcomes), "variables": scopes}, self.clock.now()
            )

    # -- the responder -----------------------------------------------------------------------

    def prompt(self) -> Prompter:
        """The responder, or ConfirmationRequired when this run cannot ask anyone."""
        if self.prompter is None:
            raise ConfirmationRequired("this run cannot ask the responder (no terminal): use --yes")
        return self.prompter

    def reason(self, prompt: str) -> str:
        while True:
            reason = self.prompt().text(prompt).strip()
            if reason:
                return reason

    def skip(self, ref: ev.StepRef, step: Step, reason: str = "") -> None:
        reason = reason or self.reason("Why skip this step?")
        self.emit(ev.Deviation(self.clock.now(), ref, "skip", reason))
        self.finish(ref, Outcome.SKIPPED, 0.0, reason=reason)

    def off_script(self, ref: ev.StepRef) -> None:
        """The responder did something the SOP does not say: recorded, with the reason."""
        action = self.reason("What did you do outside the SOP?")
        reason = self.reason("Why?")
        self.emit(ev.Deviation(self.clock.now(), ref, "off-script", reason, replacement=action))

    def broken(self, ref: ev.StepRef, step: Step, message: str) -> None:
        """A step that cannot even be prepared: show why and offer skip/abort/rollback."""
        self.emit(ev.StepShown(self.clock.now(), ref, plain=f"Cannot prepare this step: {message}"))
        if self.options.dry_run:
            self.finish(ref, Outcome.DRY_RUN, 0.0, reason=message)
            return
        self.failure_menu(ref, step, message, allow_retry=False)

    def failure_menu(self, ref: ev.StepRef, step: Step, why: str, allow_retry: bool = True) -> str:
        """retry / skip (reason) / abort / rollback. Returns "retry" or "skip"; raises Stop."""
        if self.options.yes or self.prompter is None:
            raise Stop("failure", f"step {ref.number} ({step.id}) failed: {why}")
        choices = ([("r", "retry")] if allow_retry else []) + [
            ("s", "skip"),
            ("o", "off-script"),
            ("a", "abort"),
            ("b", "rollback"),
        ]
        choice = self.prompter.choose("The step failed. What now?", choices)
        while choice == "o":  # e.g. fixed it by hand: recorded, then the menu again
            self.off_script(ref)
            choice = self.prompter.choose("The step failed. What now?", choices)
        names = {"r": "retry", "s": "skip", "a": "abort", "b": "rollback"}
        reason = self.reason("Why skip this step?") if choice == "s" else ""
        self.emit(ev.MenuChoice(self.clock.now(), ref, names[choice], reason))
        if choice == "s":
            self.skip(ref, step, reason)
            return "skip"
        if choice == "a":
            raise Stop("abort", why)
        if choice == "b":
            raise Stop("rollback", why)
        return "retry"
