"""What the step handlers may use, in one object: the run's options, clock, responder, inventory
and fan-out; its events (emit, finish); the menus every kind of step shares (skip, broken,
failure, off-script, a reason); the masking of secrets; its scopes and the state it hands to resume.

Calls go one way: the runner calls a handler, the handler calls these, these call no handler.
(A call step walks its callee through `walk`, the runner's walk, given in.)"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

from sop import events as ev
from sop import templating
from sop.events import Clock, Outcome
from sop.executors import Executors
from sop.executors.base import HostResult
from sop.model import LOCAL, STEP_RESULTS, Inventory, Sop, Step
from sop.redact import Redactor
from sop.run.fanout import FanOut
from sop.run.inputs import ResolvedInputs, validate
from sop.run.openfiles import OpenFiles
from sop.run.options import ConfirmationRequired, Prompter, RunOptions
from sop.run.scope import (
    Restored,
    Scope,
    Stop,
    redact_event,
    restore_variables,
    save_variables,
)
from sop.run.stepresults import step_result
from sop.run.tracecontext import new_span_id

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
        span_id: str,
        environ: Mapping[str, str],
        shared_redactor: Redactor | None,
        load_callee: LoadCallee | None,
        restored: Restored | None,
        persist: Persist | None,
        walk: Walk,
        run_dir: Path | None = None,
    ) -> None:
        self.options = options
        self.clock = clock
        self.prompter = prompter
        self.inventory = inventory
        self.run_id = run_id
        self.trace_id = trace_id
        self.span_id = span_id  # the run span: the parent of each step's
        self._step_spans: dict[str, str] = {}  # step key -> the span of its attempt under way
        self.environ = environ  # what call steps read their callee's inputs from
        self.load_callee = load_callee
        self.run_dir = run_dir  # where interactive sessions are recorded, approvals received
        self.shown_inputs: Mapping[str, str] = {}  # the run's inputs as shown (secrets masked)
        self.walk = walk
        self.redactor = Redactor()
        self._shared_redactor = shared_redactor
        self.outcomes: dict[str, Outcome] = dict(restored.outcomes) if restored else {}
        # hosts left out of the rest of the run: host -> the responder's reason
        self.excluded: dict[str, str] = dict(restored.excluded) if restored else {}
        # decide steps' choices (by step key) and repeating sections' verdicts (by section key)
        self.decisions: dict[str, str] = dict(restored.decisions) if restored else {}
        # refusals of approvals shown before a resume (`Restored.refusals`)
        self.refusals = restored.refusals if restored else frozenset()
        # answers shown as not accepted before a resume (`Restored.rejections`)
        self.rejections = restored.rejections if restored else frozenset()
        self.scopes: dict[str, Scope] = {}
        self.at: ev.StepRef | None = None  # the step being walked (where a pause happens)
        # a status update due while the run waits (an approval): asked, or recorded as missed
        self.remind: Callable[[], None] = _nothing
        self._scope_of: dict[str, Scope] = {}  # step key -> the scope walking it
        self._restored = restored
        self._persist_state = persist
        # the audit log first: a sink that fails after it (a closed terminal) loses no record
        self._durable = [sink for sink in sinks if isinstance(sink, ev.DurableSink)]
        self._sinks = [
            *self._durable,
            *(sink for sink in sinks if not isinstance(sink, ev.DurableSink)),
        ]
        self._lock = threading.Lock()
        self.open_files = OpenFiles(options.executes)
        self.fanout = FanOut(executors, self, clock, self.redactor, trace_id, self.open_files)

    # -- events ------------------------------------------------------------------------------

    def emit(self, event: ev.Event) -> None:
        """Hand `event` to every sink; return once the audit log holds it on disk."""
        self.record(event)
        self.settle()

    def record(self, event: ev.Event) -> None:
        """`emit` without waiting for the disk: the caller calls `settle` before going on
        (outside any lock of its own, so that host threads share the wait)."""
        if not isinstance(event, ev.Output):  # output was masked as it streamed
            event = redact_event(event, self.redactor)
        with self._lock:
            for sink in self._sinks:
                sink.emit(event)

    def settle(self) -> None:
        """Wait until what the sinks were given is on disk."""
        for sink in self._durable:
            sink.settle()

    def attempt_span(self, ref: ev.StepRef) -> str:
        """The span of the step's attempt under way: made at its first `StepStarted`, kept by
        its retries, ended by its `StepFinished`."""
        return self._step_spans.setdefault(ref.key, new_span_id())

    def finish(
        self,
        ref: ev.StepRef,
        outcome: Outcome,
        duration: float,
        *,
        attempt: int = 1,
        results: Sequence[HostResult] = (),
        reason: str = "",
        attempts: Mapping[str, int] | None = None,
    ) -> None:
        """`attempts`: the attempt each host's result comes from, when not all from `attempt`
        (a retry of the failed hosts keeps the others' earlier results). Later steps of its
        scope see the step's result as `steps.ID` (saved with the state, for resume)."""
        self.outcomes[ref.key] = outcome
        scope = self._scope_of.get(ref.key)
        if scope is not None:
            scope.variables[STEP_RESULTS][ref.id] = step_result(outcome, results, self.redactor)
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
                (attempts or {}).get(r.host, attempt),
            )
            for r in results
        )
        span = self._step_spans.pop(ref.key, None) or new_span_id()
        self.emit(
            ev.StepFinished(
                self.clock.now(),
                ref,
                outcome,
                duration,
                attempt,
                finished,
                reason,
                span_id=span,
                parent_span_id=self.span_id,
            )
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

    def entering(self, ref: ev.StepRef, scope: Scope) -> None:
        """The step `ref` is walked in `scope`: its result goes to that scope's `steps`."""
        self._scope_of[ref.key] = scope

    def leave_defined(self, step: Step, scope: Scope) -> None:
        """After a step that did not set its variables (skipped by the responder or `when`, or
        in a section that did not apply): each question is its default or empty, the capture
        empty, so that a later `when` or template reads "" instead of failing."""
        for q in step.ask:  # a secret answer is never a template's value: nothing to leave
            if q.name not in scope.variables and not q.secret:
                scope.variables[q.name] = (
                    "" if q.default is None else validate(q, q.default, "answer")
                )
        if step.capture and step.capture not in scope.variables:
            scope.variables[step.capture] = ""

    def variables(self, sop: Sop, inputs: ResolvedInputs) -> dict[str, Any]:
        """A new scope's variables: its inputs (secrets as placeholders), the built-ins and the
        results of its finished steps (`steps`)."""
        return {
            STEP_RESULTS: {},
            **inputs.values,
            **{name: templating.Secret(name) for name in inputs.secrets},
            "sop_id": sop.id,
            "run_id": self.run_id,
            "trace_id": self.trace_id,
            "incident": self.options.incident or "",
            "operator": self.options.operator,
        }

    def open_scope(self, scope: Scope) -> Scope:
        """Keep `scope` for resume, with the variables a resumed run saved for it, each checked
        again against the scope's SOP as it is now."""
        self.scopes[scope.prefix] = scope
        if self._restored is not None:
            saved = self._restored.variables.get(scope.prefix, {})
            where = f"the saved state of {scope.sop.id}" + (
                f" (called as step {scope.prefix[:-1]})" if scope.prefix else ""
            )
            scope.variables.update(restore_variables(saved, scope.sop, where))
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

    def abort(self, ref: ev.StepRef) -> NoReturn:
        """End the run for good (it cannot be resumed), with the responder's reason."""
        reason = self.reason("Why abort the run? (it cannot be resumed)")
        self.emit(ev.MenuChoice(self.clock.now(), ref, "abort", reason))
        raise Stop("abort", reason)

    def skip(
        self,
        ref: ev.StepRef,
        step: Step,
        reason: str = "",
        results: Sequence[HostResult] = (),
        attempts: Mapping[str, int] | None = None,
    ) -> None:
        """Skip the step, with a reason. After it succeeded on some hosts (`results`), it is
        partial, not skipped, and its record keeps each host's result."""
        reason = reason or self.reason("Why skip this step?")
        self.emit(ev.Deviation(self.clock.now(), ref, "skip", reason))
        outcome = Outcome.PARTIAL if any(r.ok for r in results) else Outcome.SKIPPED
        self.finish(ref, outcome, 0.0, results=results, reason=reason, attempts=attempts)

    def exclude(self, ref: ev.StepRef, hosts: Sequence[str], reason: str) -> None:
        """Leave `hosts` out of every later step of the run (resume too), with the reason."""
        for host in hosts:
            self.excluded[host] = reason
            self.emit(ev.HostExcluded(self.clock.now(), ref, host, reason))

    def off_script(self, ref: ev.StepRef) -> None:
        """The responder did something the SOP does not say: recorded, with the reason."""
        action = self.reason("What did you do outside the SOP?")
        reason = self.reason("Why?")
        self.emit(ev.Deviation(self.clock.now(), ref, "off-script", reason, replacement=action))

    def broken(self, ref: ev.StepRef, step: Step, message: str) -> None:
        """A step that cannot even be prepared: show why and offer skip/abort/rollback. A dry
        run stops there, as a run without a menu does: it must fail where the real run would."""
        self.emit(ev.StepShown(self.clock.now(), ref, plain=f"Cannot prepare this step: {message}"))
        if self.options.dry_run:
            raise Stop("failure", f"step {ref.number} ({step.id}) failed: {message}")
        self.failure_menu(ref, step, message, allow_retry=False)

    def failure_menu(
        self,
        ref: ev.StepRef,
        step: Step,
        why: str,
        allow_retry: bool = True,
        results: Sequence[HostResult] = (),
        attempts: Mapping[str, int] | None = None,
    ) -> str:
        """retry (the failed hosts) / retry all / exclude the failed host(s) / skip (reason) /
        abort / rollback. Returns "retry", "retry-all", "exclude" (the hosts are excluded) or
        "skip" (the caller records the skip); raises Stop."""
        if self.options.yes or self.prompter is None:
            raise Stop("failure", f"step {ref.number} ({step.id}) failed: {why}")
        failed = [r.host for r in results if not r.ok and r.host not in self.excluded]
        some_ok = any(r.ok for r in results)
        remote = [h for h in failed if h != LOCAL]  # the responder's machine is not excluded
        choices: list[tuple[str, str]] = []
        if allow_retry:
            choices += [("r", "retry failed")] if some_ok else [("r", "retry")]
            choices += [("l", "retry all")] if some_ok else []
        if remote:
            choices += [("e", f"exclude {remote[0]}" if len(remote) == 1 else "exclude hosts")]
        choices += [("s", "skip"), ("o", "off-script"), ("a", "abort"), ("b", "rollback")]
        prompt = (
            f"The step failed on {len(failed)} of {len(results)} hosts. What now?"
            if some_ok
            else "The step failed. What now?"
        )
        choice = self.prompter.choose(prompt, choices)
        while choice == "o":  # e.g. fixed it by hand: recorded, then the menu again
            self.off_script(ref)
            choice = self.prompter.choose(prompt, choices)
        names = {
            "r": "retry",
            "l": "retry-all",
            "e": "exclude",
            "s": "skip",
            "b": "rollback",
        }
        if choice == "a":
            self.abort(ref)
        hosts = self._which_failed(ref, remote) if choice == "e" else []
        reason = ""
        if choice == "s":
            reason = self.reason("Why skip this step?")
        elif choice == "e":
            reason = self.reason(f"Why exclude {', '.join(hosts)} for the rest of the run?")
        self.emit(ev.MenuChoice(self.clock.now(), ref, names[choice], reason))
        if choice == "e":
            self.exclude(ref, hosts, reason)
        if choice == "b":
            raise Stop("rollback", why, ref)
        if choice == "s":
            self.skip(ref, step, reason, results, attempts)
        return names[choice]

    def _which_failed(self, ref: ev.StepRef, failed: Sequence[str]) -> list[str]:
        """The failed hosts to exclude: the one, or those the responder names (Enter: all)."""
        if len(failed) == 1:
            return list(failed)
        while True:
            answer = self.prompt().text(
                f"Exclude which host(s)? {', '.join(failed)} (Enter for all of them)"
            )
            names = [n for n in answer.replace(",", " ").split() if n]
            if not names:
                return list(failed)
            unknown = [n for n in names if n not in failed]
            if not unknown:
                return [h for h in failed if h in names]
            self.emit(
                ev.StepShown(
                    self.clock.now(),
                    ref,
                    plain=f"{', '.join(unknown)}: not a host that failed here "
                    f"({', '.join(failed)})",
                )
            )


def _nothing() -> None:
    """No status updates in this run."""
