"""The fire-drill executor: every job returns the SOP's simulated result (its `drill:` block,
or a scenario's override for this attempt) instead of running anything."""

from __future__ import annotations

import threading
from collections import defaultdict

from sop.executors.base import CommandCallback, HostResult, Job, OutputCallback
from sop.model import DrillResult, Host, Scenario

NO_DRILL = DrillResult()


class SimulatedExecutor:
    def __init__(self, scenario: Scenario | None = None, pace: float = 1.0) -> None:
        self.scenario = scenario or Scenario(name="")
        self.pace = pace  # 1: simulated commands take their drill delay; 0: no waiting (CI)
        self._attempts: dict[tuple[str, str], int] = defaultdict(int)
        self._lock = threading.Lock()
        self._stop = threading.Event()

    def execute(
        self, job: Job, host: Host, output: OutputCallback, on_command: CommandCallback
    ) -> HostResult:
        stop = self._stop
        on_command(job.command)
        if host.name in self.scenario.unreachable:
            reason = f"simulated: {host.name} does not answer (scenario {self.scenario.name})"
            return HostResult(host.name, "failure", None, "", "", 0.0, reason)
        with self._lock:
            attempt = self._attempts[(job.step_id, host.name)]
            self._attempts[(job.step_id, host.name)] += 1
        results = self.scenario.steps.get(job.step_id) or (job.drill or NO_DRILL,)
        result = results[min(attempt, len(results) - 1)]
        if result.delay * self.pace and stop.wait(result.delay * self.pace):
            return HostResult(
                host.name, "interrupted", None, "", "", result.delay, "interrupted by the responder"
            )
        if result.stdout:
            output("stdout", result.stdout)
        if result.stderr:
            output("stderr", result.stderr)
        outcome = "success" if result.exit == 0 else "failure"
        return HostResult(
            host.name, outcome, result.exit, result.stdout, result.stderr, result.delay
        )

    def interrupt(self) -> None:
        self._stop.set()  # the jobs running now stop; the next ones wait on a fresh event
        self._stop = threading.Event()

    def close(self) -> None:
        pass
