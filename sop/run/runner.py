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
from pathlib import Path
from typing import Any

from sop import events as ev
from sop import templating
from sop.errors import OutputClosed, SopError
from sop.events import FINISHED, Clock, Outcome, PauseHow
from sop.executors import Executors
from sop.model import Inventory, Section, Sop, Step, blocks, section_conditions
from sop.redact import Redactor
from sop.run.fanout import StoppedWaiting
from sop.run.inputs import ResolvedInputs
from sop.run.options import (
    AwaitingApproval,
    ConfirmationRequired,
    EndOfInput,
    Prompter,
    RunOptions,
    RunResult,
)
from sop.run.preflight import preflight
from sop.run.reminders import Reminders, RemindingPrompter, run_severity, status_every
from sop.run.scope import Restored, Scope, Stop, StopHow, section_key, step_ref
from sop.run.services import LoadCallee, Persist, Services
from sop.run.steps import HANDLERS
from sop.run.steps.decide import goto_of
from sop.run.targets import render_targets, resolve_targets
from sop.run.tracecontext import new_span_id, new_trace_id

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
        run_dir: Path | None = None,
    ) -> None:
        """`run_dir`: the run's folder, where interactive sessions are recorded (None: they
        are not). `environ`: what call steps read their callee's inputs from (`env:`); the caller's
        own inputs are already in `inputs`. `shared_redactor`: the process's redactor for error
        messages (`sop.redact.shared()`), taught every secret of the run; None for none."""
        self.sop = sop
        self.inputs = inputs
        self.options = options or RunOptions()
        self.executors = executors
        self.restored = restored
        self._starting = bool(self.options.start_at) and restored is None  # before --start-at
        self.run_id = self.options.run_id or uuid.uuid4().hex[:16]
        self.trace_id = self.options.trace_id or new_trace_id()
        self.span_id = self.options.span_id or new_span_id()
        self.severity = run_severity(sop, self.options)
        every = status_every(sop, self.options)
        self.reminders = (
            Reminders(
                every, self.severity, clock, self.emit, restored.status_since if restored else 0.0
            )
            if every
            else None
        )
        self._responder = prompter  # asked for status updates; the walk asks through a wrapper
        if self.reminders is not None and prompter is not None:
            prompter = RemindingPrompter(prompter, self._remind, self._update_due)
        self.services = Services(
            options=self.options,
            clock=clock,
            prompter=prompter,
            inventory=inventory,
            executors=executors,
            sinks=sinks,
            run_id=self.run_id,
            trace_id=self.trace_id,
            span_id=self.span_id,
            environ=environ,
            shared_redactor=shared_redactor,
            load_callee=load_callee,
            restored=restored,
            persist=persist,
            run_dir=run_dir,
            walk=self._walk,
        )
        if self.reminders is not None:
            reminders = self.reminders
            self.services.fanout.waiting = lambda: reminders.announce(self.services.at, True)
            self.services.remind = self._remind
        self.services.shown_inputs = dict(inputs.shown)
        for secret in inputs.secrets.values():
            self.services.mask(secret)
        # rollbacks the run started before it paused: each goes on where it stopped
        self._rollbacks = list(restored.rollbacks) if restored else []

    def emit(self, event: ev.Event) -> None:
        self.services.emit(event)

    def _remind(self) -> None:
        """Ask for a status update if one is due (a run nobody answers records none given)."""
        if self.reminders is not None:
            unattended = self.options.yes or self._responder is None
            self.reminders.remind(None if unattended else self._responder, self.services.at)

    def _update_due(self) -> bool:
        return self.reminders is not None and self.reminders.overdue() is not None

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
        outcome, reason = Outcome.SUCCESS, ""
        try:
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
                    context=self._about(self.sop.context, top),
                    impact=self._about(self.sop.impact, top),
                    links=tuple((link.title, link.url) for link in self.sop.links),
                    severity=self.severity,
                    status_every=self.reminders.every if self.reminders else 0.0,
                    skips=dict(options.skip),
                    **self._inventory_fields(),
                )
            )
            if self.restored is not None and self.restored.recap is not None:
                s.emit(dataclasses.replace(self.restored.recap, at=s.clock.now()))
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
        except AwaitingApproval as exc:  # it says what it waits for, and how to go on
            return self._pause(PauseHow.AWAITING_APPROVAL, started, str(exc))
        except OutputClosed as exc:  # nobody sees what it does: it stops before the next step
            return self._pause(PauseHow.OUTPUT_CLOSED, started, str(exc))
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
            PauseHow.AWAITING_APPROVAL: f"--yes {detail}",
            PauseHow.OUTPUT_CLOSED: f"its output could not be written ({detail}){where}",
        }[how]
        s.emit(
            ev.RunPaused(
                s.clock.now(), how, s.at, s.clock.monotonic() - started, reason, dict(s.outcomes)
            )
        )
        return RunResult(Outcome.PAUSED, self.run_id, self.trace_id, dict(s.outcomes), how)

    def _inventory_fields(self) -> dict[str, Any]:
        """The resolved inventory as run-started records it: its files, hosts and notes."""
        inventory = self.services.inventory
        if inventory is None or inventory.path is None:
            return {}
        files = tuple(str(Path(s).resolve()) for s in inventory.sources) or (
            str(inventory.path.resolve()),
        )
        return {
            "inventory": files[0],
            "inventories": files,
            "hosts": {name: host.ssh_address for name, host in inventory.hosts.items()},
            "inventory_notes": inventory.notes,
        }

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
        """Walk the sections in order: one that does not apply (`when`, or a decision chose
        another) is skipped, a decision's choice of an earlier section goes back to it, and a
        section with `repeat:` is walked again until its `until` holds. A dry run shows every
        section once."""
        parts = blocks(scope.sop.steps)
        position = {sid: i for i, (sid, _) in enumerate(parts)}
        owners = _owners(scope.sop, position)  # later section -> decide steps naming it
        try:
            self._sections(scope, parts, position, owners)
        except Stop as stop:
            if stop.how == "rollback":
                self._rollback(scope, stop.reason, stop.at)
            raise

    def _sections(
        self,
        scope: Scope,
        parts: Sequence[tuple[str, tuple[Step, ...]]],
        position: Mapping[str, int],
        owners: Mapping[str, list[Step]],
    ) -> None:
        s, sop = self.services, scope.sop
        chosen: dict[str, set[str]] = {}  # decide step id -> the later sections it chose
        conditions = section_conditions(sop)
        passes: dict[str, int] = {}  # section id -> passes started (its steps' round)
        streak = 0  # passes of the current section in a row (what `repeat: max` counts)
        again = False
        i = 0
        while i < len(parts):
            sid, steps = parts[i]
            section = sop.section(sid)
            passes[sid] = passes.get(sid, 0) + 1
            streak = streak + 1 if again else 1
            again = False
            here = dataclasses.replace(scope, round=passes[sid])
            starting = self._before_start(steps, here)
            why_not = (
                f"the run starts at step {self.options.start_at} (--start-at)"
                if starting
                else self._why_not(section, sid, owners, chosen, here)
            )
            if section is not None and why_not:
                if not self._restored_all(steps, here):  # a resumed walk skips it again, quietly
                    s.emit(
                        ev.SectionSkipped(
                            s.clock.now(), section.title, sid, why_not, here.depth, here.round
                        )
                    )
                for step in steps:
                    if starting:  # each step skipped as --start-at skips it, a deviation
                        self._step(step, here)
                        s.leave_defined(step, here)
                    else:
                        self._skip_unchosen(step, here, why_not)
                i += 1
                continue
            if section is not None:
                s.emit(
                    ev.SectionStarted(
                        s.clock.now(),
                        section.title,
                        here.depth,
                        note=_section_note(section.note, here.variables),
                        section_id=sid,
                        round=here.round,
                        condition=conditions.get(sid, ""),
                    )
                )
            back = None
            for step in steps:
                key = self._step(step, here)
                s.leave_defined(step, here)
                choice = s.decisions.get(key) if step.kind == "decide" else None
                if choice is None or self.options.dry_run:
                    continue
                goto = goto_of(step, choice)
                earlier = [t for t in goto if position.get(t, len(parts)) <= i]
                if earlier:
                    back = earlier[0]
                    break
                chosen[step.id] = set(goto)
            if back is not None:
                i = position[back]
            elif section is not None and section.until and not self.options.dry_run:
                again = self._again(section, here, streak)
                if again:
                    continue
                i += 1
            else:
                i += 1

    def _why_not(
        self,
        section: Section | None,
        sid: str,
        owners: Mapping[str, list[Step]],
        chosen: Mapping[str, set[str]],
        scope: Scope,
    ) -> str:
        """Why a section does not apply ("" when it does): no decision that names it chose it,
        or its `when` is false. A dry run walks every section."""
        if section is None or self.options.dry_run:
            return ""
        deciders = owners.get(sid, [])
        if deciders and not any(sid in chosen.get(d.id, ()) for d in deciders):
            named = ", ".join(f"step {d.number} ({d.id})" for d in deciders)
            return f"not chosen by the decision at {named}"
        if section.when:
            try:
                holds = templating.evaluate(section.when, scope.variables)
            except templating.TemplateError as exc:
                raise Stop("failure", f"section '{section.title}': when: {exc}") from None
            if not holds:
                return f"`when: {section.when}` is false"
        return ""

    def _restored_all(self, steps: Sequence[Step], scope: Scope) -> bool:
        restored = self.restored
        return restored is not None and all(
            restored.outcomes.get(step_ref(step, scope).key) in FINISHED for step in steps
        )

    def _skip_unchosen(self, step: Step, scope: Scope, why: str) -> None:
        """A step of a section that does not apply: skipped, with the section's reason, and
        its variables left defined (empty)."""
        s = self.services
        ref = step_ref(step, scope)
        s.entering(ref, scope)  # later steps see it as `steps.ID`, skipped
        if not (self.restored and self.restored.outcomes.get(ref.key) in FINISHED):
            s.finish(ref, Outcome.SKIPPED, 0.0, reason=f"section skipped: {why}")
        s.leave_defined(step, scope)

    def _again(self, section: Section, scope: Scope, streak: int) -> bool:
        """After a pass of a repeating section: walk it again? Its `until` decides, at most
        `max` passes; then the responder chooses to go on or stop (a run with --yes stops).
        A resumed run follows the verdict the log holds for this pass."""
        s = self.services
        key = section_key(section.id, scope)
        verdict = s.decisions.get(key)
        if verdict is None:
            try:
                held = bool(templating.evaluate(section.until or "", scope.variables))
            except templating.TemplateError as exc:
                raise Stop("failure", f"section '{section.title}': until: {exc}") from None
            verdict = "done" if held else "again" if streak < section.max else "limit"
            reason = (
                f"`until: {section.until}` holds"
                if held
                else f"`until: {section.until}` does not hold yet"
            )
            if verdict == "limit":
                reason += f" after {streak} passes"
                self._limit(section, reason)
            s.decisions[key] = verdict
            s.emit(
                ev.SectionPassed(
                    s.clock.now(),
                    section.title,
                    section.id,
                    scope.round,
                    verdict,
                    reason,
                    scope.depth,
                    key,
                )
            )
        return verdict == "again"

    def _limit(self, section: Section, reason: str) -> None:
        """A repeating section used its passes: go on only if the responder says so."""
        s = self.services
        if self.options.yes or s.prompter is None:
            raise Stop("failure", f"section '{section.title}': {reason}")
        choice = s.prompter.choose(
            f"{section.title}: {reason}. What now?",
            [("g", "go on"), ("q", "quit"), ("a", "abort"), ("b", "rollback")],
        )
        if choice == "q":
            raise Stop("quit")
        if choice == "a":
            raise Stop("abort", s.reason("Why abort the run? (it cannot be resumed)"))
        if choice == "b":
            raise Stop("rollback", reason, s.at)

    def _rollback(self, scope: Scope, reason: str, at: ev.StepRef | None) -> None:
        """Walk the scope's rollback steps; those a resumed run finished before stay done."""
        resumed = bool(self._rollbacks)  # this one started before the run paused
        if resumed:
            self._rollbacks.pop(0)
        self.emit(ev.RollbackStarted(self.services.clock.now(), reason, at, resumed))
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

    def _step(self, step: Step, scope: Scope) -> str:
        """Prepare a step (resumed? `when`? its title and note) and hand it to its handler.
        Returns its key."""
        s = self.services
        ref = s.at = step_ref(step, scope)
        s.entering(ref, scope)
        key = ref.key
        if self._rollbacks and key == self._rollbacks[0][0]:  # a rollback was chosen here
            raise Stop("rollback", self._rollbacks[0][1], ref)
        if self.restored is not None:
            if self.restored.outcomes.get(key) in FINISHED and not (
                step.kind == "call" and key in self.restored.in_doubt
            ):
                self.emit(ev.StepRestored(s.clock.now(), ref, self.restored.outcomes[key]))
                return key
            evidence = self.restored.in_doubt.pop(key, None)
            if evidence is not None and step.kind != "call" and self._in_doubt(ref, step, evidence):
                return key
        self._remind()
        requested = self._requested_skip(step, scope)
        if requested is not None:
            kind, reason = requested
            self.emit(ev.Deviation(s.clock.now(), ref, kind, reason))
            s.finish(ref, Outcome.SKIPPED, 0.0, reason=reason)
            return key
        if step.when and not self.options.dry_run:
            try:
                go = templating.evaluate(step.when, scope.variables)
            except templating.TemplateError as exc:
                s.broken(ref, step, f"when: {exc}")
                return key
            if not go:
                s.finish(ref, Outcome.SKIPPED, 0.0, reason=f"`when: {step.when}` is false")
                return key
        try:
            title = templating.render(step.title, scope.variables) if step.title else ""
            ref = s.at = step_ref(step, scope, title)
            note = templating.render_markdown(step.note, scope.variables) if step.note else ""
            if step.when and self.options.dry_run:  # a dry run shows every step: say when
                note = f"{note}\n\n" if note else ""
                note += f"Only when `{step.when}`"
        except templating.TemplateError as exc:
            s.broken(ref, step, str(exc))
            return key
        HANDLERS[step.kind](s, step, scope, ref, note)
        return key

    def _requested_skip(self, step: Step, scope: Scope) -> tuple[str, str] | None:
        """A step of the run's own SOP that the command line skips: one before `--start-at`,
        or one `--skip` names. The deviation's kind and reason; None for the others."""
        options = self.options
        if scope.depth:
            return None
        if self._starting:
            if step.id != options.start_at:
                return "start-at", f"{options.start_at_reason} (--start-at {options.start_at})"
            self._starting = False
        if step.id in options.skip:
            return "skip", f"{options.skip[step.id]} (--skip)"
        return None

    def _before_start(self, steps: Sequence[Step], scope: Scope) -> bool:
        """A section walked before the `--start-at` step, which is not in it: skipped whole."""
        return (
            self._starting
            and not scope.depth
            and all(step.id != self.options.start_at for step in steps)
        )

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


def _owners(sop: Sop, position: Mapping[str, int]) -> dict[str, list[Step]]:
    """The sections that apply only when a decision chooses them: those a decide step's
    options (or `else`) name after the step's own section, each with its decide steps."""
    owners: dict[str, list[Step]] = {}
    for step in sop.steps:
        here = position.get(step.section_id, -1)
        for goto in [*(o.goto for o in step.options), step.otherwise]:
            for target in goto:
                if position.get(target, -1) > here and step not in owners.get(target, []):
                    owners.setdefault(target, []).append(step)
    return owners
