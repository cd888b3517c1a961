"""A run's spans as its audit log records them (`span.id`, `sop.parent_span_id`): the run span,
one span per step attempt (a child of the run span) and one per host's command (a child of its
step's span). What an OTLP export sends (otlp.py); built from entries only, so a past run's log
gives the same spans as the run itself.

A span is here once it has ended: the run span at `run-finished` (a paused run's has not), a
step's at its `step-finished`, a host's at its `host-finished`. Attributes are names, ids,
outcomes and exit codes: never an input, an answer, a command or its output."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sop.audit.actions import Action
from sop.audit.reader import AuditEntry
from sop.records import dataclass

Attributes = Mapping[str, str | int | bool]
# a run begun by an sop that recorded no spans has its run span from its first resume on
_RUN_STARTS = (Action.RUN_STARTED, Action.RUN_RESUMED)


@dataclass(frozen=True)
class SpanRecord:
    name: str
    trace_id: str
    span_id: str
    parent_span_id: str  # "" for a run that began its trace
    start: float  # epoch seconds
    end: float
    ecs_outcome: str  # "success" (status ok), "failure" (error) or "unknown" (unset)
    outcome: str  # sop's own outcome, the status's description on an error
    attributes: Attributes


def last_segment(entries: Sequence[AuditEntry]) -> int:
    """Where the log's last stretch of driving begins: its last `run-started` or
    `run-resumed` record (what the process that wrote it last exports)."""
    starts = [i for i, e in enumerate(entries) if e.action in _RUN_STARTS]
    return starts[-1] if starts else 0


def run_spans(entries: Sequence[AuditEntry], since: int = 0) -> list[SpanRecord]:
    """The spans that end at entries[since:], in the order they ended. A log written before
    sop recorded spans has none."""
    started = next((e for e in entries if e.action in _RUN_STARTS and e.span_id), None)
    if started is None:
        return []
    begun: dict[str, float] = {}  # span id -> its first step-started or command-started
    spans: list[SpanRecord] = []
    for i, e in enumerate(entries):
        if e.action in (Action.STEP_STARTED, Action.COMMAND_STARTED) and e.span_id:
            begun.setdefault(e.span_id, e.at)
        if i < since or not e.span_id:
            continue
        if e.action == Action.RUN_FINISHED:
            spans.append(_span(f"sop run {started.sop_id}", started, e, started.at, _run(started)))
        elif e.action == Action.STEP_FINISHED:
            span_start = begun.get(e.span_id, e.at - (e.seconds or 0.0))
            spans.append(_span(f"step {e.step_id}", started, e, span_start, _step(e)))
        elif e.action == Action.HOST_FINISHED:
            span_start = begun.get(e.span_id, e.at - (e.seconds or 0.0))
            name = f"{e.step_id} on {e.host}"
            spans.append(_span(name, started, e, span_start, _host(e)))
    return spans


def _span(
    name: str, run: AuditEntry, end: AuditEntry, start: float, attributes: Attributes
) -> SpanRecord:
    """The span that `end` ends (the run's: `run`'s ids; a step's or host's: its own)."""
    ids = run if end.action == Action.RUN_FINISHED else end
    return SpanRecord(
        name,
        run.trace_id,
        ids.span_id,
        ids.parent_span_id,
        min(start, end.at),
        end.at,
        end.ecs_outcome or "unknown",
        end.outcome,
        {**attributes, "sop.outcome": end.outcome},
    )


def _run(started: AuditEntry) -> dict[str, str | int | bool]:
    out: dict[str, str | int | bool] = {
        "sop.id": started.sop_id,
        "sop.run_id": started.run_id,
        "sop.title": started.sop_title,
        "sop.drill": started.event_kind == "drill",
    }
    if started.incident:
        out["sop.incident"] = started.incident
    return out


def _step(e: AuditEntry) -> dict[str, str | int | bool]:
    out: dict[str, str | int | bool] = {
        "sop.run_id": e.run_id,
        "sop.step.id": e.step_id,
        "sop.step.number": e.number,
        "sop.step.title": e.step_title,
        "sop.step.kind": e.step_kind,
        "sop.attempt": e.attempt or 1,
    }
    if e.called_sop:
        out["sop.called_sop"] = e.called_sop
    if e.round > 1:
        out["sop.round"] = e.round
    return out


def _host(e: AuditEntry) -> dict[str, str | int | bool]:
    out: dict[str, str | int | bool] = {
        "sop.run_id": e.run_id,
        "sop.step.id": e.step_id,
        "sop.target.name": e.host,
        "sop.attempt": e.attempt or 1,
    }
    if e.exit_code is not None:
        out["process.exit.code"] = e.exit_code
    return out
