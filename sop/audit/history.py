"""Run history for the wiki pages, from the audit logs of a state directory: when an SOP last ran
for real and as a drill, how it ended, where it last failed, and how long each step usually takes.

Only logs whose seals verify with the run's key (kept in this user's key folder), and only the
entries a verified seal covers, are counted (reader.check_log): a log whose chain merely holds
could have been written whole by anyone who can write the state directory (a forged "last
drill: success"). A log that fails verification, has no key or no verified seal, or lies in the
wrong run's folder is named as untrusted on its SOP's page and left out of every figure. The
audit reader does the I/O; everything here is pure functions of its entries, so the same logs always
give the same pages (nothing depends on the time of rendering).

The reader and `statistics` are imported by the functions that read and summarise logs:
rendering without `--runs` needs neither.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sop.audit.actions import Action
from sop.events import Outcome
from sop.records import dataclass
from sop.text import visible

if TYPE_CHECKING:
    from sop.audit.reader import AuditEntry, CheckedLog

REAL = "event"  # event.kind of a real run
DRILL = "drill"  # event.kind of a fire drill
_COUNTED = (Outcome.SUCCESS, Outcome.DONE)  # step outcomes whose duration says how long it takes
_TIMESTAMP = re.compile(r"(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})")

View = dict[str, Any]


@dataclass(frozen=True)
class RunFacts:
    run_id: str
    started: str  # the first record's @timestamp
    operators: tuple[str, ...]  # in order of appearance (a handover adds one)
    outcome: str  # sop.outcome of the last run-finished record, else "unfinished"
    incident: str


@dataclass(frozen=True)
class Failure:
    at: str
    run_id: str
    step: str
    number: str
    called_sop: str
    hosts: tuple[tuple[str, str], ...]  # (host, "exit code 3" or the error message)
    reason: str


@dataclass(frozen=True)
class StepTime:
    median_ns: int
    count: int


@dataclass(frozen=True)
class SopHistory:
    runs: tuple[RunFacts, ...] = ()  # real runs, oldest first
    drills: tuple[RunFacts, ...] = ()
    last_failure: Failure | None = None
    step_times: Mapping[str, StepTime] = field(default_factory=dict)
    untrusted: tuple[tuple[str, str], ...] = ()  # (run id, first finding)
    torn: tuple[str, ...] = ()  # run ids whose log ends in a torn line

    @property
    def last_run(self) -> RunFacts | None:
        return self.runs[-1] if self.runs else None

    @property
    def last_drill(self) -> RunFacts | None:
        return self.drills[-1] if self.drills else None


def read_history(state_dir: Path) -> dict[str, SopHistory]:
    from sop.audit.reader import read_logs

    return summarize(read_logs(state_dir))


# summarising -------------------------------------------------------------------------------


def _sop_id(entries: Iterable[AuditEntry]) -> str:
    return next((e.sop_id for e in entries if e.sop_id), "")


def _facts(run_id: str, entries: Sequence[AuditEntry]) -> RunFacts:
    first = entries[0]
    operators: list[str] = []
    for e in entries:
        if e.operator and e.operator not in operators:
            operators.append(e.operator)
    finished = [e for e in entries if e.action == Action.RUN_FINISHED]
    return RunFacts(
        run_id=first.run_id or run_id,
        started=first.time,
        operators=tuple(operators),
        outcome=(finished[-1].outcome or "finished") if finished else "unfinished",
        incident=first.incident,
    )


def _failures(run_id: str, entries: Iterable[AuditEntry]) -> list[Failure]:
    """Each failed step of a run, with the hosts that failed in that attempt."""
    failures = []
    failed_hosts: dict[tuple[str, str, int | None], list[tuple[str, str]]] = {}
    for e in entries:
        if e.action not in (Action.HOST_FINISHED, Action.STEP_FINISHED):
            continue
        if e.ecs_outcome != "failure":
            continue
        key = (e.called_sop, e.step_id, e.attempt)
        if e.action == Action.HOST_FINISHED:
            detail = f"exit code {e.exit_code}" if e.exit_code is not None else ""
            failed_hosts.setdefault(key, []).append((e.host, detail or e.error or "failed"))
            continue
        failures.append(
            Failure(
                at=e.time,
                run_id=run_id,
                step=e.step_id,
                number=e.number,
                called_sop=e.called_sop,
                hosts=tuple(failed_hosts.pop(key, [])),
                reason=e.reason or e.outcome,
            )
        )
    return failures


def _durations(sop_id: str, entries: Iterable[AuditEntry]) -> Iterable[tuple[str, str, int]]:
    """(SOP id, step id, ns) for each step that finished well; steps of a called SOP count
    for the called SOP."""
    for e in entries:
        if e.action == Action.STEP_FINISHED and e.outcome in _COUNTED and e.duration_ns is not None:
            yield e.called_sop or sop_id, e.step_id, e.duration_ns


def summarize(logs: Iterable[CheckedLog]) -> dict[str, SopHistory]:
    """SOP id -> its history. A run is a drill when its first record's event.kind is "drill",
    a real run when it is "event"; within a run only records of the run's own kind count, and
    runs of any other kind are left out."""
    import statistics

    runs: dict[str, list[RunFacts]] = {}
    drills: dict[str, list[RunFacts]] = {}
    failures: dict[str, list[Failure]] = {}
    times: dict[str, dict[str, list[int]]] = {}
    untrusted: dict[str, list[tuple[str, str]]] = {}
    torn: dict[str, list[str]] = {}
    for log in logs:
        sop_id = _sop_id(log.entries)
        if not sop_id:
            continue
        if log.problem:
            untrusted.setdefault(sop_id, []).append((log.run_id, log.problem))
            continue
        if log.torn:
            torn.setdefault(sop_id, []).append(log.run_id)
        kind = log.entries[0].event_kind
        if kind not in (REAL, DRILL):
            continue
        entries = [e for e in log.entries if e.event_kind == kind]
        facts = _facts(log.run_id, entries)
        (runs if kind == REAL else drills).setdefault(sop_id, []).append(facts)
        if kind == REAL:
            failures.setdefault(sop_id, []).extend(_failures(facts.run_id, entries))
        for owner, step, ns in _durations(sop_id, entries):
            times.setdefault(owner, {}).setdefault(step, []).append(ns)
    ids = set(runs) | set(drills) | set(times) | set(untrusted) | set(torn)
    by_start = lambda f: (f.started, f.run_id)  # noqa: E731
    return {
        sop_id: SopHistory(
            runs=tuple(sorted(runs.get(sop_id, []), key=by_start)),
            drills=tuple(sorted(drills.get(sop_id, []), key=by_start)),
            last_failure=max(
                failures.get(sop_id, []), key=lambda f: (f.at, f.run_id), default=None
            ),
            step_times={
                step: StepTime(round(statistics.median(values)), len(values))
                for step, values in sorted(times.get(sop_id, {}).items())
            },
            untrusted=tuple(sorted(untrusted.get(sop_id, []))),
            torn=tuple(sorted(torn.get(sop_id, []))),
        )
        for sop_id in sorted(ids)
    }


# what a page shows --------------------------------------------------------------------------


def format_time(stamp: str) -> str:
    """`2026-11-28T14:06:12.288Z` as `2026-11-28 14:06 UTC` (other text as it is)."""
    match = _TIMESTAMP.match(stamp)
    return f"{match[1]} {match[2]} UTC" if match else stamp


def format_duration(ns: int) -> str:
    seconds = ns / 1e9
    if seconds < 1:
        return f"{seconds:.2f}s"
    if seconds < 10:
        return f"{seconds:.1f}s"
    if seconds < 59.5:
        return f"{round(seconds)}s"
    whole = round(seconds)
    if whole < 3600:
        return f"{whole // 60}m {whole % 60:02d}s"
    return f"{whole // 3600}h {whole % 3600 // 60:02d}m"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _run_text(run: RunFacts) -> str:
    text = f"{format_time(run.started)}: {run.outcome}"
    if run.operators:
        text += f", by {', then '.join(run.operators)}"
    if run.incident:
        text += f", incident {run.incident}"
    return f"{text} (run {run.run_id})"


def _failure_text(failure: Failure) -> str:
    step = f"step {failure.number} ({failure.step})" if failure.number else f"step {failure.step}"
    if failure.called_sop:
        step += f" of {failure.called_sop}"
    if failure.hosts:
        where = "; ".join(f"on {host}: {detail}" for host, detail in failure.hosts)
    else:
        where = failure.reason or "failed"
    return f"{format_time(failure.at)}, {step}, {where} (run {failure.run_id})"


def last_drilled(history: SopHistory) -> list[str]:
    """The value of the metadata table's "Last drilled" row."""
    drill = history.last_drill
    return [visible(f"{drill.started[:10]} ({drill.outcome})")] if drill else []


