"""Run history for the wiki pages, from the audit logs of a state directory: when an SOP last ran
for real and as a drill, how it ended, where it last failed, and how long each step usually takes.

Only logs that verify (or whose only flaw is a torn last line) are counted. A log that fails
verification is named as untrusted on its SOP's page and left out of every figure. Reading the
logs is the only I/O; everything else is pure functions of the records, so the same logs always
give the same pages (nothing depends on the time of rendering).

The audit modules and `statistics` are imported by the functions that read and summarise logs:
rendering without `--runs` needs neither.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REAL = "event"  # event.kind of a real run
DRILL = "drill"  # event.kind of a fire drill
_COUNTED = ("success", "done")  # step outcomes whose duration says how long a step takes
_TIMESTAMP = re.compile(r"(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})")

Record = dict[str, Any]
View = dict[str, Any]


@dataclass(frozen=True)
class CheckedLog:
    """One run's audit log, read and verified. `problem` is empty when the log can be trusted."""

    run_id: str
    records: tuple[Record, ...]
    problem: str = ""
    torn: bool = False


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


# reading ---------------------------------------------------------------------------------


def check_log(run_id: str, data: bytes) -> CheckedLog:
    """Verify a log's chain and keep its parseable records."""
    from sop.audit.verify import parse_log, verify_bytes

    verification = verify_bytes(data)
    records = tuple(r for _, r in parse_log(data).records)
    if verification.ok:
        return CheckedLog(run_id, records)
    if verification.only_torn:
        return CheckedLog(run_id, records, torn=True)
    return CheckedLog(run_id, records, problem=str(verification.findings[0]))


def read_logs(state_dir: Path) -> list[CheckedLog]:
    """Every run's audit log under STATE_DIR/runs, sorted by run id. Symbolic links are not
    followed: a page must not publish a file from outside the state directory."""
    from sop.audit.state import AUDIT

    runs = state_dir / "runs"
    if not runs.is_dir():
        return []
    logs = []
    for run_dir in sorted(runs.iterdir()):
        if run_dir.is_symlink() or not run_dir.is_dir():
            continue
        try:
            fd = os.open(run_dir / AUDIT, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError:
            continue
        with os.fdopen(fd, "rb") as handle:
            data = handle.read()
        logs.append(check_log(run_dir.name, data))
    return logs


def read_history(state_dir: Path) -> dict[str, SopHistory]:
    return summarize(read_logs(state_dir))


# summarising -------------------------------------------------------------------------------


def _get(record: Record, group: str, name: str) -> Any:
    value = record.get(group)
    return value.get(name) if isinstance(value, dict) else None


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _sop_id(records: Iterable[Record]) -> str:
    return next((str(_get(r, "sop", "id")) for r in records if _get(r, "sop", "id")), "")


def _facts(run_id: str, records: list[Record]) -> RunFacts:
    first = records[0]
    operators: list[str] = []
    for record in records:
        name = _text(_get(record, "user", "name"))
        if name and name not in operators:
            operators.append(name)
    finished = [r for r in records if _get(r, "event", "action") == "run-finished"]
    return RunFacts(
        run_id=_text(_get(first, "sop", "run_id")) or run_id,
        started=_text(first.get("@timestamp")),
        operators=tuple(operators),
        outcome=(_text(_get(finished[-1], "sop", "outcome")) or "finished")
        if finished
        else "unfinished",
        incident=_text(_get(first, "labels", "incident")),
    )


def _failures(run_id: str, records: list[Record]) -> list[Failure]:
    """Each failed step of a run, with the hosts that failed in that attempt."""
    failures = []
    failed_hosts: dict[tuple[str, str, str], list[tuple[str, str]]] = {}
    for record in records:
        action = _get(record, "event", "action")
        if action not in ("host-finished", "step-finished"):
            continue
        key = (
            _text(_get(record, "sop", "called_sop")),
            _text(_get(record, "sop", "step")),
            _text(_get(record, "sop", "attempt")),
        )
        if _get(record, "event", "outcome") != "failure":
            continue
        if action == "host-finished":
            code = _get(record, "process", "exit_code")
            detail = f"exit code {code}" if code is not None else ""
            detail = detail or _text(_get(record, "error", "message")) or "failed"
            failed_hosts.setdefault(key, []).append((_text(_get(record, "host", "name")), detail))
            continue
        failures.append(
            Failure(
                at=_text(record.get("@timestamp")),
                run_id=run_id,
                step=key[1],
                number=_text(_get(record, "sop", "number")),
                called_sop=key[0],
                hosts=tuple(failed_hosts.pop(key, [])),
                reason=_text(_get(record, "sop", "reason"))
                or _text(_get(record, "sop", "outcome")),
            )
        )
    return failures


def _durations(sop_id: str, records: list[Record]) -> Iterable[tuple[str, str, int]]:
    """(SOP id, step id, ns) for each step that finished well; steps of a called SOP count
    for the called SOP."""
    for record in records:
        if _get(record, "event", "action") != "step-finished":
            continue
        duration = _get(record, "event", "duration")
        if _get(record, "sop", "outcome") not in _COUNTED or not isinstance(duration, int):
            continue
        owner = _text(_get(record, "sop", "called_sop")) or sop_id
        yield owner, _text(_get(record, "sop", "step")), duration


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
        sop_id = _sop_id(log.records)
        if not sop_id:
            continue
        if log.problem:
            untrusted.setdefault(sop_id, []).append((log.run_id, log.problem))
            continue
        if log.torn:
            torn.setdefault(sop_id, []).append(log.run_id)
        kind = _get(log.records[0], "event", "kind")
        if kind not in (REAL, DRILL):
            continue
        records = [r for r in log.records if _get(r, "event", "kind") == kind]
        facts = _facts(log.run_id, records)
        (runs if kind == REAL else drills).setdefault(sop_id, []).append(facts)
        if kind == REAL:
            failures.setdefault(sop_id, []).extend(_failures(facts.run_id, records))
        for owner, step, ns in _durations(sop_id, records):
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
    return [f"{drill.started[:10]} ({drill.outcome})"] if drill else []


def step_median(history: SopHistory, step_id: str) -> str:
    """A step's median duration as shown next to it, or "" when no run finished it."""
    time = history.step_times.get(step_id)
    if time is None:
        return ""
    return f"{format_duration(time.median_ns)} (median of {time.count})"


def history_view(history: SopHistory) -> View:
    """The "Run history" section: rows of label and value, the logs that fail verification
    (each `run` and its first finding, `problem`), and notes; all plain text."""
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
        "rows": [{"label": label, "value": value} for label, value in rows],
        "notes": notes,
        "untrusted": [{"run": run_id, "problem": problem} for run_id, problem in history.untrusted],
    }
