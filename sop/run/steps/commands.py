"""Executable steps (`run`, `script`, `task`): confirm, run on the hosts with retries and a
canary, capture the output; on failure, the failure menu."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from sop import events as ev
from sop import templating
from sop.errors import SopError
from sop.events import Outcome
from sop.executors.base import HostResult, Job
from sop.model import Host, Sop, Step, step_secrets
from sop.run.approval import await_approval, gate_of
from sop.run.fanout import HostsInterrupted, StoppedWaiting
from sop.run.interactive import needs_terminal, run_session
from sop.run.options import ConfirmationRequired
from sop.run.scope import Scope, Stop, step_ref
from sop.run.services import Services
from sop.run.targets import render_targets, resolve_targets

SIMULATED_SESSION = (
    "Interactive step: a real run hands your terminal to this command; "
    "the drill shows its simulated output."
)


def run_commands(services: Services, step: Step, scope: Scope, ref: ev.StepRef, note: str) -> None:
    s = services
    try:
        job = _job(s, step, scope)
        target_names = render_targets(
            step.on or scope.targets,
            scope.variables,
            s.inventory,
            allow=step.on_data if step.on else scope.on_data,
            simulate=s.options.simulated,
        )
        hosts = resolve_targets(target_names, s.inventory, simulate=s.options.simulated)
        if step.interactive and len(hosts) != 1:
            raise SopError(
                "an interactive step runs on exactly one host (it gets the responder's "
                f"terminal); it targets {len(hosts)}: {', '.join(h.name for h in hosts)}"
            )
        # what a typed confirmation asks for: the word the step names, else its targets
        word = (
            templating.render(step.confirm_word, scope.variables).strip()
            if step.confirm_word
            else ", ".join(target_names)
        )
        if not word:
            raise SopError("confirm: the word to type renders empty; nothing would be confirmed")
    except SopError as exc:
        s.broken(ref, step, str(exc))
        return
    excluded = {h.name: s.excluded[h.name] for h in hosts if h.name in s.excluded}
    hosts = tuple(h for h in hosts if h.name not in excluded)
    host_names = tuple(h.name for h in hosts)
    s.emit(
        ev.StepShown(
            s.clock.now(),
            ref,
            note=note,
            links=step.links,
            command=job.command,
            hosts=host_names,
            confirm=step.confirm,
            stdin=job.stdin,
            excluded=excluded,
            ok_exit=step.ok_exit,
            confirm_word=word if step.confirm == "typed" else "",
            interactive=step.interactive,
        )
    )
    if s.options.dry_run:
        if step.capture:
            scope.variables[step.capture] = templating.Placeholder(f"<output of step {ref.number}>")
        s.finish(ref, Outcome.DRY_RUN, 0.0)
        return
    if not hosts:
        s.finish(ref, Outcome.SKIPPED, 0.0, reason="every host it targets is excluded")
        return
    if not await_approval(s, step, ref, command=job.command, hosts=host_names, stdin=job.stdin).go:
        return
    confirmed = _confirm(s, step, ref, job, word, host_names)
    if confirmed is None:
        return
    _run_until_settled(s, step, scope, ref, confirmed, hosts)


def _run_until_settled(
    s: Services, step: Step, scope: Scope, ref: ev.StepRef, job: Job, hosts: Sequence[Host]
) -> None:
    """Run on `hosts`; while some fail, the failure menu: retry only the failed hosts (or all),
    exclude a failed host for the rest of the run, skip (partial when some succeeded), ..."""
    kept: dict[str, HostResult] = {}  # each host's latest result
    attempts: dict[str, int] = {}  # the attempt it comes from
    pending = hosts
    attempt = 0
    while True:
        attempt += 1
        results, duration = _attempts(s, step, ref, job, pending, attempt)
        for r in results:
            kept[r.host], attempts[r.host] = r, attempt
        merged = [kept[h.name] for h in hosts if h.name in kept]
        if all(r.ok for r in merged):
            _capture(s, step, scope, merged)
            s.finish(
                ref,
                Outcome.SUCCESS,
                duration,
                attempt=attempt,
                results=merged,
                reason="; ".join(dict.fromkeys(r.note for r in merged if r.note)),
                attempts=attempts,
            )
            return
        outcome = Outcome.INTERRUPTED if _interrupted(results) else Outcome.FAILURE
        s.finish(ref, outcome, duration, attempt=attempt, results=merged, attempts=attempts)
        while True:
            failing = [r for r in merged if not r.ok and r.host not in s.excluded]
            if not failing:  # the responder excluded every failed host: go on without them
                _settle_without(s, step, scope, ref, merged, attempt, attempts)
                return
            expected = (
                f" (ok_exit: {', '.join(map(str, step.ok_exit))})" if step.ok_exit != (0,) else ""
            )
            why = ", ".join(  # an error's first line: the terminal showed the rest
                f"{r.host}: {r.error.partition(chr(10))[0] or f'exit {r.exit_code}{expected}'}"
                for r in failing
            )
            choice = s.failure_menu(ref, step, why, results=merged, attempts=attempts)
            if choice != "exclude":
                break
        if choice == "skip":
            return
        if choice == "retry-all":
            kept.clear()
            attempts.clear()
        failed = {r.host for r in failing}
        pending = [
            h
            for h in hosts
            if h.name not in s.excluded and (choice == "retry-all" or h.name in failed)
        ]


def _settle_without(
    s: Services,
    step: Step,
    scope: Scope,
    ref: ev.StepRef,
    results: Sequence[HostResult],
    attempt: int,
    attempts: Mapping[str, int],
) -> None:
    """Every failed host is excluded: partial when it succeeded somewhere (what it captured is
    the output of the hosts where it succeeded), else skipped."""
    ok = [r for r in results if r.ok]
    reason = "excluded: " + ", ".join(
        f"{r.host} ({s.excluded[r.host]})" for r in results if not r.ok
    )
    if ok:
        _capture(s, step, scope, ok)
    outcome = Outcome.PARTIAL if ok else Outcome.SKIPPED
    s.finish(ref, outcome, 0.0, attempt=attempt, results=results, reason=reason, attempts=attempts)


def _interrupted(results: Sequence[HostResult]) -> bool:
    return any(r.outcome == Outcome.INTERRUPTED for r in results)


def _attempts(
    s: Services, step: Step, ref: ev.StepRef, job: Job, hosts: Sequence[Host], attempt: int
) -> tuple[list[HostResult], float]:
    """Run, and while it fails, run again on the hosts where it failed, up to `retries` times,
    `delay` apart. Results in host order, each host's latest."""
    drill = s.options.drill
    pace = drill.pace if drill is not None and drill.simulate else 1.0
    started = s.clock.monotonic()
    latest: dict[str, HostResult] = {}
    pending = hosts
    tries = 0
    while True:
        tries += 1
        env = {**job.env, "SOP_ATTEMPT": str(attempt)}
        span = s.attempt_span(ref)
        names = tuple(h.name for h in pending)
        s.emit(ev.StepStarted(s.clock.now(), ref, attempt, names, job.command, span, s.span_id))
        for r in _fan(s, dataclasses.replace(job, env=env), pending, step, ref, attempt, span):
            latest[r.host] = r
        results = [latest[h.name] for h in hosts]
        failed = [h for h in hosts if not latest[h.name].ok]
        if not failed or tries > step.retries or _interrupted(results):
            return results, s.clock.monotonic() - started
        s.emit(
            ev.StepShown(
                s.clock.now(),
                ref,
                note=f"Failed; trying again in {step.delay:g}s "
                f"({tries} of {step.retries} retries).",
            )
        )
        s.clock.sleep(step.delay * pace)
        pending = failed


