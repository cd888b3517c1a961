"""Reading audit logs back, typed.

Words, as the whole audit wing uses them: a *record* is the JSON object one line of the log
holds (records.py builds it from a runner event, log.py chains and writes it); an *entry*
(`AuditEntry`) is the frozen, typed view of one record that every reader works with (resume,
drill reports, `sop report`, `sop runs`, stats, the wiki's run history). This module is the
only code that opens an audit log for reading; verify.py checks a log's bytes, and its parsing
is what entries are built from.

A log written by an earlier sop may lack fields this one writes: a missing text reads as "", a
missing number as None, so every reader takes old logs as they are.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sop.audit.actions import Action
from sop.audit.state import AUDIT
from sop.audit.verify import AuditReadError, Parsed, Verification, parse_log, verify_bytes
from sop.events import step_key
from sop.outcomes import Outcome

_ACTIONS: dict[str, str] = {a.value: a for a in Action}
_OUTCOMES: dict[str, str] = {o.value: o for o in Outcome}


class MissingLogError(AuditReadError):
    """There is no audit log where one was expected."""


@dataclass(frozen=True)
class AuditEntry:
    """One audit record, typed. `action` is an `Action` and `outcome` an `Outcome` when this
    sop knows the value (a newer sop's are kept as plain strings)."""

    action: str
    seq: int | None = None
    time: str = ""  # @timestamp: ISO 8601, UTC, milliseconds
    event_kind: str = ""  # "event" (a real run), "drill", "tabletop"
    ecs_outcome: str = ""  # event.outcome: "success" | "failure" | "unknown"
    duration_ns: int | None = None
    run_id: str = ""
    trace_id: str = ""
    operator: str = ""
    incident: str = ""
    scenario: str = ""
    sop_id: str = ""
    sop_sha256: str = ""
    sop_title: str = ""  # on records that name no step (run-started)
    sop_path: str = ""
    inputs: Mapping[str, str] = field(default_factory=dict)  # secrets masked as the log holds them
    step_id: str = ""
    number: str = ""  # as shown: "4", "4.2", "R1"
    step_title: str = ""
    step_kind: str = ""  # "prose", "run", "script", "task", "call"
    called_sop: str = ""  # the called SOP a step belongs to, "" in the run's own SOP
    attempt: int | None = None
    outcome: str = ""
    reason: str = ""  # why a step ended as it did, a menu choice's or a deviation's reason
    hosts: tuple[str, ...] = ()
    host: str = ""
    command: str = ""
    exit_code: int | None = None
    error: str = ""
    output_tail: str = ""  # the redacted end of a host's output
    confirmation: str = ""  # how a step was confirmed
    choice: str = ""  # a menu choice
    answer_name: str = ""
    answer_value: str = ""
    deviation_kind: str = ""  # "skip", "edit", "mark-done"
    deviation_original: str = ""
    deviation_replacement: str = ""
    state_sha256: str = ""
    message: str = ""

    @property
    def step_key(self) -> str:
        """The step's key as saved state and resume name it (`sop.events.step_key`)."""
        return step_key(self.step_id, self.number, self.called_sop)

    @property
    def at(self) -> float:
        """`time` as epoch seconds; 0.0 when the record has none."""
        if not self.time:
            return 0.0
        return dt.datetime.fromisoformat(self.time.replace("Z", "+00:00")).timestamp()

    @property
    def seconds(self) -> float | None:
        return None if self.duration_ns is None else self.duration_ns / 1e9


def _group(record: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = record.get(name)
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def entry(record: Mapping[str, Any]) -> AuditEntry:
    """The typed view of one parsed record."""
    event, sop = _group(record, "event"), _group(record, "sop")
    labels = _group(record, "labels")
    names_step = "step" in sop or "number" in sop
    answer, deviation = _group(sop, "answer"), _group(sop, "deviation")
    reason = deviation.get("reason") if deviation else sop.get("reason")
    inputs, hosts = sop.get("inputs"), sop.get("hosts")
    action, outcome = _text(event.get("action")), _text(sop.get("outcome"))
    return AuditEntry(
        action=_ACTIONS.get(action, action),
        seq=_int(record.get("seq")),
        time=_text(record.get("@timestamp")),
        event_kind=_text(event.get("kind")),
        ecs_outcome=_text(event.get("outcome")),
        duration_ns=_int(event.get("duration")),
        run_id=_text(sop.get("run_id")),
        trace_id=_text(_group(record, "trace").get("id")),
        operator=_text(_group(record, "user").get("name")),
        incident=_text(labels.get("incident")),
        scenario=_text(labels.get("scenario")),
        sop_id=_text(sop.get("id")),
        sop_sha256=_text(sop.get("sha256")),
        sop_title="" if names_step else _text(sop.get("title")),
        sop_path=_text(sop.get("path")),
        inputs={str(k): _text(v) for k, v in inputs.items()} if isinstance(inputs, dict) else {},
        step_id=_text(sop.get("step")),
        number=_text(sop.get("number")),
        step_title=_text(sop.get("title")) if names_step else "",
        step_kind=_text(sop.get("kind")),
        called_sop=_text(sop.get("called_sop")),
        attempt=_int(sop.get("attempt")),
        outcome=_OUTCOMES.get(outcome, outcome),
        reason=_text(reason),
        hosts=tuple(_text(h) for h in hosts) if isinstance(hosts, list) else (),
        host=_text(_group(record, "host").get("name")),
        command=_text(_group(record, "process").get("command_line")),
        exit_code=_int(_group(record, "process").get("exit_code")),
        error=_text(_group(record, "error").get("message")),
        output_tail=_text(_group(sop, "output").get("tail")),
        confirmation=_text(sop.get("confirmation")),
        choice=_text(sop.get("choice")),
        answer_name=_text(answer.get("name")),
        answer_value=_text(answer.get("value")),
        deviation_kind=_text(deviation.get("kind")),
        deviation_original=_text(deviation.get("original")),
        deviation_replacement=_text(deviation.get("replacement")),
        state_sha256=_text(sop.get("state_sha256")),
        message=_text(record.get("message")),
    )


# reading one log -------------------------------------------------------------------------


@dataclass(frozen=True)
class LogFile:
    """One audit log as read: its bytes (for verification), parsed once, and its entries."""

    path: Path
    data: bytes
    parsed: Parsed
    entries: tuple[AuditEntry, ...]

    @property
    def run_id(self) -> str:
        """The run id in the first record."""
        return self.entries[0].run_id if self.entries else ""

    def verify(self, key0: bytes | None = None) -> Verification:
        return verify_bytes(self.data, key0=key0, parsed=self.parsed)


def log_path(run_dir: Path) -> Path:
    """Where a run keeps its audit log."""
    return run_dir / AUDIT


def read_log(path: Path) -> LogFile:
    """Read and parse one audit log. Raises MissingLogError when there is none, AuditReadError
    when it cannot be read."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        raise MissingLogError(f"no audit log at {path}") from None
    except OSError as exc:
        raise AuditReadError(f"cannot read {path}: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as handle:
        data = handle.read()
    parsed = parse_log(data)
    return LogFile(path, data, parsed, tuple(entry(r) for _, r in parsed.records))


def read_entries(path: Path) -> tuple[AuditEntry, ...]:
    """Every parseable record of a log, typed, in order."""
    return read_log(path).entries


def read_run(run_dir: Path) -> tuple[AuditEntry, ...]:
    """The entries of a run's audit log."""
    return read_entries(log_path(run_dir))


# reading a state directory ---------------------------------------------------------------


@dataclass(frozen=True)
class CheckedLog:
    """One run's audit log, read and verified. `problem` is empty when the log can be trusted."""

    run_id: str
    entries: tuple[AuditEntry, ...]
    problem: str = ""
    torn: bool = False


def check_log(run_id: str, log: LogFile) -> CheckedLog:
    """Verify a log's chain (without a key) and keep its entries."""
    verification = log.verify()
    if verification.ok:
        return CheckedLog(run_id, log.entries)
    if verification.only_torn:
        return CheckedLog(run_id, log.entries, torn=True)
    return CheckedLog(run_id, log.entries, problem=str(verification.findings[0]))


def read_logs(state_dir: Path) -> list[CheckedLog]:
    """Every run's audit log under STATE_DIR/runs, sorted by run id. Symbolic links are not
    followed: a page must not publish a file from outside the state directory."""
    runs = state_dir / "runs"
    if not runs.is_dir():
        return []
    logs = []
    for run_dir in sorted(runs.iterdir()):
        if run_dir.is_symlink() or not run_dir.is_dir():
            continue
        try:
            log = read_log(log_path(run_dir))
        except AuditReadError:
            continue
        logs.append(check_log(run_dir.name, log))
    return logs
