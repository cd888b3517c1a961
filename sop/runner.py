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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from sop import events as ev
from sop import templating
from sop.errors import SopError
from sop.executors import Executors
from sop.executors.base import HostResult, Job
from sop.fanout import FanOut
from sop.inputs import ResolvedInputs, resolve_inputs, validate
from sop.model import BUILTIN_VARIABLES as BUILTINS
from sop.model import Input, Inventory, Sop, Step
from sop.redact import MASK, Redactor, shared
from sop.targets import resolve_targets


class ConfirmationRequired(SopError):
    """A non-interactive run reached a step that `--yes` does not answer."""


class Clock(Protocol):
    def now(self) -> float: ...

    def monotonic(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


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


@dataclass(frozen=True)
class RunResult:
    outcome: str  # success | failure | aborted | rolled-back | interrupted
    run_id: str
    trace_id: str
    steps: Mapping[str, str]

    @property
    def exit_code(self) -> int:
        return {"success": 0, "interrupted": 130}.get(self.outcome, 1)


class _Stop(Exception):
    """Unwinds the walk: the responder chose abort/quit/rollback, or a non-interactive run failed."""

    def __init__(self, how: str, reason: str = "") -> None:
        self.how = how  # "abort" | "rollback" | "failure" | "quit"
        self.reason = reason


SKIP, DONE = "skipped", "done"
FINISHED = ("success", "done", "skipped")


@dataclass
class Restored:
    """What a resumed run knows from before: outcomes by step key, variables by scope prefix,
    and the steps in doubt (started, never finished) with the evidence to show."""

    outcomes: dict[str, str] = field(default_factory=dict)
    variables: dict[str, dict[str, Any]] = field(default_factory=dict)
    in_doubt: dict[str, str] = field(default_factory=dict)


def step_key(ref: ev.StepRef) -> str:
    """How a step is named in saved state: its id, or SOP:number inside a call."""
    return f"{ref.sop_id}:{ref.number}" if ref.depth else ref.id


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
        if isinstance(value, str):
            value = redactor(str(value))
        elif isinstance(value, Mapping):
            value = {k: redactor(str(v)) for k, v in value.items()}
        out[name] = [kind, value]
    return out


def load_variables(saved: Mapping[str, Any]) -> dict[str, Any]:
    wrap = {"choice": templating.Choice, "dash": templating.DashOk}
    out: dict[str, Any] = {}
    for name, (kind, value) in saved.items():
        out[name] = wrap[kind](value) if kind in wrap else value
    return out


LoadCallee = Callable[[str, Sop], Sop]


@dataclass
class Scope:
    """One SOP's variables while it is walked (a call gets a scope of its own)."""

    sop: Sop
    variables: dict[str, Any]
    targets: tuple[str, ...]
    prefix: str = ""
    depth: int = 0


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
        options: RunOptions = RunOptions(),
        load_callee: LoadCallee | None = None,
        restored: Restored | None = None,
        persist: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.sop = sop
        self.inputs = inputs
        self.inventory = inventory
        self.prompter = prompter
        self.executors = executors
        self.sinks = list(sinks)
        self.clock = clock
        self.options = options
        self.load_callee = load_callee
        self.run_id = options.run_id or uuid.uuid4().hex[:16]
        self.trace_id = options.trace_id or uuid.uuid4().hex
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
            event = _redact(event, self.redactor)
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
                str(self.sop.path),
                self.sop.sha256,
                self.options.operator,
                self.options.incident,
                dict(self.inputs.shown),
                top.targets,
                self.options.dry_run,
                resumed=self.restored is not None,
            )
        )
        outcome = "success"
        try:
            self._walk(top)
        except _Stop as stop:
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
                self.clock.now(), outcome, self.clock.monotonic() - started, dict(self.outcomes)
            )
        )
        return RunResult(outcome, self.run_id, self.trace_id, dict(self.outcomes))

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
            except _Stop as stop:
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
            except _Stop as stop:
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
        self.emit(
            ev.StepShown(self.clock.now(), ref, note=f"**Cannot prepare this step:** {message}")
        )
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
        self.persist({"outcomes": dict(self.outcomes), "variables": scopes})

    def _in_doubt(self, ref: ev.StepRef, step: Step, evidence: str) -> bool:
        """A step that started and never finished. True when it is settled (marked done)."""
        self.emit(
            ev.StepShown(
                self.clock.now(),
                ref,
                note=f"**In doubt:** this step started before the "
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
            raise _Stop("abort", f"step {ref.number} in doubt")
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
            choice = self._prompt().choose(
                "Done?", [("d", "done"), ("s", "skip"), ("q", "quit")], "d"
            )
            if choice == "q":
                raise _Stop("quit")
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
                self.emit(ev.StepShown(self.clock.now(), ref, note=str(exc)))
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

    # -- run, script, task -------------------------------------------------------------------

    def _executable(self, step: Step, scope: Scope, ref: ev.StepRef, note: str) -> None:
        try:
            job = self._job(step, scope, ref)
            target_names = tuple(
                templating.render(t, scope.variables) for t in (step.on or scope.targets)
            )
            hosts = resolve_targets(target_names, self.inventory)
        except SopError as exc:
            self._broken(ref, step, str(exc))
            return
        host_names = tuple(h.name for h in hosts)
        self.emit(
            ev.StepShown(
                self.clock.now(),
                ref,
                note=note,
                command=job.command,
                hosts=host_names,
                confirm=step.confirm,
            )
        )
        if self.options.dry_run:
            if step.capture:
                scope.variables[step.capture] = f"<output of step {ref.number}>"
            self._finish(ref, "dry-run", 0.0)
            return
        confirmed = self._confirm(step, ref, job, target_names, host_names)
        if confirmed is None:
            return
        job = confirmed
        attempt = 0
        while True:
            attempt += 1
            results, duration = self._attempts(step, ref, job, hosts, attempt)
            if all(r.ok for r in results):
                self._capture(step, scope, results)
                self._finish(ref, "success", duration, attempt=attempt, results=results)
                return
            outcome = (
                "interrupted" if any(r.outcome == "interrupted" for r in results) else "failure"
            )
            self._finish(ref, outcome, duration, attempt=attempt, results=results)
            failed = ", ".join(
                f"{r.host}: {r.error or f'exit {r.exit_code}'}" for r in results if not r.ok
            )
            if self._failure_menu(ref, step, failed) != "retry":
                return

    def _attempts(
        self, step: Step, ref: ev.StepRef, job: Job, hosts: Sequence[Any], attempt: int
    ) -> tuple[list[HostResult], float]:
        """Run, and while it fails, run again up to `retries` times, `delay` apart."""
        started = self.clock.monotonic()
        tries = 0
        while True:
            tries += 1
            env = {**job.env, "SOP_ATTEMPT": str(attempt)}
            self.emit(
                ev.StepStarted(
                    self.clock.now(), ref, attempt, tuple(h.name for h in hosts), job.command
                )
            )
            results = self._fan(dataclasses.replace(job, env=env), hosts, step, ref, attempt)
            if (
                all(r.ok for r in results)
                or tries > step.retries
                or any(r.outcome == "interrupted" for r in results)
            ):
                return results, self.clock.monotonic() - started
            self.emit(
                ev.StepShown(
                    self.clock.now(),
                    ref,
                    note=f"Failed; trying again in {step.delay:g}s "
                    f"({tries} of {step.retries} retries).",
                )
            )
            self.clock.sleep(step.delay)

    def _fan(
        self, job: Job, hosts: Sequence[Any], step: Step, ref: ev.StepRef, attempt: int
    ) -> list[HostResult]:
        try:
            if step.canary and len(hosts) > step.canary:
                first = self.fanout.run(job, hosts[: step.canary], ref, attempt, step.parallel)
                if not all(r.ok for r in first):
                    return first + [
                        HostResult(
                            h.name, "failure", None, "", "", 0.0, "not run: the canary failed"
                        )
                        for h in hosts[step.canary :]
                    ]
                rest = hosts[step.canary :]
                if not self.options.yes:
                    go = self._prompt().choose(
                        f"The canary succeeded. Run on the other {len(rest)} host(s)?",
                        [("y", "yes"), ("n", "no")],
                        "y",
                    )
                    if go != "y":
                        return first + [
                            HostResult(
                                h.name,
                                "failure",
                                None,
                                "",
                                "",
                                0.0,
                                "not run: stopped after the canary",
                            )
                            for h in rest
                        ]
                return first + self.fanout.run(job, rest, ref, attempt, step.parallel)
            return self.fanout.run(job, hosts, ref, attempt, step.parallel)
        except KeyboardInterrupt:
            self.emit(ev.Interrupted(self.clock.now(), ref))
            return [
                HostResult(h.name, "interrupted", None, "", "", 0.0, "interrupted by the responder")
                for h in hosts
            ]

    def _job(self, step: Step, scope: Scope, ref: ev.StepRef) -> Job:
        span = uuid.uuid4().hex[:16]
        env = {
            "SOP_RUN_ID": self.run_id,
            "SOP_TRACE_ID": self.trace_id,
            "SOP_STEP": step.id,
            "TRACEPARENT": f"00-{self.trace_id}-{span}-01",
        }
        secrets = {name: value for name, value in self.secrets.items()}
        if step.kind == "task":
            task = self._task(scope.sop, step)
            args = {k: _render_data(v, scope.variables) for k, v in step.args.items()}
            shown = ", ".join(f"{k}={v!r}" for k, v in args.items())
            return Job("task", f"{step.body}({shown})", env, secrets, step.timeout, task, args)
        command = templating.render(step.body, scope.variables, shell=True)
        return Job(step.kind, command, env, secrets, step.timeout)

    def _task(self, sop: Sop, step: Step) -> Any:
        from sop.tasks import find_task, load_tasks, task_names

        if sop.tasks is None:
            raise SopError(f"step {step.id} is a task step, but the SOP has no `tasks:` file")
        collection = load_tasks(sop.tasks)
        task = find_task(collection, step.body)
        if task is None:
            raise SopError(
                f"no task '{step.body}' in {sop.tasks.name} (it defines: {', '.join(task_names(collection))})"
            )
        return task

    def _confirm(
        self,
        step: Step,
        ref: ev.StepRef,
        job: Job,
        targets: tuple[str, ...],
        hosts: tuple[str, ...],
    ) -> Job | None:
        """The responder's go-ahead: the job to run (maybe edited), or None when skipped."""
        if step.confirm == "never":
            self.emit(ev.StepConfirmed(self.clock.now(), ref, "never", job.command, hosts))
            return job
        if self.options.yes:
            if step.confirm in ("always", "typed") and step.id not in self.options.confirm:
                raise ConfirmationRequired(
                    f"step {ref.number} ({step.id}) needs the responder's "
                    f"{'typed ' if step.confirm == 'typed' else ''}confirmation; --yes does not give it. "
                    f"Run interactively, or name the step: --confirm {step.id}"
                )
            how = "--confirm" if step.id in self.options.confirm else "--yes"
            self.emit(ev.StepConfirmed(self.clock.now(), ref, how, job.command, hosts))
            return job
        prompter = self._prompt()
        choices = (
            [("r", "run"), ("s", "skip"), ("e", "edit"), ("q", "quit")]
            if step.kind != "task"
            else [("r", "run"), ("s", "skip"), ("q", "quit")]
        )
        while True:
            choice = prompter.choose(f"Run on {', '.join(hosts)}?", choices)
            if choice == "q":
                raise _Stop("quit")
            if choice == "s":
                self._skip(ref, step)
                return None
            if choice == "e":
                edited = prompter.edit(job.command)
                if edited.strip() and edited != job.command:
                    reason = self._reason("Why change the command?")
                    self.emit(
                        ev.Deviation(self.clock.now(), ref, "edit", reason, job.command, edited)
                    )
                    job = dataclasses.replace(job, command=edited)
                self.emit(
                    ev.StepShown(
                        self.clock.now(),
                        ref,
                        command=job.command,
                        hosts=hosts,
                        confirm=step.confirm,
                    )
                )
                continue
            if step.confirm == "typed":
                expected = ", ".join(targets)
                typed = prompter.text(f"Type '{expected}' to run on it").strip()
                if typed != expected:
                    self.emit(
                        ev.StepShown(
                            self.clock.now(),
                            ref,
                            note=f"'{typed}' is not '{expected}': nothing ran.",
                        )
                    )
                    continue
            self.emit(
                ev.StepConfirmed(
                    self.clock.now(),
                    ref,
                    "typed" if step.confirm == "typed" else "interactive",
                    job.command,
                    hosts,
                )
            )
            return job

    def _failure_menu(self, ref: ev.StepRef, step: Step, why: str, allow_retry: bool = True) -> str:
        """retry / skip (reason) / abort / rollback. Returns "retry" or "skip"; raises _Stop."""
        if self.options.yes or self.prompter is None:
            raise _Stop("failure", f"step {ref.number} ({step.id}) failed: {why}")
        choices = ([("r", "retry")] if allow_retry else []) + [
            ("s", "skip"),
            ("a", "abort"),
            ("b", "rollback"),
        ]
        choice = self.prompter.choose("The step failed. What now?", choices)
        names = {"r": "retry", "s": "skip", "a": "abort", "b": "rollback"}
        reason = self._reason("Why skip this step?") if choice == "s" else ""
        self.emit(ev.MenuChoice(self.clock.now(), ref, names[choice], reason))
        if choice == "s":
            self._skip(ref, step, reason)
            return "skip"
        if choice == "a":
            raise _Stop("abort", why)
        if choice == "b":
            raise _Stop("rollback", why)
        return "retry"

    def _capture(self, step: Step, scope: Scope, results: Sequence[HostResult]) -> None:
        if not step.capture:
            return
        value = results[0].stdout if len(results) == 1 else {r.host: r.stdout for r in results}
        scope.variables[step.capture] = value
        self.emit(ev.Captured(self.clock.now(), self._ref(step, scope), step.capture, value))


def _render_data(value: Any, variables: Mapping[str, Any]) -> Any:
    if isinstance(value, str):
        return templating.render(value, variables, shell=True)
    if isinstance(value, list):
        return [_render_data(v, variables) for v in value]
    if isinstance(value, dict):
        return {k: _render_data(v, variables) for k, v in value.items()}
    return value


def _redact(event: ev.Event, redactor: Redactor) -> ev.Event:
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
        return _redact(value, redactor)
    return value


def default_operator() -> str:
    import getpass

    try:
        return getpass.getuser()
    except Exception:  # no user name in this environment
        return str(os.getuid())


def sop_folder(sop: Sop) -> Path:
    return sop.path.resolve().parent