def step_median(history: SopHistory, step_id: str) -> str:
    """A step's median duration as shown next to it, or "" when no run finished it."""
    time = history.step_times.get(step_id)
    if time is None:
        return ""
    return f"{format_duration(time.median_ns)} (median of {time.count})"


def history_view(history: SopHistory) -> View:
    """The "Run history" section: rows of label and value, the logs that fail verification
    (each `run` and its first finding, `problem`), and notes; all plain text, with what came
    from a log (operators, incidents, host errors, reasons) made visible (`sop.text`)."""

    rows = [
        ("Last run", _run_text(history.last_run) if history.last_run else "none recorded"),
        ("Last drill", _run_text(history.last_drill) if history.last_drill else "none recorded"),
        (
            "Last failure",
            _failure_text(history.last_failure) if history.last_failure else "none recorded",
        ),
        (
            "Counted",
            f"{_plural(len(history.runs), 'run')} and {_plural(len(history.drills), 'drill')}"
            " from audit logs that verify",
        ),
    ]
    notes = [
        f"The audit log of run {run_id} ends in a torn line (a crash while writing);"
        " its complete records are counted."
        for run_id in history.torn
    ]
    if history.step_times:
        notes.append(
            "Each step shows its median time over the real runs and drills that finished it."
        )
    return {
        "rows": [{"label": label, "value": visible(value)} for label, value in rows],
        "notes": [visible(note) for note in notes],
        "untrusted": [
            {"run": visible(run_id), "problem": visible(problem)}
            for run_id, problem in history.untrusted
        ],
    }
