"""Run one job on a step's hosts: in parallel up to a bound, a canary first if asked. Reports
each host's output (live, masked: `liveoutput.py`) and result as events.

Ctrl-C escalates while commands run: the first sends SIGTERM to every running command's
process group and names the hosts still running; the second, or `GRACE` seconds later, SIGKILL;
the third stops waiting: the hosts still running are in doubt (`StoppedWaiting`), and nothing
they do afterwards is reported."""

from __future__ import annotations

import dataclasses
import queue
import signal
import threading
from collections.abc import Callable, Sequence
from types import FrameType
from typing import Any, Protocol

from sop.events import (
    Clock,
    CommandStarted,
    Escalation,
    Event,
    HostFinished,
    HostStarted,
    Outcome,
    Output,
    StepRef,
    Stopping,
)
from sop.executors import Executors
from sop.executors.base import HostResult, Job
from sop.model import Host
from sop.redact import Redactor
from sop.run.liveoutput import LiveOutput
from sop.run.openfiles import OpenFiles
from sop.run.tracecontext import new_span_id, traceparent

Emit = Callable[[Event], None]


class Events(Protocol):
    """Where a fan-out's events go (the run's `Services`): `emit` returns once the audit log
    holds the event on disk; `record` and `settle` are its two halves."""

    def emit(self, event: Event) -> None: ...
    def record(self, event: Event) -> None: ...
    def settle(self) -> None: ...


GRACE = 5.0  # seconds from SIGTERM to SIGKILL
POLL = 0.1  # seconds between looks at the grace period


class HostsInterrupted(KeyboardInterrupt):
    """Ctrl-C while a step ran; every host has stopped. `results` in host order."""

    def __init__(self, results: Sequence[HostResult]) -> None:
        super().__init__()
        self.results = tuple(results)


class StoppedWaiting(KeyboardInterrupt):
    """The responder stopped waiting for `hosts` of `step`: their commands may still run."""

    def __init__(self, step: StepRef, hosts: Sequence[str]) -> None:
        super().__init__()
        self.step = step
        self.hosts = tuple(hosts)


class _Reporter:
    """Emits one fan-out's events from its host threads, until sop stops waiting for them.
    A host thread waits for the disk outside the lock: hosts share their fsyncs."""

    def __init__(self, events: Events) -> None:
        self._events = events
        self._lock = threading.Lock()
        self._stopped = False

    def __call__(self, event: Event) -> None:
        with self._lock:
            if self._stopped:
                return
            self._events.record(event)
        if isinstance(event, CommandStarted):  # the record of a command precedes the command
            self._events.settle()
        # A host's result (HostFinished) waits for no disk in its thread: it is written in
        # order, and the next wait for the disk covers it, before anything else can start on
        # a host (the step's own records, settled by the main thread, or the next command's).

    def stop(self) -> None:
        with self._lock:
            self._stopped = True


class _CtrlC:
    """Counts Ctrl-C presses while hosts run, for the wait loop to act on in order, instead of
    a KeyboardInterrupt raised wherever the main thread is (halfway through an audit write).
    Outside the main thread, Ctrl-C never arrives: nothing to count."""

    def __init__(self) -> None:
        self.pressed = 0
        self.handled = 0
        self._previous: Any = None

    def _press(self, signum: int, frame: FrameType | None) -> None:
        self.pressed += 1

    def __enter__(self) -> _CtrlC:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._press)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


