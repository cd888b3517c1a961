"""The fire-drill executor: every job returns the SOP's simulated result (its `drill:` block,
or a scenario's override for this attempt) instead of running anything."""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterable, Mapping

from sop.events import Outcome
from sop.executors.base import CommandCallback, HostResult, Job, OutputCallback
from sop.model import DrillResult, DrillScenario, Host, Sop

NO_DRILL = DrillResult()

# (SOP id, step id) -> the results of attempt 1, 2, ... (the last repeats)
DrillResults = Mapping[tuple[str, str], tuple[DrillResult, ...]]


def drill_results(
    sop: Sop, scenario: DrillScenario | None = None, called: Iterable[Sop] = ()
) -> dict[tuple[str, str], tuple[DrillResult, ...]]:
    """What the executable steps of a drilled SOP and of the SOPs it calls return: their
    `drill:` blocks, and for the drilled SOP's own steps, the scenario's overrides."""
    out: dict[tuple[str, str], tuple[DrillResult, ...]] = {}
    for each in (*called, sop):
        for step in (*each.steps, *each.rollback):
            if step.executable and step.drill is not None:
                out[(each.id, step.id)] = (step.drill,)
    if scenario is not None:
        out.update({(sop.id, id_): results for id_, results in scenario.steps.items() if results})
    return out


class SimulatedExecutor:
    def __init__(
        self, results: DrillResults, scenario: DrillScenario | None = None, pace: float = 1.0
    ) -> None:
        self.results = results
        self.scenario = scenario or DrillScenario(name="")  # for its unreachable hosts
        self.pace = pace  # 1: simulated commands take their drill delay; 0: no waiting (CI)
        self._attempts: dict[tuple[str, str, str], int] = defaultdict(int)
        self._lock = threading.Lock()
        self._stop = threading.Event()

    def execute(
        self, job: Job, host: Host, output: OutputCallback, on_command: CommandCallback
    ) -> HostResult:
        stop = self._stop
        on_command(job.command)
        if host.name in self.scenario.unreachable:
            reason = f"simulated: {host.name} does not answer (scenario {self.scenario.name})"
            return HostResult(host.name, Outcome.FAILURE, None, "", "", 0.0, reason)
        key = (job.sop_id, job.step_id)
        with self._lock:
            attempt = self._attempts[(*key, host.name)]
            self._attempts[(*key, host.name)] += 1
        results = self.results.get(key) or (NO_DRILL,)
        result = results[min(attempt, len(results) - 1)]
        if result.delay * self.pace and stop.wait(result.delay * self.pace):
            return HostResult(
                host.name,
                Outcome.INTERRUPTED,
                None,
                "",
                "",
                result.delay,
                "interrupted by the responder",
            )
        if result.stdout:
            output("stdout", result.stdout)
        if result.stderr:
            output("stderr", result.stderr)
        outcome = Outcome.SUCCESS if result.exit == 0 else Outcome.FAILURE
        return HostResult(
            host.name, outcome, result.exit, result.stdout, result.stderr, result.delay
        )

    def interrupt(self) -> None:
        self._stop.set()  # the jobs running now stop; the next ones wait on a fresh event
        self._stop = threading.Event()

    def kill(self) -> None:
        self.interrupt()

    def close(self) -> None:
        pass
