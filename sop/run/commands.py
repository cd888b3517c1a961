"""Executable steps (`run`, `script`, `task`): confirm, run on the hosts with retries and a
canary, capture, and the failure menu. A part of `Runner`, kept in its own module."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from sop import events as ev
from sop import templating
from sop.clock import Clock
from sop.errors import SopError
from sop.executors.base import HostResult, Job
from sop.model import Inventory, Sop, Step
from sop.run.fanout import FanOut
from sop.run.options import ConfirmationRequired, Prompter, RunOptions
from sop.run.scope import Scope, Stop
from sop.run.targets import resolve_targets


class ExecutableSteps:
    """Mixed into `Runner`; these are the parts of it the methods below use."""

    options: RunOptions
    clock: Clock
    prompter: Prompter | None
    inventory: Inventory | None
    fanout: FanOut
    run_id: str
    trace_id: str
    secrets: dict[str, str]

    def emit(self, event: ev.Event) -> None:
        raise NotImplementedError

    def _broken(self, ref: ev.StepRef, step: Step, message: str) -> None:
        raise NotImplementedError

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
        raise NotImplementedError

    def _skip(self, ref: ev.StepRef, step: Step, reason: str = "") -> None:
        raise NotImplementedError

    def _reason(self, prompt: str) -> str:
        raise NotImplementedError

    def _off_script(self, ref: ev.StepRef) -> None:
        raise NotImplementedError

    def _prompt(self) -> Prompter:
        raise NotImplementedError

    def _ref(self, step: Step, scope: Scope, title: str = "") -> ev.StepRef:
        raise NotImplementedError

    # -- run, script, task -------------------------------------------------------------------

    def _executable(self, step: Step, scope: Scope, ref: ev.StepRef, note: str) -> None:
        try:
            job = self._job(step, scope, ref)
            target_names = tuple(
                templating.render(t, scope.variables) for t in (step.on or scope.targets)
            )
            hosts = resolve_targets(target_names, self.inventory, simulate=self.options.simulate)
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
            self.clock.sleep(step.delay * (self.options.pace if self.options.simulate else 1.0))

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
            # a simulated drill does not even import the tasks module: it runs nothing
            task = None if self.options.simulate else self._task(scope.sop, step)
            args = {k: render_data(v, scope.variables) for k, v in step.args.items()}
            shown = ", ".join(f"{k}={v!r}" for k, v in args.items())
            command = f"{step.body}({shown})"
            return Job("task", command, env, secrets, step.timeout, task, args, step.id, step.drill)
        command = templating.render(step.body, scope.variables, shell=True)
        return Job(
            step.kind, command, env, secrets, step.timeout, step_id=step.id, drill=step.drill
        )

    def _task(self, sop: Sop, step: Step) -> Any:
        from sop.executors.tasks import find_task, load_tasks, task_names

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
            needs_more = step.confirm in ("always", "typed") and not self.options.simulate
            if needs_more and step.id not in self.options.confirm:
                raise ConfirmationRequired(
                    f"step {ref.number} ({step.id}) needs the responder's "
                    f"{'typed ' if step.confirm == 'typed' else ''}confirmation; --yes does not give it. "
                    f"Run interactively, or name the step: --confirm {step.id}"
                )
            how = "--confirm" if step.id in self.options.confirm else "--yes"
            self.emit(ev.StepConfirmed(self.clock.now(), ref, how, job.command, hosts))
            return job
        prompter = self._prompt()
        choices = [("r", "run"), ("s", "skip")]
        choices += [("e", "edit")] if step.kind != "task" else []
        choices += [("o", "off-script"), ("q", "quit")]
        while True:
            choice = prompter.choose(f"Run on {', '.join(hosts)}?", choices)
            if choice == "o":
                self._off_script(ref)
                continue
            if choice == "q":
                raise Stop("quit")
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
                            plain=f"'{typed}' is not '{expected}': nothing ran.",
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
            self._off_script(ref)
            choice = self.prompter.choose("The step failed. What now?", choices)
        names = {"r": "retry", "s": "skip", "a": "abort", "b": "rollback"}
        reason = self._reason("Why skip this step?") if choice == "s" else ""
        self.emit(ev.MenuChoice(self.clock.now(), ref, names[choice], reason))
        if choice == "s":
            self._skip(ref, step, reason)
            return "skip"
        if choice == "a":
            raise Stop("abort", why)
        if choice == "b":
            raise Stop("rollback", why)
        return "retry"

    def _capture(self, step: Step, scope: Scope, results: Sequence[HostResult]) -> None:
        if not step.capture:
            return
        value = results[0].stdout if len(results) == 1 else {r.host: r.stdout for r in results}
        scope.variables[step.capture] = value
        self.emit(ev.Captured(self.clock.now(), self._ref(step, scope), step.capture, value))


def render_data(value: Any, variables: Mapping[str, Any]) -> Any:
    if isinstance(value, str):
        return templating.render(value, variables, shell=True)
    if isinstance(value, list):
        return [render_data(v, variables) for v in value]
    if isinstance(value, dict):
        return {k: render_data(v, variables) for k, v in value.items()}
    return value
