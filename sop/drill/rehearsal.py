"""`sop drill` as a function: a run with the drill's options, then its report."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sop import events as ev
from sop.drill.guard import forbid_side_effects
from sop.drill.report import DrillReport, write_drill_report
from sop.events import Clock
from sop.records import dataclass
from sop.run.inputs import Asker
from sop.run.launch import Launched, RunRequest, launch
from sop.run.options import Prompter


@dataclass(frozen=True)
class Rehearsal:
    launched: Launched
    report: DrillReport
    folder: Path  # where report.md and report.json are


def rehearse(
    request: RunRequest,
    *,
    prompter: Prompter | None,
    asker: Asker | None,
    sinks: Sequence[ev.Sink],
    clock: Clock,
    report_dir: Path | None = None,
) -> Rehearsal:
    """Walk the drill `request` describes (its `options.drill`; a simulated drill is kept off
    hosts and the network first), then write its report into `report_dir`
    (default: the run's folder)."""
    guard = forbid_side_effects() if request.options.simulated else None
    launched = launch(
        request, prompter=prompter, asker=asker, sinks=sinks, clock=clock, guard=guard
    )
    assert launched.run_dir is not None and launched.sop is not None  # a drill is never dry
    folder = report_dir or launched.run_dir
    report = write_drill_report(launched.run_dir, launched.sop.target_minutes, folder)
    return Rehearsal(launched, report, folder)