def _fan(
    s: Services,
    job: Job,
    hosts: Sequence[Host],
    step: Step,
    ref: ev.StepRef,
    attempt: int,
    span: str,
) -> list[HostResult]:
    """Run `job` on `hosts`, each under a host span that is a child of the step span `span`."""
    done: list[HostResult] = []
    if step.interactive and not s.options.simulated:  # one host: lint and the handler say so
        return [run_session(s, job, hosts[0], ref, attempt, span)]
    if step.interactive:
        s.emit(ev.StepShown(s.clock.now(), ref, plain=SIMULATED_SESSION))
    try:
        if step.canary and len(hosts) > step.canary:
            done += s.fanout.run(job, hosts[: step.canary], ref, attempt, step.parallel, span)
            rest = hosts[step.canary :]
            if not all(r.ok for r in done):
                return done + _not_run(rest, "not run: the canary failed")
            if not s.options.yes:
                go = s.prompt().choose(
                    f"The canary succeeded. Run on the other {len(rest)} host(s)?",
                    [("y", "yes"), ("n", "no")],
                    "y",
                )
                choice = "canary-go" if go == "y" else "canary-stop"
                s.emit(ev.MenuChoice(s.clock.now(), ref, choice))
                if go != "y":
                    return done + _not_run(rest, "not run: stopped after the canary")
            return done + s.fanout.run(job, rest, ref, attempt, step.parallel, span)
        return s.fanout.run(job, hosts, ref, attempt, step.parallel, span)
    except StoppedWaiting:  # the step stays in doubt: the run ends here
        raise
    except KeyboardInterrupt as exc:  # every host has stopped (or never started)
        s.emit(ev.Interrupted(s.clock.now(), ref))
        done += exc.results if isinstance(exc, HostsInterrupted) else ()
        finished = {r.host for r in done}
        return done + [
            HostResult(
                h.name, Outcome.INTERRUPTED, None, "", "", 0.0, "interrupted by the responder"
            )
            for h in hosts
            if h.name not in finished
        ]


def _not_run(hosts: Sequence[Host], why: str) -> list[HostResult]:
    return [HostResult(h.name, Outcome.FAILURE, None, "", "", 0.0, why) for h in hosts]


