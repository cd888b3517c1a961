"""Start or resume a run from plain values (what `sop run` / `sop resume` parsed): find and
check the SOP, open the audit trail, resolve the inventory and inputs, build the runner with real
executors, walk it."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sop import events as ev
from sop.audit.actions import Action
from sop.audit.reader import log_path
from sop.audit.session import AuditSession, common_fields, reopen_session, start_session
from sop.audit.state import RunLock, default_state_dir, find_run_dir, prepare_state_dir
from sop.checks.lint import lint_sop
from sop.errors import FatalRunError, SopError, SopFileError, UsageError
from sop.events import Clock
from sop.executors import Executors, local_executor, ssh_executor
from sop.format.discovery import find_called_sop, find_inventory, find_sop
from sop.format.loader import load_sop
from sop.model import Inventory, Notifier, Sop
from sop.records import dataclass
from sop.redact import shared
from sop.run.dynamic import list_dynamic_inventory
from sop.run.inputs import (
    Asker,
    ResolvedInputs,
    alert_inputs,
    read_inputs_file,
    refuse_secret_answers,
    resolve_inputs,
)
from sop.run.options import DrillOptions, Prompter, RunOptions, RunResult
from sop.run.runner import Runner
from sop.run.scope import Restored
from sop.run.services import LoadCallee
from sop.run.tracecontext import new_span_id, new_trace_id
from sop.run.unattended import check_step_requests

if TYPE_CHECKING:
    from sop.audit.reader import AuditEntry
    from sop.audit.runs import RunSummary
    from sop.run.notify import Notifications
    from sop.run.resume import ResumePlan

Guard = Callable[[], Sequence[str]]  # what a drill guard has blocked so far


@dataclass(frozen=True)
class RunRequest:
    sop: str
    inputs: Mapping[str, str] = field(default_factory=dict)
    # where an input value came from when not from `-i`: an inputs file, an alert payload
    input_sources: Mapping[str, str] = field(default_factory=dict)
    secret_files: Mapping[str, Path] = field(default_factory=dict)
    inventory: tuple[Path, ...] = ()  # --inventory, in order (later ones win per host)
    known_hosts: Path | None = None
    ssh_config: Path | None = None
    connect_timeout: float = 10.0
    state_dir: Path | None = None
    options: RunOptions = field(default_factory=RunOptions)
    notifiers: tuple[Notifier, ...] = ()  # a trusted configuration's [[notify]] (real runs only)


@dataclass(frozen=True)
class Launched:
    result: RunResult
    run_dir: Path | None = None
    head: str = ""  # SEQ:HASH of the audit log's last record: the anchor for the ticket
    sop: Sop | None = None  # the SOP that was walked (as loaded and checked)

    def as_json(self) -> dict[str, Any]:
        """What `--format json` prints when the walk ends: how it ended and where its audit
        log is (None for a dry run, which keeps none)."""
        result, log = self.result, None if self.run_dir is None else log_path(self.run_dir)
        return {
            "run_id": result.run_id,
            "trace_id": result.trace_id,
            "sop": None
            if self.sop is None
            else {"id": self.sop.id, "path": str(self.sop.path), "sha256": self.sop.sha256},
            "outcome": str(result.outcome),
            "exit_code": int(result.exit_code),
            "paused": None if result.paused is None else str(result.paused),
            "steps": dict(result.steps),
            "audit_log": None if log is None else str(log),
            "head": self.head or None,
        }


def context_inputs(
    sop_ref: str | None, inputs_file: Path | None, alert: Path | None
) -> tuple[str, dict[str, str], dict[str, str]]:
    """The SOP to run and the input values its context gives, with where each came from: an
    `--inputs` file over an `--alert` payload (`-i` goes over both). Without `sop_ref`, the
    SOP that answers the alert (`run/alerting.py`)."""
    values: dict[str, str] = {}
    sources: dict[str, str] = {}
    if alert is not None:
        from sop.run.alerting import choose_alert

        sop_ref, chosen = choose_alert(sop_ref, alert)
        values, sources = alert_inputs(load_sop(find_sop(sop_ref)), chosen, alert)
    if sop_ref is None:
        raise UsageError("give the SOP to run, or --alert PAYLOAD to find it")
    if inputs_file is not None:
        from_file, where = read_inputs_file(load_sop(find_sop(sop_ref)), inputs_file)
        values, sources = {**values, **from_file}, {**sources, **where}
    return sop_ref, values, sources


def checked_sop(ref: str, inventory: Sequence[Path] = ()) -> Sop:
    """Load an SOP and refuse it if lint finds an error: nothing runs from a broken SOP. Targets
    are checked against `inventory` (the run's --inventory) when given."""
    sop = load_sop(find_sop(ref))
    problems = lint_sop(sop, today=dt.date.today(), inventory_path=inventory)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise SopFileError(errors)
    return sop


def callee_loader(
    inventory: Sequence[Path], answers: Mapping[str, str] | None = None
) -> LoadCallee:
    """How a run loads the SOPs its steps call: beside the caller first, then in the search
    folders; checked like the SOP itself, and its secret questions never answered by `-a`.
    Each is loaded once per run."""
    loaded: dict[tuple[str, Path], Sop] = {}

    def load_callee(sop_id: str, caller: Sop) -> Sop:
        key = (sop_id, caller.path)
        if key not in loaded:
            callee = checked_sop(str(find_called_sop(sop_id, caller.path)), inventory)
            refuse_secret_answers(callee, answers or {})
            loaded[key] = callee
        return loaded[key]

    return load_callee


def called_sops(sop: Sop, load_callee: LoadCallee) -> list[Sop]:
    """The SOPs that `sop` calls, and those they call. One that cannot be loaded is left out:
    the run says why when it reaches the step that calls it."""
    found: dict[str, Sop] = {}
    callers = [sop]
    while callers:
        caller = callers.pop()
        for step in (*caller.steps, *caller.rollback):
            if step.kind != "call" or step.body in found or step.body == sop.id:
                continue
            try:
                found[step.body] = load_callee(step.body, caller)
            except SopError:
                continue
            callers.append(found[step.body])
    return list(found.values())


def _executors(request: RunRequest, sop: Sop, load_callee: LoadCallee) -> Executors:
    drill = request.options.drill
    if drill is not None and drill.simulate:
        from sop.executors.simulated import SimulatedExecutor, drill_results

        scenario = sop.scenarios.get(drill.scenario)
        results = drill_results(sop, scenario, called_sops(sop, load_callee))
        simulated = SimulatedExecutor(results, scenario, drill.pace)
        return Executors({"local": lambda: simulated, "ssh": lambda: simulated})
    return Executors(
        {
            "local": local_executor,
            "ssh": ssh_executor(request.known_hosts, request.ssh_config, request.connect_timeout),
        }
    )


def _walk(
    request: RunRequest,
    sop: Sop,
    inputs: ResolvedInputs,
    *,
    prompter: Prompter | None,
    sinks: Sequence[ev.Sink],
    clock: Clock,
    session: AuditSession | None,
    restored: Restored | None = None,
    notes: Sequence[ev.AuditNote] = (),
    guard: Guard | None = None,
) -> Launched:
    load_callee = callee_loader(request.inventory, request.options.answers)
    notifications = _notifications(request, clock, lambda event: runner.emit(event))
    runner = Runner(
        sop,
        inputs,
        inventory=_inventory(request, sop),
        prompter=prompter,
        executors=_executors(request, sop, load_callee),
        sinks=[*sinks, *notifications, *([session.sink()] if session else [])],
        clock=clock,
        environ=os.environ,
        shared_redactor=shared(),
        options=request.options,
        load_callee=load_callee,
        restored=restored,
        persist=session.persist if session else None,
        run_dir=session.run_dir if session else None,
    )
    try:
        for note in notes:
            runner.emit(note)
        result = runner.run()
    finally:
        blocked = guard() if guard else ()
        if blocked:  # recorded even when the run stopped, or the code that tried caught it
            runner.emit(
                ev.AuditNote(
                    clock.now(), "drill-guard", _blocked(blocked), {"blocked": list(blocked)}
                )
            )
        for sink in notifications:  # what they delivered goes in the log before it closes
            sink.close()
        head = session.close(clock.now()) if session else None
        if session is not None:  # finished, aborted or paused (--yes stopping raises)
            _export_spans(session.run_dir, sinks, clock)
    if blocked:
        raise FatalRunError(f"{_blocked(blocked)}: the drill fails")
    return Launched(result, session.run_dir if session else None, str(head) if head else "", sop)


def _notifications(
    request: RunRequest, clock: Clock, record: Callable[[ev.Event], None]
) -> list[Notifications]:
    """The run's notification sink, for a real run with notifiers (a dry run or a drill
    notifies nobody)."""
    if not request.notifiers or not _real(request.options):
        return []
    from sop.run.notify import Notifications  # its thread and urllib: only when it notifies

    return [Notifications(request.notifiers, clock, record)]


def _export_spans(run_dir: Path, sinks: Sequence[ev.Sink], clock: Clock) -> None:
    """The spans of the run's last stretch to the tracing backend OTEL_EXPORTER_OTLP_ENDPOINT
    names, if any; what went wrong is a warning (the run is over either way)."""
    from sop.audit.otlp import export_last_segment  # OpenTelemetry only if an export is due

    problem = export_last_segment(run_dir, os.environ)
    if problem:
        for sink in sinks:
            sink.emit(ev.Warned(clock.now(), problem))


def _blocked(blocked: Sequence[str]) -> str:
    return f"the drill guard blocked {len(blocked)} side effect(s): {', '.join(blocked)}"


def launch(
    request: RunRequest,
    *,
    prompter: Prompter | None,
    asker: Asker | None,
    sinks: Sequence[ev.Sink],
    clock: Clock,
    guard: Guard | None = None,
) -> Launched:
    """`guard`: a simulated drill's guard (sop.drill.guard); whatever it blocked fails the run,
    recorded in its audit log."""
    sop = checked_sop(request.sop, request.inventory)
    refuse_secret_answers(sop, request.options.answers)
    check_step_requests(sop, request.options)
    scenario = request.options.drill.scenario if request.options.drill else ""
    if scenario and scenario not in sop.scenarios:
        known = ", ".join(sorted(sop.scenarios)) or "none"
        raise SopError(f"'{sop.id}' has no drill scenario '{scenario}' (it has: {known})")
    given, sources = dict(request.inputs), dict(request.input_sources)
    if scenario:  # the scenario's inputs, under what the command line gives
        preset = {k: v for k, v in sop.scenarios[scenario].inputs.items() if k not in given}
        given |= preset
        sources |= {k: f"scenario '{scenario}'" for k in preset}
    inputs = resolve_inputs(
        sop,
        given,
        secret_files=request.secret_files,
        environ=os.environ,
        asker=asker,
        drill=request.options.drill is not None,
        sources=sources,
        run_commands=_real(request.options),
    )
    options = dataclasses.replace(
        request.options,
        run_id=request.options.run_id
        or f"{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}",
        trace_id=request.options.trace_id or new_trace_id(),
        span_id=request.options.span_id or new_span_id(),
    )
    request = dataclasses.replace(request, options=options)
    session = None
    if not options.dry_run:
        state_dir = prepare_state_dir(request.state_dir)
        common = common_fields(
            run_id=options.run_id,
            trace_id=options.trace_id,
            span_id=options.span_id,
            parent_span_id=options.parent_span_id,
            sop_id=sop.id,
            sha256=sop.sha256,
            operator=options.operator,
            incident=options.incident,
            kind=options.event_kind,
            scenario=scenario,
        )
        session = start_session(state_dir, options.run_id, common)
    return _walk(
        request,
        sop,
        inputs,
        prompter=prompter,
        sinks=sinks,
        clock=clock,
        session=session,
        guard=guard,
    )


def run_or_resume(
    request: RunRequest,
    *,
    prompter: Prompter | None,
    asker: Asker | None,
    sinks: Sequence[ev.Sink],
    clock: Clock,
) -> Launched:
    """`sop run`: with a responder at hand (`prompter`), first offer to resume the last
    unfinished run of the same SOP; else, or when they decline, launch a new run."""
    # --start-at starts a new run: a resumed one goes on where it stopped
    offer = prompter is not None and not request.options.start_at
    last = unfinished_run(request) if offer else None
    if prompter is not None and last is not None:
        answer = prompter.choose(
            f"Run {last.run_id} of {last.sop_id} (started {last.started} by {last.operator}) "
            f"did not finish ({last.status}{': ' + last.detail if last.detail else ''}). "
            "Resume it?",
            [("y", "yes"), ("n", "no, start a new run")],
            "y",
        )
        if answer == "y":
            return resume(
                last.run_id, request, prompter=prompter, asker=asker, sinks=sinks, clock=clock
            )
    return launch(request, prompter=prompter, asker=asker, sinks=sinks, clock=clock)


def unfinished_run(request: RunRequest) -> RunSummary | None:
    """The last run of the requested SOP in the request's state directory that is paused or
    crashed (not finished, and no process drives it now), if any."""
    from sop.audit.runs import list_runs  # with the audit log reader: only to offer a resume

    sop_id = load_sop(find_sop(request.sop)).id
    unfinished = [
        r
        for r in list_runs(request.state_dir or default_state_dir())
        if r.sop_id == sop_id and r.status.resumable
    ]
    return unfinished[-1] if unfinished else None


class SopChangedError(SopError):
    """The SOP file changed since the run started, and no reason was given to go on."""


def resume(
    run_ref: str,
    request: RunRequest,
    *,
    prompter: Prompter | None,
    asker: Asker | None,
    sinks: Sequence[ev.Sink],
    clock: Clock,
    changed_reason: str | None = None,
    guard_factory: Callable[[], Guard] | None = None,
) -> Launched:
    """Continue an unfinished run: done steps are shown as done, steps in doubt are decided.
    A drill goes on as a drill; a simulated one under the guard `guard_factory` installs."""
    state_dir = prepare_state_dir(request.state_dir)
    run_dir = find_run_dir(state_dir, run_ref)
    with RunLock(run_dir) as lock:  # before reading anything: nobody else drives this run
        return _resume_locked(
            run_dir,
            lock,
            request,
            prompter=prompter,
            asker=asker,
            sinks=sinks,
            clock=clock,
            changed_reason=changed_reason,
            guard_factory=guard_factory,
        )


def _resume_locked(
    run_dir: Path,
    lock: RunLock,
    request: RunRequest,
    *,
    prompter: Prompter | None,
    asker: Asker | None,
    sinks: Sequence[ev.Sink],
    clock: Clock,
    changed_reason: str | None,
    guard_factory: Callable[[], Guard] | None,
) -> Launched:
    from sop.audit.trust import unproven_note
    from sop.run.resume import plan_resume  # with the audit log reader: only to resume

    plan = plan_resume(run_dir)
    started = plan.started
    sop = checked_sop(started.sop_path, request.inventory)
    refuse_secret_answers(sop, request.options.answers)
    if request.options.start_at:
        raise UsageError("--start-at starts a new run: a resumed run goes on where it stopped")
    check_step_requests(sop, request.options)
    notes: list[ev.AuditNote] = []
    now = clock.now()
    if (
        sop.sha256 != plan.sop_sha256
    ):  # as the run last knew it (a change accepted before stays accepted)
        if prompter is not None and not changed_reason:
            changed_reason = prompter.text(
                f"{sop.path} changed since the run started. Why go on anyway?"
            ).strip()
        if not changed_reason:
            raise SopChangedError(
                f"{sop.path} changed since run {plan.run_id} last ran (sha256 {plan.sop_sha256[:12]} -> "
                f"{sop.sha256[:12]}); give a reason to go on with --sop-changed REASON"
            )
        notes.append(
            ev.AuditNote(
                now,
                Action.SOP_CHANGED,
                changed_reason,
                {"old_sha256": plan.sop_sha256, "new_sha256": sop.sha256},
            )
        )
    previous = plan.operator  # who drove it last: a run can change hands more than once
    operator = request.options.operator
    if previous != operator:
        notes.append(
            ev.AuditNote(
                now,
                Action.HANDOVER,
                f"{previous} handed the run over to {operator}",
                {"from": previous, "to": operator},
            )
        )
    drill = _drill_of(started)
    request = _same_inventory(request, started, drill)
    shown = {k: v for k, v in started.inputs.items() if v != "********"}
    inputs = resolve_inputs(
        sop,
        shown,
        secret_files=request.secret_files,
        environ=os.environ,
        asker=asker,
        drill=drill is not None,
        run_commands=drill is None and not request.options.dry_run,
    )
    options = dataclasses.replace(
        request.options,
        run_id=plan.run_id,
        trace_id=started.trace_id,
        span_id=started.span_id or new_span_id(),  # a run begun by an sop without spans: new
        parent_span_id=started.parent_span_id,
        incident=request.options.incident or started.incident or None,
        drill=drill,
        severity=_latest(plan).severity,  # the schedule of status updates goes on
        skip={**_latest(plan).skips, **request.options.skip},
    )
    request = dataclasses.replace(request, options=options)
    common = common_fields(
        run_id=plan.run_id,
        trace_id=options.trace_id,
        span_id=options.span_id,
        parent_span_id=options.parent_span_id,
        sop_id=sop.id,
        sha256=sop.sha256,
        operator=operator,
        incident=options.incident,
        kind=started.event_kind,
        scenario=started.scenario,
    )
    guard = guard_factory() if guard_factory is not None and options.simulated else None
    if plan.unproven is not None:  # a later seal covers them: say that none did before
        notes.insert(0, ev.AuditNote(now, *unproven_note(*plan.unproven)))
    repaired = plan.repair()  # only now that every check passed
    if repaired:
        notes.insert(
            0, ev.AuditNote(now, Action.REPAIRED, "a torn last line was cut off", repaired)
        )
    session = reopen_session(run_dir, common, plan.head, lock, plan.key0, plan.next_seal)
    return _walk(
        request,
        sop,
        inputs,
        prompter=prompter,
        sinks=sinks,
        clock=clock,
        session=session,
        restored=plan.restored,
        notes=notes,
        guard=guard,
    )


def _latest(plan: ResumePlan) -> AuditEntry:
    return plan.latest or plan.started


def _real(options: RunOptions) -> bool:
    """A real run: neither a dry run nor a drill. Only a real run runs what the operator's
    configuration or the SOP names besides its steps: a dynamic inventory, a secret's command."""
    return not options.dry_run and options.drill is None


def _inventory(request: RunRequest, sop: Sop) -> Inventory | None:
    """The run's inventory. A dynamic one runs only for a real run; a simulated drill makes up
    the hosts it would have given, a dry run or a sandbox drill refuses it."""
    options = request.options
    inventory = find_inventory(
        sop.path, request.inventory, list_dynamic_inventory if _real(options) else None
    )
    if inventory is not None and inventory.unresolved and not options.simulated:
        raise UsageError(
            f"{inventory.unresolved[0]} is a dynamic inventory: sop runs it only for a real "
            "run (sop run, sop resume), not for a dry run or a sandbox drill"
        )
    return inventory


def _same_inventory(
    request: RunRequest, started: AuditEntry, drill: DrillOptions | None
) -> RunRequest:
    """A resumed run targets the inventory it started with unless told otherwise; a sandbox
    drill only that one (another file could be production's)."""
    if not started.inventories:
        return request
    recorded = tuple(Path(p) for p in started.inventories)
    if not request.inventory:
        return dataclasses.replace(request, inventory=recorded)
    given = tuple(p.resolve() for p in request.inventory)
    if drill is not None and not drill.simulate and given != recorded:
        raise SopError(
            f"this drill ran against the sandbox inventory {recorded[0]}; it goes on against "
            f"that one only (not {', '.join(str(p) for p in request.inventory)})"
        )
    return request


def _drill_of(started: AuditEntry) -> DrillOptions | None:
    """A drill goes on as the drill it was: a simulated one stays simulated (a drill logged
    before sop said which counts as simulated: nothing it resumes may touch a host)."""
    if started.event_kind != "drill":
        return None
    return DrillOptions(simulate=started.drill_simulated is not False, scenario=started.scenario)