class FanOut:
    def __init__(
        self,
        executors: Executors,
        events: Events,
        clock: Clock,
        redactor: Redactor,
        trace_id: str,
        open_files: OpenFiles,
    ) -> None:
        self.executors = executors
        self.events = events
        self.clock = clock
        self.redactor = redactor
        self.open_files = open_files
        self.trace_id = trace_id
        self.waiting: Callable[[], None] | None = None  # called while hosts run (main thread)

    def host_span(self, job: Job) -> tuple[Job, str]:
        """A new host span, and `job` with its TRACEPARENT: the command's own tracing joins the
        run's trace under it."""
        span = new_span_id()
        env = {**job.env, "TRACEPARENT": traceparent(self.trace_id, span)}
        return dataclasses.replace(job, env=env), span

    def run(
        self,
        job: Job,
        hosts: Sequence[Host],
        step: StepRef,
        attempt: int,
        parallel: int,
        span: str,
    ) -> list[HostResult]:
        """Results in host order, each host's command under a host span, a child of the step
        span `span`. Raises HostsInterrupted after a Ctrl-C, once every host has stopped, and
        StoppedWaiting at the third Ctrl-C. Raises Stop, before any host is contacted, when the
        process may not open the files they need (`openfiles.py`)."""
        raised = self.open_files.make_room(hosts, self.clock.now())
        if raised is not None:
            self.events.emit(raised)
        multi = len(hosts) > 1
        report = _Reporter(self.events)
        done: queue.SimpleQueue[HostResult | BaseException] = queue.SimpleQueue()
        slots = threading.Semaphore(max(1, min(parallel, len(hosts))))
        stopping = threading.Event()  # after a Ctrl-C, hosts not started never start
        started: set[str] = set()
        spanned = {h.name: self.host_span(job) for h in hosts}  # before any thread starts

        def work(host: Host) -> None:
            try:
                with slots:
                    if stopping.is_set():
                        done.put(_not_started(host))
                        return
                    started.add(host.name)
                    report(HostStarted(self.clock.now(), step, host.name, attempt))
                    done.put(self._one(report, spanned[host.name], host, step, attempt, live, span))
            except BaseException as exc:  # the run's to handle (an audit write failed, ...)
                done.put(exc)

        results: dict[str, HostResult] = {}
        escalation: Escalation | None = None
        termed_at = 0.0

        def deliver(host: str, stream: str, text: str) -> None:
            report(Output(self.clock.now(), step, host, stream, text, multi))

        with (
            _CtrlC() as ctrl_c,  # counting before the first command can start
            LiveOutput(self.redactor, deliver) as live,
        ):
            for host in hosts:  # daemon threads: sop can exit while a host it gave up on hangs
                threading.Thread(target=work, args=(host,), name="sop-host", daemon=True).start()
            while len(results) < len(hosts):
                while ctrl_c.handled < ctrl_c.pressed:
                    ctrl_c.handled += 1
                    stopping.set()
                    if escalation is None:
                        termed_at = self.clock.monotonic()
                        escalation = self._escalate(Escalation.TERM, step, hosts, started, results)
                    elif escalation is Escalation.TERM:
                        escalation = self._escalate(Escalation.KILL, step, hosts, started, results)
                    else:
                        report.stop()
                        self._escalate(Escalation.STOP_WAITING, step, hosts, started, results)
                if escalation is Escalation.TERM and self.clock.monotonic() - termed_at >= GRACE:
                    escalation = self._escalate(Escalation.KILL, step, hosts, started, results)
                if self.waiting is not None and escalation is None:
                    self.waiting()
                try:
                    item = done.get(timeout=POLL)
                except queue.Empty:
                    continue
                if isinstance(item, BaseException):  # no host starts after it
                    stopping.set()
                    raise item
                results[item.host] = item
        ordered = [results[h.name] for h in hosts]
        if escalation is not None:
            raise HostsInterrupted(ordered)
        return ordered

    def _escalate(
        self,
        escalation: Escalation,
        step: StepRef,
        hosts: Sequence[Host],
        started: set[str],
        results: dict[str, HostResult],
    ) -> Escalation:
        running = tuple(h.name for h in hosts if h.name in started and h.name not in results)
        if escalation is Escalation.TERM:
            self.executors.interrupt()
        elif escalation is Escalation.KILL:
            self.executors.kill()
        grace = GRACE if escalation is Escalation.TERM else 0.0
        self.events.emit(Stopping(self.clock.now(), step, escalation, running, grace))
        if escalation is Escalation.STOP_WAITING:
            raise StoppedWaiting(step, running)
        return escalation

    def _one(
        self,
        report: Emit,
        spanned: tuple[Job, str],
        host: Host,
        step: StepRef,
        attempt: int,
        live: LiveOutput,
        parent: str,
    ) -> HostResult:
        now = self.clock.now
        job, span = spanned

        def output(stream: str, text: str) -> None:
            live.feed(host.name, stream, text)

        def on_command(command: str) -> None:
            report(CommandStarted(now(), step, host.name, command, attempt, span, parent))

        executor = self.executors.for_host(host)
        result = executor.execute(job, host, output, on_command).judged(job.ok_exit)
        live.finish(host.name)
        report(
            HostFinished(
                now(),
                step,
                host.name,
                result.outcome,
                result.exit_code,
                result.duration,
                result.error,
                result.stdout,
                result.stderr,
                attempt,
                span,
                parent,
            )
        )
        return result


def _not_started(host: Host) -> HostResult:
    return HostResult(host.name, Outcome.INTERRUPTED, None, "", "", 0.0, "not started")
