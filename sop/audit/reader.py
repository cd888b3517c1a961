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
import errno
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple

from sop.audit.actions import Action
from sop.audit.escrow import KeyFolder, key_folder, load_head, load_key
from sop.audit.records import summary
from sop.audit.sharing import UnsafeFileError
from sop.audit.state import AUDIT, StateDirError, check_run_files
from sop.audit.verify import (
    AuditReadError,
    Parsed,
    Verification,
    load_record,
    parse_log,
    unproven_ranges,
    verify_bytes,
)
from sop.events import Outcome, step_key
from sop.files import RUN_FILE_BYTES, FileReadError, read_regular_file
from sop.records import dataclass

_ACTIONS: dict[str, str] = {a.value: a for a in Action}
_OUTCOMES: dict[str, str] = {o.value: o for o in Outcome}


_NO_INPUTS: Mapping[str, str] = MappingProxyType({})


class MissingLogError(AuditReadError):
    """There is no audit log where one was expected."""


class HostOutcome(NamedTuple):
    """One host's result as its step's step-finished record lists it."""

    host: str
    outcome: str  # an `Outcome` when this sop knows it
    exit_code: int | None = None
    attempt: int | None = None
    error: str = ""


class AuditEntry(NamedTuple):
    """One audit record, typed and immutable. `action` is an `Action` and `outcome` an `Outcome`
    when this sop knows the value (a newer sop's are kept as plain strings). A NamedTuple, not a
    frozen dataclass: a long log makes an entry per record, and a tuple is built 4x faster."""

    action: str
    seq: int | None = None
    time: str = ""  # @timestamp: ISO 8601, UTC, milliseconds
    event_kind: str = ""  # "event" (a real run) or "drill" (tagged `drill`; `event.kind` before)
    ecs_outcome: str = ""  # event.outcome: "success" | "failure" | "unknown"
    duration_ns: int | None = None
    run_id: str = ""
    trace_id: str = ""
    span_id: str = ""  # span.id: the run's, a step attempt's or a host's span ("" before spans)
    parent_span_id: str = ""  # sop.parent_span_id: its parent ("" for a run that began a trace)
    operator: str = ""
    incident: str = ""
    scenario: str = ""
    drill_simulated: bool | None = None  # run-started of a drill: simulated (None: not said)
    inventory: str = ""  # run-started: the (first) inventory file the targets came from
    inventories: tuple[str, ...] = ()  # run-started: every inventory file, in order
    sop_id: str = ""
    sop_sha256: str = ""
    sop_title: str = ""  # on records that name no step (run-started)
    sop_path: str = ""
    inputs: Mapping[str, str] = _NO_INPUTS  # secrets masked as the log holds them
    step_id: str = ""
    number: str = ""  # as shown: "4", "4.2", "R1"
    step_title: str = ""
    step_kind: str = ""  # "prose", "run", "script", "task", "call"
    called_sop: str = ""  # the called SOP a step belongs to, "" in the run's own SOP
    round: int = 1  # the pass of the step's (or record's) section: 2 and up when it repeats
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
    choice: str = ""  # a menu choice, a decision's answer, a repeating section's verdict
    goto: tuple[str, ...] = ()  # the sections a decision leads to
    section_id: str = ""  # section-skipped and section-passed records: which section
    section_key: str = ""  # section-passed: the pass's key on resume (`verify@2`)
    answer_name: str = ""
    answer_value: str = ""
    deviation_kind: str = ""  # "skip", "edit", "off-script", "mark-done"
    deviation_original: str = ""
    deviation_replacement: str = ""
    state_sha256: str = ""
    message: str = ""
    # a step-finished record's hosts, each as it ended; a preflight record's (`ok`, `refused`, ...)
    results: tuple[HostOutcome, ...] = ()
    session_ended: str = ""  # an interactive session: "exit", "ctrl-c" or "detached"
    recording: str = ""  # its recording's file name in the run's folder
    recording_sha256: str = ""
    resumed: bool = False  # rollback-started: a rollback going on after a resume
    severity: str = ""  # run-started: the run's severity
    status_every: float = 0.0  # run-started: seconds of run time between status updates
    status_text: str = ""  # a status update's text ("" when none was given)
    status_how: str = ""  # "given", "declined" or "unattended"
    status_due: str = ""  # when it came due (ISO 8601, UTC)
    skips: Mapping[str, str] = _NO_INPUTS  # run-started: the steps --skip names, with reasons
    user_id: str = ""  # the OS account that wrote the record (`user.id`)
    stdin: str | None = None  # the text a step's command reads on stdin, as shown
    role: str = ""  # an approval's: the role its approver must state (or stated)
    task: str = ""  # an approval request's: the step's role when it is someone else's task
    binding: str = ""  # an approval's: the SHA-256 of what it approves
    approver: str = ""  # an answer's: who approved or refused (the OS account)
    approver_id: str = ""
    given: str = ""  # an answer's: when it was given (ISO 8601, UTC)
    approval_file: str = ""  # approval-rejected: the answer file the run did not accept

    @property
    def step_key(self) -> str:
        """The step's key as saved state and resume name it (`sop.events.step_key`)."""
        return step_key(self.step_id, self.number, self.called_sop, self.round)

    @property
    def at(self) -> float:
        """`time` as epoch seconds; 0.0 when the record has none."""
        if not self.time:
            return 0.0
        return dt.datetime.fromisoformat(self.time.replace("Z", "+00:00")).timestamp()

    @property
    def seconds(self) -> float | None:
        return None if self.duration_ns is None else self.duration_ns / 1e9


