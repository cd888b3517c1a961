"""`sop run`: walk a responder through an SOP.

The runner decides; it never prints or reads the terminal itself. It receives a prompter (the
responder), executors (where commands run), sinks (the terminal UI, the audit log) and a clock,
so that tests and drills can substitute any of them.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from sop import events as ev
from sop import templating
from sop.clock import Clock
from sop.errors import SopError
from sop.executors import Executors
from sop.executors.base import HostResult
from sop.model import Input, Inventory, Sop, Step
from sop.redact import MASK, Redactor, shared
from sop.run.commands import ExecutableSteps
from sop.run.fanout import FanOut
from sop.run.inputs import ResolvedInputs, resolve_inputs, validate
from sop.run.options import ConfirmationRequired, Prompter, RunOptions, RunResult
from sop.run.scope import (
    DONE,
    FINISHED,
    SKIP,
    Restored,
    Scope,
    Stop,
    redact_event,
    save_variables,
    step_key,
)
from sop.run.targets import resolve_targets

# re-exported: what callers of the runner need
__all__ = ["ConfirmationRequired", "Restored", "RunOptions", "RunResult", "Runner"]

LoadCallee = Callable[[str, Sop], Sop]


class Runner(ExecutableSteps):
    def __init__(
        self,
        sop: Sop,
        inputs: ResolvedInputs,
        *,
        inventory: Inventory | None,
        prompter: Prompter | None,
        executors: Executors,
        sinks: Sequence[ev.Sink],
        clock: Clock,
        options: RunOptions | None = None,
        load_callee: LoadCallee | None = None,
        restored: Restored | None = None,
        persist: Callable[[dict[str, Any], float], None] | None = None,
    ) -> None:
        self.sop = sop
        self.inputs = inputs
        self.inventory = inventory
        self.prompter = prompter
        self.executors = executors
        self.sinks = list(sinks)
        self.clock = clock
        self.options = options or RunOptions()
        self.load_callee = load_callee
        self.run_id = self.options.run_id or uuid.uuid4().hex[:16]
        self.trace_id = self.options.trace_id or uuid.uuid4().hex
        self.secrets: dict[str, str] = dict(inputs.secrets)
        self.redactor = Redactor(self.secrets.values())
        for secret in self.secrets.values():
            shared().add(secret)
        self.restored = restored
        self.persist = persist
        self.outcomes: dict[str, str] = dict(restored.outcomes) if restored else {}
        self.scopes: dict[str, Scope] = {}
        self._lock = threading.Lock()
        self.fanout = FanOut(executors, self.emit, clock.now, self.redactor)

    # -- events ------------------------------------------------------------------------------

    def emit(self, event: ev.Event) -> None:
        if not isinstance(event, ev.Output):  # output was masked as it streamed
            event = redact_event(event, self.redactor)
        with self._lock:
            for sink in self.sinks:
                sink.emit(event)

    # -- the walk ----------------------------------------------------------------------------

    def run(self) -> RunResult:
        started = self.clock.monotonic()
        top = self._scope(
            Scope(self.sop, self._variables(self.sop, self.inputs), self.options.on or self.sop.on)
        )
        self.emit(
            ev.RunStarted(
                self.clock.now(),
                self.run_id,
                self.trace_id,
                self.sop.id,
                self.sop.title,
                str(self.sop.path.resolve()),
                self.sop.sha256,
                self.options.operator,
                self.options.incident,
                dict(self.inputs.shown),
                self._shown_targets(top),
                self.options.dry_run,
                resumed=self.restored is not None,
                drill=self.options.drill,
                scenario=self.options.scenario,
            )
        )
        outcome, reason = "success", ""
        try:
            self._walk(top)
        except Stop as stop:
            reason = stop.reason
            outcome = {
                "abort": "aborted",
                "quit": "aborted",
                "failure": "failure",
                "rollback": "rolled-back",
            }[stop.how]
        except KeyboardInterrupt:
            outcome = "interrupted"
            self.emit(ev.Interrupted(self.clock.now(), None))
        finally:
            self.executors.close()
        self.emit(
            ev.RunFinished(
                self.clock.now(),
                outcome,
                self.clock.monotonic() - started,
                dict(self.outcomes),
                reason,
            )
        )
        return RunResult(outcome, self.run_id, self.trace_id, dict(self.outcomes))

    def _shown_targets(self, scope: Scope) -> tuple[str, ...]:
        """The default targets as the header shows them: rendered, groups expanded to hosts."""
        try:
            names = tuple(templating.render(t, scope.variables) for t in scope.targets)
            hosts = resolve_targets(names, self.inventory, simulate=self.options.simulate)
        except SopError:
            return scope.targets  # the step that uses them will say what is wrong
        return tuple(h.name for h in hosts)

    def _variables(self, sop: Sop, inputs: ResolvedInputs) -> dict[str, Any]:
        return {
            **inputs.values,
            **{name: templating.Secret(name) for name in inputs.secrets},
            "sop_id": sop.id,
            "run_id": self.run_id,
            "trace_id": self.trace_id,
            "incident": self.options.incident or "",
            "operator": self.options.operator,
        }

    def _walk(self, scope: Scope) -> None:
        section = ""
        for step in scope.sop.steps:
            if step.section and step.section != section:
                section = step.section
                self.emit(ev.SectionStarted(self.clock.now(), section, scope.depth))
            try:
                self._step(step, scope)
            except Stop as stop:
                if stop.how == "rollback":
                    self._rollback(scope, stop.reason)
                raise

    def _rollback(self, scope: Scope, reason: str) -> None:
        self.emit(ev.RollbackStarted(self.clock.now(), reason))
        if not scope.sop.rollback:
            return
        rollback_scope = dataclasses.replace(scope, prefix=scope.prefix + "R")
        for step in scope.sop.rollback:
            try:
                self._step(step, rollback_scope, in_rollback=True)
            except Stop as stop:
                if stop.how in ("abort", "quit", "failure"):
                    return
                raise

    def _ref(self, step: Step, scope: Scope, title: str = "") -> ev.StepRef:
        return ev.StepRef(
            step.id,
            f"{scope.prefix}{step.number}",
            title or step.label,
            step.kind,
            scope.sop.id,
            scope.depth,
        )

    def _step(self, step: Step, scope: Scope, in_rollback: bool = False) -> None:
        ref = self._ref(step, scope)
        if self.restored is not None:
            key = step_key(ref)
            if self.restored.outcomes.get(key) in FINISHED and not (
                step.kind == "call" and key in self.restored.in_doubt
            ):
                self.emit(ev.StepRestored(self.clock.now(), ref, self.restored.outcomes[key]))
                return
            evidence = self.restored.in_doubt.pop(key, None)
            if evidence is not None and step.kind != "call" and self._in_doubt(ref, step, evidence):
                return
        if step.when and not self.options.dry_run:
            try:
                go = templating.evaluate(step.when, scope.variables)
            except templating.TemplateError as exc:
                self._broken(ref, step, f"when: {exc}")
                return
            if not go:
                self._finish(ref, SKIP, 0.0, reason=f"`when: {step.when}` is false")
                return
        try:
            title = templating.render(step.title, scope.variables) if step.title else ""
            ref = self._ref(step, scope, title)
            note = templating.render(step.note, scope.variables) if step.note else ""
        except templating.TemplateError as exc:
            self._broken(ref, step, str(exc))
            return
        if step.kind == "prose":
            self._prose(step, scope, ref, note)
        elif step.kind == "call":
            self._call(step, scope, ref, note)
        else:
            self._executable(step, scope, ref, note)

    def _broken(self, ref: ev.StepRef, step: Step, message: str) -> None:
        """A step that cannot even be prepared: show why and offer skip/abort/rollback."""
        self.emit(ev.StepShown(self.clock.now(), ref, plain=f"Cannot prepare this step: {message}"))
        if self.options.dry_run:
            self._finish(ref, "dry-run", 0.0, reason=message)
            return
        self._failure_menu(ref, step, message, allow_retry=False)

    def _scope(self, scope: Scope) -> Scope:
        self.scopes[scope.prefix] = scope
        if self.restored is not None:
            scope.variables.update(self.restored.variables.get(scope.prefix, {}))
        return scope

    def _persist(self) -> None:
        """Hand the resumable state (no secrets; redacted) to whoever keeps it."""
        if self.persist is None or self.options.dry_run:
            return
        scopes = {
            prefix: save_variables(scope.variables, self.redactor)
            for prefix, scope in self.scopes.items()
        }
        with self._lock:  # it appends to the audit log too: not while a host thread emits
            self.persist({"outcomes": dict(self.outcomes), "variables": scopes}, self.clock.now())

    def _in_doubt(self, ref: ev.StepRef, step: Step, evidence: str) -> bool:
        """A step that started and never finished. True when it is settled (marked done)."""
        self.emit(
            ev.StepShown(
                self.clock.now(),
                ref,
                plain=f"In doubt: this step started before the "
                f"interruption and never finished. What sop saw:\n\n{evidence}",
            )
        )
        if self.options.yes or self.prompter is None:
            raise ConfirmationRequired(
                f"step {ref.number} ({step.id}) is in doubt: it started and never finished. Resume in a terminal "
                "to decide: mark it done (with a reason), run it again, or abort"
            )
        choice = self.prompter.choose(
            "In doubt. What now?", [("m", "mark done"), ("r", "run again"), ("a", "abort")]
        )
        if choice == "a":
            raise Stop("abort", f"step {ref.number} in doubt")
        if choice == "r":
            self.emit(ev.MenuChoice(self.clock.now(), ref, "run-again"))
            return False
        reason = self._reason("Why mark it done?")
        self.emit(ev.Deviation(self.clock.now(), ref, "mark-done", reason))
        self._finish(ref, DONE, 0.0, reason=reason)
        return True

    # -- prose -------------------------------------------------------------------------------

    def _prose(self, step: Step, scope: Scope, ref: ev.StepRef, note: str) -> None:
        try:
            prose = templating.render(step.body, scope.variables)
        except templating.TemplateError as exc:
            self._broken(ref, step, str(exc))
            return
        started = self.clock.monotonic()
        self.emit(ev.StepShown(self.clock.now(), ref, prose=prose, note=note, confirm=step.confirm))
        if self.options.dry_run:
            for q in step.ask:
                scope.variables[q.name] = (
                    q.default if q.default is not None else f"<answer:{q.name}>"
                )
            self._finish(ref, "dry-run", 0.0)
            return
        if step.confirm != "never" and not self.options.yes:
            choices = [("d", "done"), ("s", "skip"), ("o", "off-script"), ("q", "quit")]
            choice = self._prompt().choose("Done?", choices, "d")
            while choice == "o":
                self._off_script(ref)
                choice = self._prompt().choose("Done?", choices, "d")
            if choice == "q":
                raise Stop("quit")
            if choice == "s":
                self._skip(ref, step)
                self._default_answers(step, scope)
                return
        self.emit(
            ev.StepConfirmed(self.clock.now(), ref, "--yes" if self.options.yes else "interactive")
        )
        for q in step.ask:
            self._answer(q, scope, ref)
        self._finish(ref, DONE, self.clock.monotonic() - started)

    def _answer(self, q: Input, scope: Scope, ref: ev.StepRef) -> None:
        while True:
            if q.name in self.options.answers:
                raw = self.options.answers[q.name]
            elif (
                self.options.drill
                and q.drill is not None
                and (self.options.yes or self.prompter is None)
            ):
                raw = q.drill
            elif self.options.yes or self.prompter is None:
                if q.default is None:
                    raise ConfirmationRequired(
                        f"step {ref.number} ({ref.id}) asks '{q.help or q.name}' and has no default: "
                        f"answer it with -a {q.name}=VALUE"
                    )
                raw = q.default
            else:
                raw = self._prompt().ask(q)
            try:
                value = validate(q, raw, "answer")
            except SopError as exc:
                if self.options.yes or q.name in self.options.answers or self.prompter is None:
                    raise
                self.emit(ev.StepShown(self.clock.now(), ref, plain=str(exc)))
                continue
            break
        if q.secret:
            self.secrets[q.name] = raw
            self.redactor.add(raw)
            shared().add(raw)
            scope.variables[q.name] = templating.Secret(q.name)
        else:
            scope.variables[q.name] = value
        self.emit(ev.Answered(self.clock.now(), ref, q.name, MASK if q.secret else raw))

    def _default_answers(self, step: Step, scope: Scope) -> None:
        for q in step.ask:
            if q.default is not None:
                scope.variables[q.name] = validate(q, q.default, "answer")

    def _skip(self, ref: ev.StepRef, step: Step, reason: str = "") -> None:
        reason = reason or self._reason("Why skip this step?")
        self.emit(ev.Deviation(self.clock.now(), ref, "skip", reason))
        self._finish(ref, SKIP, 0.0, reason=reason)

    def _off_script(self, ref: ev.StepRef) -> None:
        """The responder did something the SOP does not say: recorded, with the reason."""
        action = self._reason("What did you do outside the SOP?")
        reason = self._reason("Why?")
        self.emit(ev.Deviation(self.clock.now(), ref, "off-script", reason, replacement=action))

    def _reason(self, prompt: str) -> str:
        while True:
            reason = self._prompt().text(prompt).strip()
            if reason:
                return reason

    def _prompt(self) -> Prompter:
        if self.prompter is None:
            raise ConfirmationRequired("this run cannot ask the responder (no terminal): use --yes")
        return self.prompter

    def _finish(
        self,
        ref: ev.StepRef,
        outcome: str,
        duration: float,
        *,
        attempt: int = 1,
        results: Sequence[HostResult] = (),
        reason: str = "",
    ) -> None:
        self.outcomes[step_key(ref)] = outcome
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

    # -- call --------------------------------------------------------------------------------

    def _call(self, step: Step, scope: Scope, ref: ev.StepRef, note: str) -> None:
        if self.load_callee is None:
            raise SopError(
                f"step {ref.number} calls '{step.body}', but this runner cannot load SOPs"
            )
        try:
            callee = self.load_callee(step.body, scope.sop)
            given = {
                k: templating.render(str(v), scope.variables) for k, v in step.with_inputs.items()
            }
            inputs = resolve_inputs(
                callee,
                given,
                secret_files={},
                environ=os.environ,
                asker=None if (self.options.yes or self.options.dry_run) else self.prompter,
            )
        except SopError as exc:
            self._broken(ref, step, str(exc))
            return
        self.secrets.update(inputs.secrets)
        for secret in inputs.secrets.values():
            self.redactor.add(secret)
            shared().add(secret)
        self.emit(
            ev.StepShown(
                self.clock.now(),
                ref,
                prose=f"Runs the SOP **{callee.title}** ({callee.id}).",
                note=note,
            )
        )
        inner = Scope(
            callee,
            self._variables(callee, inputs),
            callee.on if callee.on != ("local",) else scope.targets,
            prefix=f"{ref.number}.",
            depth=scope.depth + 1,
        )
        self._scope(inner)
        started = self.clock.monotonic()
        self._walk(inner)
        self._finish(
            ref, DONE if not self.options.dry_run else "dry-run", self.clock.monotonic() - started
        )
