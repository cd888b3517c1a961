"""The pre-flight: once the inputs are known and before the first step, every host the run's
steps target is tried at once, so a typo in a target, an unknown host key or a dead host shows
now, in one table, not at the first remote step after the prose.

Targets are rendered with the inputs: a target that names no host of the inventory is an
`unresolvable target`; one that depends on a value known only later (an answer, a captured
output, a called SOP's inputs) is not checked, and the event says which. The hosts are
connected in parallel through the run's own executors, so the connections stay open for the
steps (the pre-flight costs about what the first step saves). A host that is not ok: the
responder re-checks (after trusting a key, say: known_hosts is read again when it changed),
goes on, quits (a pause: `sop resume` checks again) or aborts; `--yes` stops before any step
unless `--preflight=warn`."""

from __future__ import annotations

import queue
import threading
from collections.abc import Collection, Iterator, Sequence
from dataclasses import field

from sop import events as ev
from sop import templating
from sop.audit.actions import Action
from sop.errors import SopError
from sop.events import HostReached, Reach
from sop.executors import Executors
from sop.model import LOCAL, Host, Inventory, Sop, Step
from sop.records import dataclass
from sop.run.options import PreflightMode
from sop.run.scope import Scope, Stop
from sop.run.services import LoadCallee, Services
from sop.run.targets import TargetError, is_data_target, render_targets, resolve_targets

PARALLEL = 64  # hosts connecting at once
POLL = 0.1  # seconds between looks for a Ctrl-C while hosts connect
EXECUTABLE = frozenset({"run", "script", "task"})
LATER = "known only later (an answer or a captured output)"
AT_THE_CALL = "the called SOP's inputs are known only at the call"


@dataclass
class Targets:
    """What the pre-flight found to check: hosts in the order the steps name them, targets
    that name no host (as rows of the table), and the targets it cannot check yet."""

    hosts: dict[str, Host] = field(default_factory=dict)
    unresolvable: dict[str, HostReached] = field(default_factory=dict)
    unchecked: dict[str, None] = field(default_factory=dict)  # ordered, each once


@dataclass(frozen=True)
class _Where:
    """Where a step's targets come from: its SOP's default targets, the variables they render
    with (None: not known before the step runs), and the variables of the step's own `on:`."""

    targets: tuple[str, ...]
    on_data: tuple[str, ...]
    target_variables: dict[str, object] | None
    step_variables: dict[str, object] | None
    prefix: str = ""


def preflight_targets(
    sop: Sop,
    scope: Scope,
    inventory: Inventory | None,
    *,
    load_callee: LoadCallee | None,
    finished: Collection[str] = (),
    excluded: Collection[str] = (),
) -> Targets:
    """Every remote host the steps of `sop` (rollback and called SOPs included) may run on,
    as far as `scope`'s variables (the inputs) tell. Steps in `finished` (resumed) and a step
    whose `when:` is false with the inputs are left out; so are `excluded` hosts."""
    found = Targets()
    where = _Where(scope.targets, scope.on_data, scope.variables, scope.variables)
    for label, step, at in _steps(sop, where, load_callee, finished, {sop.id}):
        if at.step_variables is not None and step.when and not _may_run(step, at):
            continue
        if step.on:
            sources, variables, allow = step.on, at.step_variables, step.on_data
        else:
            sources, variables, allow = at.targets, at.target_variables, at.on_data
        for source in sources:
            _add(found, label, step, source, variables, allow, inventory, excluded)
    return found


def _steps(
    sop: Sop,
    where: _Where,
    load_callee: LoadCallee | None,
    finished: Collection[str],
    seen: set[str],
) -> Iterator[tuple[str, Step, _Where]]:
    """(number as shown, step, where its targets come from) of every executable step."""
    numbered = [(f"{where.prefix}{s.number}", s) for s in sop.steps]
    numbered += [(f"{where.prefix}R{s.number}", s) for s in sop.rollback]
    for label, step in numbered:
        if not where.prefix and step.id in finished:
            continue
        if step.kind in EXECUTABLE:
            yield label, step, where
        elif step.kind == "call" and load_callee is not None and step.body not in seen:
            try:
                callee = load_callee(step.body, sop)
            except SopError:
                continue  # the call step will say why
            own = callee.on != (LOCAL,)
            inner = _Where(
                callee.on if own else where.targets,
                callee.on_data if own else where.on_data,
                None if own else where.target_variables,
                None,
                f"{label}.",
            )
            yield from _steps(callee, inner, load_callee, finished, seen | {callee.id})


def _may_run(step: Step, where: _Where) -> bool:
    """False when `when:` is false with the inputs alone; true when it names a value known
    only later (the step may run: its hosts are checked)."""
    assert where.step_variables is not None and step.when is not None
    try:
        return templating.evaluate(step.when, where.step_variables)
    except templating.TemplateError:
        return True


