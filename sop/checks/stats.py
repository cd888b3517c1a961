"""Staleness and automation statistics from the SOPs and the audit logs of a state directory:
per SOP when it was last reviewed and drilled, how long drills and real runs take (median), how
much of it is automated, and the slowest manual steps across runs (the best candidates to
automate next). Also the "not drilled for N days" warnings of `sop lint --runs`.

Only logs whose seals verify with the run's key count (and only what the seals cover), as for
`sop render --runs`; the others are listed in `untrusted` so the CLI and lint name them.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from sop.audit.actions import Action
from sop.audit.history import DRILL, REAL
from sop.audit.reader import CheckedLog, log_path, read_logs
from sop.errors import Location, Problem
from sop.events import Outcome
from sop.model import Sop
from sop.records import dataclass

DRILL_MAX_DAYS = 90


@dataclass(frozen=True)
class SopStats:
    id: str
    reviewed: dt.date | None
    last_drilled: dt.date | None
    drills: int  # drills started (finished or not)
    runs: int  # real runs started
    median_drill_seconds: float | None  # over finished drills
    median_run_seconds: float | None  # over finished real runs
    executable_steps: int
    steps: int

    @property
    def automation(self) -> float:
        return self.executable_steps / self.steps if self.steps else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "reviewed": str(self.reviewed) if self.reviewed else None,
            "last_drilled": str(self.last_drilled) if self.last_drilled else None,
            "drills": self.drills,
            "runs": self.runs,
            "median_drill_seconds": self.median_drill_seconds,
            "median_run_seconds": self.median_run_seconds,
            "executable_steps": self.executable_steps,
            "steps": self.steps,
            "automation": round(self.automation, 3),
        }


@dataclass(frozen=True)
class ManualStep:
    sop: str
    step: str
    title: str
    median_seconds: float
    count: int  # how many times the step was done


@dataclass(frozen=True)
class Stats:
    sops: tuple[SopStats, ...]
    slowest: tuple[ManualStep, ...]
    untrusted: tuple[tuple[str, str], ...]  # (run id, first finding)

    def as_dict(self) -> dict[str, Any]:
        return {
            "sops": [s.as_dict() for s in self.sops],
            "slowest_manual_steps": [
                {
                    "sop": m.sop,
                    "step": m.step,
                    "title": m.title,
                    "median_seconds": m.median_seconds,
                    "count": m.count,
                }
                for m in self.slowest
            ],
            "untrusted": [{"run": r, "problem": p} for r, p in self.untrusted],
        }


def _date(stamp: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(stamp[:10])
    except ValueError:
        return None


def _median(values: Sequence[float]) -> float | None:
    return round(statistics.median(values), 3) if values else None


@dataclass
class _Tally:
    drill_dates: list[dt.date]
    drill_seconds: list[float]
    runs: int
    run_seconds: list[float]


def compute_stats(sops: Sequence[Sop], logs: Iterable[CheckedLog], top: int = 5) -> Stats:
    """The statistics of these SOPs from these logs. Steps of a called SOP count for the called
    SOP; a run's time is its run-finished record's duration."""
    tallies = {s.id: _Tally([], [], 0, []) for s in sops}
    prose: dict[tuple[str, str], list[float]] = {}
    untrusted: list[tuple[str, str]] = []
    for log in logs:
        if log.problem:
            untrusted.append((log.run_id, log.problem))
            continue
        if not log.entries:
            continue
        sop_id = log.entries[0].sop_id
        kind = log.entries[0].event_kind
        if kind not in (REAL, DRILL):
            continue
        entries = [e for e in log.entries if e.event_kind == kind]
        tally = tallies.get(sop_id)
        finished = [e for e in entries if e.action == Action.RUN_FINISHED]
        seconds = [s for e in finished[-1:] if (s := e.seconds) is not None]
        if tally is not None:
            if kind == DRILL:
                day = _date(entries[0].time)
                tally.drill_dates.extend([day] if day else [])
                tally.drill_seconds.extend(seconds)
            else:
                tally.runs += 1
                tally.run_seconds.extend(seconds)
        for e in entries:
            if (
                e.action == Action.STEP_FINISHED
                and e.step_kind == "prose"
                and e.outcome == Outcome.DONE
                and e.seconds is not None
            ):
                owner = e.called_sop or sop_id
                prose.setdefault((owner, e.step_id), []).append(e.seconds)
    by_id = {s.id: s for s in sops}
    slowest = sorted(
        (
            ManualStep(sop, step, _title(by_id.get(sop), step), m, len(v))
            for (sop, step), v in prose.items()
            if sop in by_id and (m := _median(v)) is not None
        ),
        key=lambda m: (-m.median_seconds, m.sop, m.step),
    )[:top]
    return Stats(
        sops=tuple(
            SopStats(
                id=s.id,
                reviewed=s.reviewed,
                last_drilled=max(tallies[s.id].drill_dates, default=None),
                drills=len(tallies[s.id].drill_dates),
                runs=tallies[s.id].runs,
                median_drill_seconds=_median(tallies[s.id].drill_seconds),
                median_run_seconds=_median(tallies[s.id].run_seconds),
                executable_steps=sum(step.executable for step in s.steps),
                steps=len(s.steps),
            )
            for s in sorted(sops, key=lambda s: s.id)
        ),
        slowest=tuple(slowest),
        untrusted=tuple(sorted(untrusted)),
    )


def _title(sop: Sop | None, step_id: str) -> str:
    step = next((s for s in sop.steps if s.id == step_id), None) if sop else None
    return step.label if step else ""


def read_stats(sops: Sequence[Sop], state_dir: Path, top: int = 5) -> Stats:
    return compute_stats(sops, read_logs(state_dir), top)


def seconds_text(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    whole = round(seconds)
    return f"{whole // 60}m {whole % 60:02d}s"


def stats_rows(stats: Stats) -> list[list[str]]:
    return [
        [
            s.id,
            str(s.reviewed or "-"),
            str(s.last_drilled or "never"),
            seconds_text(s.median_drill_seconds),
            seconds_text(s.median_run_seconds),
            f"{s.automation:.0%} ({s.executable_steps}/{s.steps})",
        ]
        for s in stats.sops
    ]


STATS_HEADERS = ("sop", "reviewed", "last drilled", "median drill", "median run", "automated")


def drill_problems(
    sops: Iterable[Sop], state_dir: Path, *, today: dt.date, max_days: int = DRILL_MAX_DAYS
) -> list[Problem]:
    """A warning per SOP not drilled for more than `max_days` days, or never drilled."""
    sops = list(sops)
    stats = read_stats(sops, state_dir)
    by_id = {s.id: s for s in sops}
    problems = []
    for s in stats.sops:
        sop = by_id[s.id]
        if s.last_drilled is None:
            message = "never drilled: rehearse it with `sop drill`"
        elif (today - s.last_drilled).days > max_days:
            message = (
                f"not drilled for {(today - s.last_drilled).days} days (over {max_days}); "
                "rehearse it with `sop drill`"
            )
        else:
            continue
        problems.append(Problem(sop.where, "", message, "warning", "drill"))
    for run_id, problem in stats.untrusted:  # not counted: a forged drill must not pass for one
        where = Location(str(log_path(state_dir / "runs" / run_id)))
        message = f"audit log untrusted ({problem}); not counted as a run or a drill"
        problems.append(Problem(where, "", message, "warning", "drill"))
    return problems
