"""`sop run`: walk a responder through an SOP.

The runner decides; it never prints or reads the terminal itself. It receives a prompter (the
responder), executors (where commands run), sinks (the terminal UI, the audit log), a clock,
the environment call steps read inputs from and the process's shared redactor, so that tests
and drills can substitute any of them. It walks the steps (sections, resume, `when`, rollback)
and hands each to the handler of its kind (`sop.run.steps`)."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from sop import events as ev
from sop import templating
from sop.clock import Clock
from sop.errors import SopError
from sop.events import FINISHED, Outcome, PauseHow
from sop.executors import Executors
from sop.model import Inventory, Sop, Step
from sop.redact import Redactor
from sop.run.fanout import StoppedWaiting
from sop.run.inputs import ResolvedInputs
from sop.run.options import ConfirmationRequired, EndOfInput, Prompter, RunOptions, RunResult
from sop.run.preflight import preflight
from sop.run.scope import Restored, Scope, Stop, StopHow, step_ref
from sop.run.services import LoadCallee, Persist, Services
from sop.run.steps import HANDLERS
from sop.run.targets import render_targets, resolve_targets

# re-exported: what callers of the runner need
__all__ = ["ConfirmationRequired", "Restored", "RunOptions", "RunResult", "Runner"]

RUN_OUTCOMES: Mapping[StopHow, Outcome] = {  # a quit pauses the run: it is not finished
    "abort": Outcome.ABORTED,
    "failure": Outcome.FAILURE,
    "rollback": Outcome.ROLLED_BACK,
}


class Runner:
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
        environ: Mapping[str, str],
        shared_redactor: Redactor | None = None,
        options: RunOptions | None = None,
        load_callee: LoadCallee | None = None,
        restored: Restored | None = None,
        persist: Persist | None = None,
    ) -> None:
        """`environ`: what call steps read their callee's inputs from (`env:`); the caller's
        own inputs are already in `inputs`. `shared_redactor`: the process's redactor for error
        messages (`sop.redact.shared()`), taught every secret of the run; None for none."""
        self.sop = sop
        self.inputs = inputs
        self.options = options or RunOptions()
        self.executors = executors
        self.restored = restored
        self.run_id = self.options.run_id or uuid.uuid4().hex[:16]
        self.trace_id = self.options.trace_id or uuid.uuid4().hex
        self.services = Services(
            options=self.options,
            clock=clock,
            prompter=prompter,
            inventory=inventory,
            executors=executors,
            sinks=sinks,
            run_id=self.run_id,
            trace_id=self.trace_id,
            environ=environ,
            shared_redactor=shared_redactor,
            load_callee=load_callee,
            restored=restored,
            persist=persist,
            walk=self._walk,
        )
        for secret in inputs.secrets.values():
            self.services.mask(secret)

    def emit(self, event: ev.Event) -> None:
        self.services.emit(event)

    # -- the walk ----------------------------------------------------------------------------

    def run(self) -> RunResult:
        s, options = self.services, self.options
        started = s.clock.monotonic()
        top = s.open_scope(
            Scope(
                self.sop,
                s.variables(self.sop, self.inputs),
                options.on or self.sop.on,
                secrets=dict(self.inputs.secrets),
                on_data=() if options.on else self.sop.on_data,
            )
        )
        s.emit(
            ev.RunStarted(
                s.clock.now(),
                self.run_id,
                self.trace_id,
                self.sop.id,
                self.sop.title,
                str(self.sop.path.resolve()),
                self.sop.sha256,
                options.operator,
                options.incident,
                dict(self.inputs.shown),
                self._shown_targets(top),
                options.dry_run,
                resumed=self.restored is not None,
                drill=options.drill is not None,
                scenario=options.drill.scenario if options.drill else "",
                simulated=options.simulated,
                inventory=self._inventory_path(),
                context=self._about(self.sop.context, top),
                impact=self._about(self.sop.impact, top),
                links=tuple((link.title, link.url) for link in self.sop.links),
            )
        )
        if self.restored is not None and self.restored.recap is not None:
            s.emit(dataclasses.replace(self.restored.recap, at=s.clock.now()))
        outcome, reason = Outcome.SUCCESS, ""
        try:
            finished = self.restored.outcomes if self.restored else {}
            preflight(s, self.executors, top, {k for k, v in finished.items() if v in FINISHED})
            self._walk(top)
        except Stop as stop:
            if stop.how == "quit":
                return self._pause(PauseHow.QUIT, started)
            outcome, reason = RUN_OUTCOMES[stop.how], stop.reason
        except StoppedWaiting as stopped:  # hosts may still be running a step: in doubt
            return self._pause(PauseHow.STOPPED_WAITING, started, ", ".join(stopped.hosts))
        except KeyboardInterrupt:
            s.emit(ev.Interrupted(s.clock.now(), s.at))
            return self._pause(PauseHow.CTRL_C, started)
        except EndOfInput:
            return self._pause(PauseHow.CTRL_D, started)
        except ConfirmationRequired as exc:  # the error says how to go on: resume
            self._pause(PauseHow.NEEDS_RESPONDER, started, str(exc))
            raise
        finally:
            self.executors.close()
        s.emit(
            ev.RunFinished(
                s.clock.now(), outcome, s.clock.monotonic() - started, dict(s.outcomes), reason
            )
        )
        return RunResult(outcome, self.run_id, self.trace_id, dict(s.outcomes))

    def _pause(self, how: PauseHow, started: float, detail: str = "") -> RunResult:
        """Record that the run stops here to go on later; nothing is finished."""
        s = self.services
        where = f" at step {s.at.number} ({s.at.id})" if s.at else ""
        reason = {
            PauseHow.QUIT: f"quit{where}",
            PauseHow.CTRL_C: f"Ctrl-C{where}",
            PauseHow.CTRL_D: f"Ctrl-D (end of input){where}",
            PauseHow.STOPPED_WAITING: f"stopped waiting for {detail}{where}: in doubt",
            PauseHow.NEEDS_RESPONDER: f"--yes stopped{where}: {detail}",
        }[how]
        s.emit(
            ev.RunPaused(
                s.clock.now(), how, s.at, s.clock.monotonic() - started, reason, dict(s.outcomes)
            )
        )
        return RunResult(Outcome.PAUSED, self.run_id, self.trace_id, dict(s.outcomes), how)

    def _inventory_path(self) -> str:
        inventory = self.services.inventory
        return str(inventory.path.resolve()) if inventory and inventory.path else ""

    @staticmethod
    def _about(text: str, scope: Scope) -> str:
        """The SOP's context or impact for the header, rendered with the inputs; as written when
        it cannot be rendered (lint names the error; the header is no reason to stop a run)."""
        try:
            return templating.render_markdown(text, scope.variables) if text else ""
        except templating.TemplateError:
            return text

    def _shown_targets(self, scope: Scope) -> tuple[str, ...]:
        """The default targets as the header shows them: rendered, groups expanded to hosts."""
        try:
            names = render_targets(
                scope.targets,
                scope.variables,
                self.services.inventory,
                allow=scope.on_data,
                simulate=self.options.simulated,
            )
            hosts = resolve_targets(names, self.services.inventory, simulate=self.options.simulated)
        except SopError:
            return scope.targets  # the step that uses them will say what is wrong
        return tuple(h.name for h in hosts)

    def _walk(self, scope: Scope) -> None:
        section = ""
        for step in scope.sop.steps:
            if step.section and step.section != section:
                section = step.section
                note = _section_note(step.section_note, scope.variables)
                self.emit(ev.SectionStarted(self.services.clock.now(), section, scope.depth, note))
            try:
                self._step(step, scope)
            except Stop as stop:
                if stop.how == "rollback":
                    self._rollback(scope, stop.reason)
                raise

    def _rollback(self, scope: Scope, reason: str) -> None:
        self.emit(ev.RollbackStarted(self.services.clock.now(), reason))
        if not scope.sop.rollback:
            return
        rollback_scope = dataclasses.replace(scope, prefix=scope.prefix + "R")
        for step in scope.sop.rollback:
            try:
                self._step(step, rollback_scope)
            except Stop as stop:
                if stop.how in ("abort", "failure"):  # a quit pauses the run, rollback and all
                    return
                raise

    def _step(self, step: Step, scope: Scope) -> None:
        """Prepare a step (resumed? `when`? its title and note) and hand it to its handler."""
        s = self.services
        ref = s.at = step_ref(step, scope)
        s.entering(ref, scope)
        if self.restored is not None:
            key = ref.key
            if self.restored.outcomes.get(key) in FINISHED and not (
                step.kind == "call" and key in self.restored.in_doubt
            ):
                self.emit(ev.StepRestored(s.clock.now(), ref, self.restored.outcomes[key]))
                return
            evidence = self.restored.in_doubt.pop(key, None)
            if evidence is not None and step.kind != "call" and self._in_doubt(ref, step, evidence):
                return
        if step.when and not self.options.dry_run:
            try:
                go = templating.evaluate(step.when, scope.variables)
            except templating.TemplateError as exc:
                s.broken(ref, step, f"when: {exc}")
                return
            if not go:
                s.finish(ref, Outcome.SKIPPED, 0.0, reason=f"`when: {step.when}` is false")
                return
        try:
            title = templating.render(step.title, scope.variables) if step.title else ""
            ref = s.at = step_ref(step, scope, title)
            note = templating.render_markdown(step.note, scope.variables) if step.note else ""
        except templating.TemplateError as exc:
            s.broken(ref, step, str(exc))
            return
        HANDLERS[step.kind](s, step, scope, ref, note)

    def _in_doubt(self, ref: ev.StepRef, step: Step, evidence: str) -> bool:
        """A step that started and never finished. True when it is settled (marked done)."""
        s = self.services
        self.emit(
            ev.StepShown(
                s.clock.now(),
                ref,
                plain=f"In doubt: this step started before the "
                f"interruption and never finished. What sop saw:\n\n{evidence}",
            )
        )
        if self.options.yes or s.prompter is None:
            raise ConfirmationRequired(
                f"step {ref.number} ({step.id}) is in doubt: it started and never finished. Resume in a terminal "
                "to decide: mark it done (with a reason), run it again, or abort"
            )
        choice = s.prompter.choose(
            "In doubt. What now?", [("m", "mark done"), ("r", "run again"), ("a", "abort")]
        )
        if choice == "a":
            s.abort(ref)
        if choice == "r":
            self.emit(ev.MenuChoice(s.clock.now(), ref, "run-again"))
            return False
        reason = s.reason("Why mark it done?")
        self.emit(ev.Deviation(s.clock.now(), ref, "mark-done", reason))
        s.finish(ref, Outcome.DONE, 0.0, reason=reason)
        return True


def _section_note(note: str, variables: Mapping[str, Any]) -> str:
    """A heading's note, rendered; as written when it does not render (a heading is no step,
    so there is nothing to mark broken, and the note is only read)."""
    if not note:
        return ""
    try:
        return templating.render_markdown(note, variables)
    except templating.TemplateError:
        return note