def _add(
    found: Targets,
    label: str,
    step: Step,
    source: str,
    variables: dict[str, object] | None,
    allow: Collection[str],
    inventory: Inventory | None,
    excluded: Collection[str],
) -> None:
    name = source.strip()
    if is_data_target(source):
        if variables is None:
            found.unchecked[f"step {label} ({step.id}) on '{source}': {AT_THE_CALL}"] = None
            return
        try:
            name = templating.render(source, variables).strip()
        except templating.TemplateError:
            found.unchecked[f"step {label} ({step.id}) on '{source}': {LATER}"] = None
            return
    try:
        names = render_targets((source,), variables or {}, inventory, allow=allow)
        hosts = resolve_targets(names, inventory)
    except TargetError as exc:
        found.unresolvable.setdefault(
            name, HostReached(name, "", Reach.UNRESOLVABLE, 0.0, f"step {label}: {exc}")
        )
        return
    for host in hosts:
        if not host.is_local and host.name not in excluded:
            found.hosts.setdefault(host.name, host)


def check_hosts(executors: Executors, hosts: Sequence[Host]) -> list[HostReached]:
    """Every host tried at once (up to PARALLEL), each through its executor, which keeps the
    connection for the run. Results in host order. Ctrl-C stops the waiting (daemon threads:
    a host that hangs holds nothing up)."""
    done: queue.SimpleQueue[HostReached | BaseException] = queue.SimpleQueue()
    slots = threading.Semaphore(PARALLEL)

    def work(host: Host) -> None:
        try:
            with slots:
                done.put(executors.check(host))
        except BaseException as exc:  # a defect, not the host's fault: the run's to raise
            done.put(exc)

    for host in hosts:
        threading.Thread(target=work, args=(host,), name="sop-preflight", daemon=True).start()
    results: dict[str, HostReached] = {}
    while len(results) < len(hosts):
        try:
            item = done.get(timeout=POLL)
        except queue.Empty:
            continue
        if isinstance(item, BaseException):
            raise item
        results[item.host] = item
    return [results[h.name] for h in hosts]


def preflight(
    services: Services, executors: Executors, scope: Scope, finished: Collection[str] = ()
) -> None:
    """Check the hosts before the first step, as the run's options say; raises Stop when the
    responder quits or aborts, or a run without one (`--yes`) finds a host not ok."""
    s, options = services, services.options
    if not options.executes:
        return
    targets = preflight_targets(
        scope.sop,
        scope,
        s.inventory,
        load_callee=s.load_callee,
        finished=finished,
        excluded=s.excluded,
    )
    hosts = list(targets.hosts.values())
    raised = s.open_files.make_room(hosts, s.clock.now())  # with the pre-flight off too
    if raised is not None:
        s.emit(raised)
    if options.preflight == PreflightMode.OFF:
        return
    if not hosts and not targets.unresolvable and not targets.unchecked:
        return  # the responder's machine only
    unresolvable = tuple(targets.unresolvable.values())
    latest: dict[str, HostReached] = {}
    pending = hosts
    round_ = 0
    while True:
        round_ += 1
        started = s.clock.monotonic()
        for result in check_hosts(executors, pending):
            latest[result.host] = result
        results = (*(latest[h.name] for h in hosts), *unresolvable)
        event = ev.Preflight(
            s.clock.now(),
            round_,
            results,
            s.clock.monotonic() - started,
            tuple(targets.unchecked),
        )
        s.emit(event)
        if event.ok or options.preflight == PreflightMode.WARN:
            return
        failing = [r for r in results if r.reach != Reach.OK]
        summary = f"{len(failing)} of {len(results)} host(s) not ok: " + ", ".join(
            f"{r.host} {r.reach}" for r in failing
        )
        if options.yes or s.prompter is None:
            raise Stop(
                "failure",
                f"pre-flight: {summary}. Fix them and run again, or pass --preflight=warn to "
                "go on anyway",
            )
        words = {"r": "re-check", "c": "continue", "q": "quit", "a": "abort"}
        choice = s.prompter.choose(
            "Pre-flight: some hosts are not ready. What now?", list(words.items()), "r"
        )
        reason = s.reason("Why abort the run? (it cannot be resumed)") if choice == "a" else ""
        s.emit(
            ev.AuditNote(
                s.clock.now(),
                Action.PREFLIGHT_CHOICE,
                f"pre-flight: {words[choice]} ({summary})" + (f": {reason}" if reason else ""),
                {"choice": words[choice], "not_ok": [r.host for r in failing], "reason": reason},
            )
        )
        if choice == "c":
            return
        if choice == "q":  # a pause: `sop resume` checks again
            raise Stop("quit", f"pre-flight: {summary}")
        if choice == "a":
            raise Stop("abort", reason)
        pending = [h for h in hosts if latest[h.name].reach != Reach.OK]
