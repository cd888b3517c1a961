"""Run one job on a step's hosts: in parallel up to a bound, a canary first if asked, Ctrl-C
stopping every host. Reports each host's output (live, masked: `liveoutput.py`) and result as
events."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from sop.events import CommandStarted, Event, HostFinished, Output, StepRef
from sop.executors import Executors
from sop.executors.base import HostResult, Job
from sop.model import Host
from sop.outcomes import Outcome
from sop.redact import Redactor
from sop.run.liveoutput import LiveOutput

Emit = Callable[[Event], None]
Now = Callable[[], float]


class FanOut:
    def __init__(self, executors: Executors, emit: Emit, now: Now, redactor: Redactor) -> None:
        self.executors = executors
        self.emit = emit
        self.now = now
        self.redactor = redactor

    def run(
        self, job: Job, hosts: Sequence[Host], step: StepRef, attempt: int, parallel: int
    ) -> list[HostResult]:
        """Results in host order. Raises KeyboardInterrupt only after every host has stopped."""
        multi = len(hosts) > 1
        results: dict[str, HostResult] = {}
        interrupted = False

        def deliver(host: str, stream: str, text: str) -> None:
            self.emit(Output(self.now(), step, host, stream, text, multi))

        with (
            LiveOutput(self.redactor, deliver) as live,
            ThreadPoolExecutor(
                max_workers=max(1, min(parallel, len(hosts))), thread_name_prefix="sop-host"
            ) as pool,
        ):
            futures: dict[Future[HostResult], Host] = {
                pool.submit(self._one, job, host, step, attempt, live): host for host in hosts
            }
            pending = set(futures)
            while pending:
                try:
                    _, pending = wait(pending, timeout=0.1, return_when=FIRST_COMPLETED)
                except KeyboardInterrupt:
                    interrupted = True
                    self.executors.interrupt()
                    for future in pending:
                        if future.cancel():  # not started yet: never will
                            host = futures[future]
                            results[host.name] = HostResult(
                                host.name, Outcome.INTERRUPTED, None, "", "", 0.0, "not started"
                            )
            for future, host in futures.items():
                if not future.cancelled():
                    results[host.name] = future.result()
        if interrupted:
            raise KeyboardInterrupt
        return [results[h.name] for h in hosts]

    def _one(
        self, job: Job, host: Host, step: StepRef, attempt: int, live: LiveOutput
    ) -> HostResult:
        def output(stream: str, text: str) -> None:
            live.feed(host.name, stream, text)

        def on_command(command: str) -> None:
            self.emit(CommandStarted(self.now(), step, host.name, command, attempt))

        executor = self.executors.for_host(host)
        result = executor.execute(job, host, output, on_command)
        live.finish(host.name)
        self.emit(
            HostFinished(
                self.now(),
                step,
                host.name,
                result.outcome,
                result.exit_code,
                result.duration,
                result.error,
                result.stdout,
                result.stderr,
                attempt,
            )
        )
        return result