_EMPTY: Mapping[str, Any] = MappingProxyType({})


def _group(record: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = record.get(name)
    return value if isinstance(value, dict) else _EMPTY


def _text(value: Any) -> str:
    return value if type(value) is str else "" if value is None else str(value)


def _texts(group: Mapping[str, Any], *keys: str) -> list[str]:
    """The values of `keys` as text, "" for a missing one: one call per group, not per field
    (an entry is made per record; calls were most of its cost)."""
    return [v if type(v := group.get(key, "")) is str else _text(v) for key in keys]


def _inventories(sop: Mapping[str, Any]) -> tuple[str, ...]:
    """Every inventory file of a run-started record; one written before there could be
    several names its one `inventory`."""
    listed = sop.get("inventories")
    if isinstance(listed, list):
        return tuple(_text(p) for p in listed)
    return (_text(sop["inventory"]),) if sop.get("inventory") else ()


def _flag(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _results(value: Any) -> tuple[HostOutcome, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(
        HostOutcome(
            _text(r.get("host")),
            _OUTCOMES.get(outcome := _text(r.get("outcome")), outcome),
            _int(r.get("exit_code")),
            _int(r.get("attempt")),
            _text(r.get("error")),
        )
        for r in value
        if isinstance(r, dict)
    )


def _inputs(value: Any) -> Mapping[str, str]:
    """`sop.inputs`: a list of {name, value}, or (the first format) an object of them."""
    if isinstance(value, list):
        return {_text(i.get("name")): _text(i.get("value")) for i in value if isinstance(i, dict)}
    if isinstance(value, dict):
        return {str(k): _text(v) for k, v in value.items()}
    return _NO_INPUTS


def entry(record: Mapping[str, Any]) -> AuditEntry:
    """The typed view of one parsed record."""
    event, sop, process = _group(record, "event"), _group(record, "sop"), _group(record, "process")
    time, message = _texts(record, "@timestamp", "message")
    action, kind, ecs_outcome = _texts(event, "action", "kind", "outcome")
    (run_id, sop_id, sha256, path, step_id, number, title, step_kind, called, outcome, reason,
     confirmation, choice, state_sha256) = _texts(
        sop, "run_id", "id", "sha256", "path", "step", "number", "title", "kind", "called_sop",
        "outcome", "reason", "confirmation", "choice", "state_sha256",
    )  # fmt: skip
    incident, scenario = _texts(_group(record, "labels"), "incident", "scenario")
    answer_name, answer_value = _texts(_group(sop, "answer"), "name", "value")
    deviation = _group(sop, "deviation")
    deviation_kind, deviation_reason, original, replacement = _texts(
        deviation, "kind", "reason", "original", "replacement"
    )
    names_step = "step" in sop or "number" in sop
    inputs, hosts, goto = sop.get("inputs"), sop.get("hosts"), sop.get("goto")
    section = _group(sop, "section")
    section_id, section_key = _texts(section, "id", "key")
    session = _group(sop, "session")
    recording, recording_sha256 = _texts(_group(session, "recording"), "file", "sha256")
    tags = record.get("tags")
    status = _group(sop, "status")
    status_text, status_how, status_due = _texts(status, "text", "how", "due")
    every = status.get("every")
    approval = _group(sop, "approval")
    role, task, binding, given, approval_file = _texts(
        approval, "role", "task", "binding", "given", "file"
    )
    approver, approver_id = _texts(_group(approval, "approver"), "name", "id")
    stdin = sop.get("stdin")
    if "seq" in record:  # the first format (docs/audit.md)
        host = _text(_group(record, "host").get("name"))
        operator = _text(_group(record, "user").get("name"))
        seq = _int(record.get("seq"))
    else:  # host.* is the machine sop ran on; the host a record is about is the target
        host = _text(_group(sop, "target").get("name"))
        operator = _text(sop.get("operator"))
        seq = _int(event.get("sequence"))
        if message and message == summary(action, sop):
            message = ""  # no message of its own
    return AuditEntry(
        action=_ACTIONS.get(action, action),
        seq=seq,
        time=time,
        event_kind="drill" if isinstance(tags, list) and "drill" in tags else kind,
        ecs_outcome=ecs_outcome,
        duration_ns=_int(event.get("duration")),
        run_id=run_id,
        trace_id=_text(_group(record, "trace").get("id")),
        span_id=_text(_group(record, "span").get("id")),
        parent_span_id=_text(sop.get("parent_span_id")),
        operator=operator,
        incident=incident,
        scenario=scenario,
        drill_simulated=_flag(_group(sop, "drill").get("simulated")),
        inventory=_text(sop.get("inventory")) if "inventory" in sop else "",
        inventories=_inventories(sop),
        sop_id=sop_id,
        sop_sha256=sha256,
        sop_title="" if names_step else title,
        sop_path=path,
        inputs=_inputs(inputs),
        step_id=step_id,
        number=number,
        step_title=title if names_step else "",
        step_kind=step_kind,
        called_sop=called,
        round=_int(sop.get("round")) or _int(section.get("round")) or 1,
        attempt=_int(sop.get("attempt")),
        outcome=_OUTCOMES.get(outcome, outcome),
        reason=deviation_reason if deviation else reason,
        hosts=tuple(map(_text, hosts)) if isinstance(hosts, list) else (),
        host=host,
        command=_text(process.get("command_line")),
        exit_code=_int(process.get("exit_code")),
        error=_text(_group(record, "error").get("message")),
        output_tail=_text(_group(sop, "output").get("tail")),
        confirmation=confirmation,
        choice=choice,
        goto=tuple(map(_text, goto)) if isinstance(goto, list) else (),
        section_id=section_id,
        section_key=section_key,
        answer_name=answer_name,
        answer_value=answer_value,
        deviation_kind=deviation_kind,
        deviation_original=original,
        deviation_replacement=replacement,
        state_sha256=state_sha256,
        message=message,
        results=_results(sop.get("results")),
        session_ended=_text(session.get("ended")),
        recording=recording,
        recording_sha256=recording_sha256,
        resumed=sop.get("resumed") is True,
        severity=_text(sop.get("severity")),
        status_every=float(every)
        if isinstance(every, int | float) and not isinstance(every, bool)
        else 0.0,
        status_text=status_text,
        status_how=status_how,
        status_due=status_due,
        skips=_skips(sop.get("skip")),
        user_id=_text(_group(record, "user").get("id")),
        stdin=stdin if isinstance(stdin, str) else None,
        role=role,
        task=task,
        binding=binding,
        approver=approver,
        approver_id=approver_id,
        given=given,
        approval_file=approval_file,
    )


def _skips(value: Any) -> Mapping[str, str]:
    """`sop.skip`: [{step, reason}] as step -> reason."""
    if not isinstance(value, list):
        return _NO_INPUTS
    return {
        _text(item.get("step")): _text(item.get("reason"))
        for item in value
        if isinstance(item, dict)
    }


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

    def verify(
        self, key0: bytes | None = None, escrowed: tuple[int, str] | None = None
    ) -> Verification:
        return verify_bytes(self.data, key0=key0, parsed=self.parsed, escrowed=escrowed)


def log_path(run_dir: Path) -> Path:
    """Where a run keeps its audit log."""
    return run_dir / AUDIT


def read_log_bytes(path: Path, *, follow_symlinks: bool = False) -> bytes:
    """One audit log's bytes, unparsed (for `verify`, which parses only what it must). Raises
    MissingLogError when there is none, AuditReadError when it cannot be read."""
    try:
        data = read_regular_file(path, RUN_FILE_BYTES, follow_symlinks=follow_symlinks)
    except FileReadError as exc:
        if exc.errno == errno.ENOENT:
            raise MissingLogError(f"no audit log at {path}") from None
        raise AuditReadError(str(exc)) from None
    return data


def read_log(path: Path) -> LogFile:
    """Read and parse one audit log. Raises MissingLogError when there is none, AuditReadError
    when it cannot be read."""
    return log_file(path, read_log_bytes(path))


def log_file(path: Path, data: bytes) -> LogFile:
    """A log's bytes, parsed."""
    parsed = parse_log(data)
    return LogFile(path, data, parsed, tuple(entry(r) for _, r in parsed.records))


_EVENT = b'"event":{"action":"'


def line_action(line: bytes) -> bytes | None:
    """The action of a line in the writer's form (chain.py: `event` is the last member, its
    `action` first and no object inside it), read from its bytes; None for a line in any other
    form (the first format, a line written by hand), which only parsing can tell. Trust it only
    for lines a verified seal covers: anyone can write bytes that look like another action."""
    at = line.rfind(_EVENT)
    if at < 0 or not line.endswith(b'"}}'):
        return None
    start = at + len(_EVENT)
    end = line.find(b'"', start)
    if end < 0 or line.find(b"{", end) >= 0:
        return None
    return line[start:end]


def line_entry(line: bytes) -> AuditEntry | None:
    """The entry of one line, None when it is not a record sop wrote."""
    record = load_record(line)
    return entry(record) if record is not None else None


def without_unproven(entries: Sequence[AuditEntry], data: bytes) -> tuple[AuditEntry, ...]:
    """`entries` less those an `unproven` record names (verify.unproven_ranges)."""
    ranges = unproven_ranges(data)
    if not ranges:
        return tuple(entries)
    return tuple(
        e
        for e in entries
        if e.seq is None or not any(first <= e.seq <= last for first, last in ranges)
    )


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


def check_log(run_id: str, log: LogFile, keys: KeyFolder) -> CheckedLog:
    """Verify a log with the run's key and the head the key folder kept; keep the entries its
    verified seals cover. An untrusted log keeps its entries only to say which SOP it names:
    a log whose chain merely holds could have been written whole by anyone who can write the
    state directory (a forged "last drill: success")."""
    if log.run_id != run_id:
        return CheckedLog(
            run_id, log.entries, f"the log is of run '{log.run_id}': moved or swapped in"
        )
    try:
        key0, head = load_key(keys, run_id), load_head(keys, run_id)
    except UnsafeFileError as exc:
        return CheckedLog(run_id, log.entries, str(exc))
    if key0 is None:
        return CheckedLog(run_id, log.entries, "no verification key: its seals cannot be checked")
    escrowed = (head.seq, head.hash) if head is not None else None
    verification = log.verify(key0, escrowed)
    if not verification.ok and not verification.only_torn:
        return CheckedLog(run_id, log.entries, str(verification.findings[0]))
    if verification.sealed_records == 0:
        return CheckedLog(run_id, log.entries, "no seal verifies with the run's key")
    covered = without_unproven(log.entries[: verification.sealed_records], log.data)
    return CheckedLog(run_id, covered, torn=not verification.ok)


def read_logs(state_dir: Path) -> list[CheckedLog]:
    """Every run's audit log under STATE_DIR/runs, sorted by run id. Symbolic links are not
    followed: a page must not publish a file from outside the state directory. A run folder or
    file that is a symbolic link, another user's or writable by others is untrusted."""
    runs = state_dir / "runs"
    if not runs.is_dir():
        return []
    try:
        keys = key_folder(state_dir)
    except (StateDirError, UnsafeFileError) as exc:
        return [CheckedLog(p.name, (), problem=str(exc)) for p in sorted(runs.iterdir())]
    logs = []
    for run_dir in sorted(runs.iterdir()):
        if run_dir.is_symlink() or not run_dir.is_dir():
            continue
        try:
            check_run_files(run_dir)
        except (StateDirError, UnsafeFileError) as exc:
            logs.append(CheckedLog(run_dir.name, (), problem=str(exc)))
            continue
        try:
            log = read_log(log_path(run_dir))
        except AuditReadError:
            continue
        logs.append(check_log(run_dir.name, log, keys))
    return logs