def _job(s: Services, step: Step, scope: Scope) -> Job:
    """The step's job; each host adds the TRACEPARENT of its host span (`run/fanout.py`)."""
    env = {"SOP_RUN_ID": s.run_id, "SOP_TRACE_ID": s.trace_id, "SOP_STEP": step.id}
    # only the secrets the step names or lists, of its own SOP
    secrets = {name: scope.secrets[name] for name in step_secrets(step, scope.secrets)}
    if step.kind == "task":
        task = _task(scope.sop, step) if s.options.executes else None
        args = {k: render_data(v, scope.variables) for k, v in step.args.items()}
        shown = ", ".join(f"{k}={v!r}" for k, v in args.items())
        command = f"{step.body}({shown})"
        return Job("task", command, env, secrets, step.timeout, task, args, step.id, scope.sop.id)
    command = templating.render(step.body, scope.variables, shell=True)
    return Job(
        step.kind,
        command,
        env,
        secrets,
        step.timeout,
        step_id=step.id,
        sop_id=scope.sop.id,
        strict=step.kind == "script" and step.strict,
        stdin=None if step.stdin is None else render_stdin(step.stdin, scope.variables),
        ok_exit=step.ok_exit,
    )


def render_stdin(source: str, variables: Mapping[str, Any]) -> str:
    """A step's stdin text: values inserted as they are (it is not read by a shell; quoting
    filters such as `sql_literal` make them safe for what reads it); no NUL byte, which no
    here-document can carry."""
    text = templating.render(source, variables)
    if "\0" in text:
        raise SopError("the step's stdin contains a NUL byte once rendered; it cannot be sent")
    return text


def _task(sop: Sop, step: Step) -> Any:
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
    s: Services,
    step: Step,
    ref: ev.StepRef,
    job: Job,
    word: str,
    hosts: tuple[str, ...],
) -> Job | None:
    """The responder's go-ahead: the job to run (maybe edited), or None when skipped. A typed
    confirmation asks for `word`: what the step names as at risk, or its targets."""
    options = s.options
    if step.interactive and not options.simulated:
        needs_terminal(s, ref)  # before the go-ahead: --yes, or no terminal, stops here
    if step.confirm == "never":
        s.emit(ev.StepConfirmed(s.clock.now(), ref, "never", job.command, hosts, stdin=job.stdin))
        return job
    if options.yes:
        needs_more = step.confirm in ("always", "typed") and not options.simulated
        if needs_more and step.id not in options.confirm:
            raise ConfirmationRequired(
                f"step {ref.number} ({step.id}) needs the responder's "
                f"{'typed ' if step.confirm == 'typed' else ''}confirmation; --yes does not give it. "
                f"Continue in a terminal (sop resume {s.run_id}), or name the step: "
                f"sop resume {s.run_id} --yes --confirm {step.id}"
            )
        how = "--confirm" if step.id in options.confirm else "--yes"
        s.emit(ev.StepConfirmed(s.clock.now(), ref, how, job.command, hosts, stdin=job.stdin))
        return job
    prompter = s.prompt()
    choices = [("r", "run"), ("s", "skip")]
    # an approved command runs as approved: a changed one would need another approval
    editable = step.kind != "task" and gate_of(step, options) is None
    choices += [("e", "edit")] if editable else []
    choices += [("o", "off-script"), ("q", "quit"), ("a", "abort")]
    while True:
        choice = prompter.choose(f"Run on {', '.join(hosts)}?", choices)
        if choice == "o":
            s.off_script(ref)
            continue
        if choice == "q":
            raise Stop("quit")
        if choice == "a":
            s.abort(ref)
        if choice == "s":
            s.skip(ref, step)
            return None
        if choice == "e":
            edited = prompter.edit(job.command)
            if edited.strip() and edited != job.command:
                reason = s.reason("Why change the command?")
                s.emit(ev.Deviation(s.clock.now(), ref, "edit", reason, job.command, edited))
                job = dataclasses.replace(job, command=edited)
            s.emit(
                ev.StepShown(
                    s.clock.now(),
                    ref,
                    command=job.command,
                    hosts=hosts,
                    confirm=step.confirm,
                    stdin=job.stdin,
                )
            )
            continue
        if step.confirm == "typed":
            asked = (
                f"Type '{word}' to run it" if step.confirm_word else f"Type '{word}' to run on it"
            )
            typed = prompter.text(asked).strip()
            if typed != word:
                s.emit(
                    ev.StepShown(
                        s.clock.now(), ref, plain=f"'{typed}' is not '{word}': nothing ran."
                    )
                )
                continue
        how = "typed" if step.confirm == "typed" else "interactive"
        s.emit(ev.StepConfirmed(s.clock.now(), ref, how, job.command, hosts, stdin=job.stdin))
        return job


def _capture(s: Services, step: Step, scope: Scope, results: Sequence[HostResult]) -> None:
    if not step.capture:
        return
    value = results[0].stdout if len(results) == 1 else {r.host: r.stdout for r in results}
    scope.variables[step.capture] = value
    s.emit(ev.Captured(s.clock.now(), step_ref(step, scope), step.capture, value))


def render_data(value: Any, variables: Mapping[str, Any]) -> Any:
    if isinstance(value, str):
        return templating.render(value, variables, shell=True)
    if isinstance(value, list):
        return [render_data(v, variables) for v in value]
    if isinstance(value, dict):
        return {k: render_data(v, variables) for k, v in value.items()}
    return value
