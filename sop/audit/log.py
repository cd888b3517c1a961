"""The append-only audit log of one run: one JSON object per line, chained, sealed, and on disk
(fsync) before `append` returns, so a record is durable before the command it announces starts.
Each line is the record's canonical JSON (the bytes its hash covers) with `event.hash` added
(chain.py).

`write` and `sync` are `append` in two halves, for the run's sink: records are written in order
under the run's lock, and each host thread then waits in `sync` until its record is on disk.
The threads that wait together share one fsync (a group commit): 64 hosts starting a command
cost a few fsyncs, not 64 in a row (bench/RESULTS.md). A run goes on only after `sync`."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from sop import events as ev
from sop.audit import chain
from sop.audit.actions import Action
from sop.audit.escrow import EscrowedHead, write_head
from sop.audit.records import body, ecs_fields, timestamp
from sop.audit.sharing import open_file
from sop.errors import FatalRunError
from sop.records import dataclass


class AuditWriteError(FatalRunError):
    """The audit log cannot be written: the run stops before the next command."""


@dataclass
class Head:
    seq: int = -1
    hash: str = chain.GENESIS

    def __str__(self) -> str:
        return f"{self.seq}:{self.hash}"


@dataclass
class SealState:
    """The current (evolved) seal key. Older keys are gone; key[0] is kept elsewhere."""

    key_id: str
    n: int
    key: bytes


def merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


# after these records the writer seals at once: whatever resume restores (a saved state, a
# step's start, finish or stop, a host excluded) is covered by a seal and by the head the key folder keeps
SEAL_AFTER = frozenset(
    {
        Action.RUN_RESUMED,
        Action.STEP_STARTED,
        Action.COMMAND_STARTED,
        Action.STATE_SAVED,
        Action.STEP_FINISHED,
        Action.HOST_EXCLUDED,
        Action.INTERRUPTED,
        Action.RUN_FINISHED,
        Action.RUN_PAUSED,
        Action.UNPROVEN,
    }
)


class AuditLog:
    def __init__(
        self,
        path: Path,
        common: dict[str, Any],
        *,
        head: Head | None = None,
        seal: SealState | None = None,
        escrow: Path | None = None,
        finished: bool = False,
    ) -> None:
        self.path = path
        self.common = common
        self.head = head or Head()
        self.seal_state = seal  # the current key only: older ones are forgotten
        self.escrow = escrow  # where the head goes after each seal (the key folder)
        self.finished = finished  # a run-finished record is in the log
        self.sealed = False  # the last record is a seal
        self.broken: str | None = None
        self._written = 0  # writes so far, and how many of them an fsync has covered
        self._durable = 0
        self._escrowed: EscrowedHead | None = None  # the head to tell the key folder, once durable
        self._told: EscrowedHead | None = None  # the head the key folder holds
        self._sync_lock = threading.Lock()
        try:
            self.fd = open_file(path, os.O_WRONLY | os.O_APPEND)
        except OSError as exc:
            raise AuditWriteError(f"cannot open the audit log {path}: {exc.strerror}") from None

    def append(self, at: float, fields: dict[str, Any]) -> dict[str, Any]:
        """Write one record, and the seal due after it, with one fsync: both are on disk before
        this returns (a crash between the two writes leaves a torn tail, as with one line)."""
        record = self.write(at, fields)
        self.sync()
        return record

    def write(self, at: float, fields: dict[str, Any]) -> dict[str, Any]:
        """Write one record and the seal due after it, in one write; on disk after `sync`.
        One writer at a time (the run's lock), any number of threads in `sync`."""
        if self.broken:
            raise AuditWriteError(self.broken)
        action = fields["event"]["action"]
        record, line = self._line(at, fields, self.head)
        head = Head(record["event"]["sequence"], record["event"]["hash"])
        state = self.seal_state
        due = state is not None and (
            head.seq == 0  # key[0] is never stored in the run
            or (head.seq + 1) % chain.SEAL_EVERY == 0
            or action in SEAL_AFTER
        )
        if state is not None and due:
            seal, sealed = self._line(at, self._seal_fields(state, head), head)
            line += sealed
            head = Head(seal["event"]["sequence"], seal["event"]["hash"])
        self._write(line)
        self.head, self.sealed = head, due
        self.finished = self.finished or action == Action.RUN_FINISHED
        if state is not None and due:
            self._sealed(state)
        self._written += 1
        return record

    def seal(self, at: float) -> None:
        """Seal the head now, unless it is a seal already; on disk when this returns."""
        state = self.seal_state
        if state is None or self.broken or self.sealed:
            return
        seal, line = self._line(at, self._seal_fields(state, self.head), self.head)
        self._write(line)
        self.head, self.sealed = Head(seal["event"]["sequence"], seal["event"]["hash"]), True
        self._sealed(state)
        self._written += 1
        self.sync()

    def sync(self) -> None:
        """Return once every record written so far is on disk, and the key folder holds the
        head of the last seal among them. Threads waiting here together share one fsync."""
        target = self._written
        if self._durable >= target:
            return
        with self._sync_lock:
            if self._durable >= target:  # another thread's fsync covered it meanwhile
                return
            if self.broken:
                raise AuditWriteError(self.broken)
            # read before the fsync: whatever these name was written before it, so it covers them
            written, escrowed = self._written, self._escrowed
            try:
                os.fsync(self.fd)  # never retried: after a failure the page cache state is unknown
            except OSError as exc:
                self.break_off(f"cannot write the audit log {self.path}: {exc.strerror or exc}")
            if escrowed is not self._told and escrowed is not None and self.escrow is not None:
                try:
                    write_head(self.escrow, self.run_id, escrowed)
                except OSError as exc:
                    self.break_off(
                        f"cannot keep the audit log's head in {self.escrow}: {exc.strerror or exc}"
                    )
                self._told = escrowed
            self._durable = written

    @property
    def run_id(self) -> str:
        return str(self.common["sop"]["run_id"])

    def break_off(self, why: str) -> None:
        """The run cannot be audited any more: nothing more is written (every later write
        raises), and the run stops before its next command. Raises AuditWriteError."""
        self.broken = (
            f"{why}; the run stopped before the next command. The records written before are "
            f"kept: once the log can be written again, `sop resume {self.run_id}` goes on"
        )
        raise AuditWriteError(self.broken) from None

    def _line(self, at: float, fields: dict[str, Any], prev: Head) -> tuple[dict[str, Any], bytes]:
        record = merge(self.common, ecs_fields(fields))
        record["@timestamp"] = timestamp(at)
        chain.set_link(record, prev.seq + 1, prev.hash)
        digest, line = chain.stored_line(prev.hash, record)
        record["event"]["hash"] = digest
        return record, line

    @staticmethod
    def _seal_fields(state: SealState, head: Head) -> dict[str, Any]:
        mac = chain.seal_mac(state.key, head.hash)
        return {
            "event": {"action": Action.SEAL},
            "sop": {"seal": {"key_id": state.key_id, "n": state.n, "mac": mac}},
        }

    def _write(self, line: bytes) -> None:
        try:
            written = 0
            while written < len(line):
                written += os.write(self.fd, line[written:])
        except OSError as exc:
            self.break_off(f"cannot write the audit log {self.path}: {exc.strerror or exc}")

    def _sealed(self, state: SealState) -> None:
        """A seal is written: evolve the key (forgetting this one); the key folder hears of the
        new head once it is on disk (`sync`), never before: it must not claim more than the
        log holds after a power loss."""
        state.key = chain.evolve(state.key)
        state.n += 1
        self._escrowed = EscrowedHead(self.head.seq, self.head.hash, state.n, self.finished)

    def close(self, at: float) -> None:
        try:
            self.seal(at)
            self.sync()
        finally:
            os.close(self.fd)


class AuditSink:
    """Turns runner events into audit records: `emit` writes them in order (under the run's
    lock), `settle` returns once they are on disk (outside it: see `AuditLog.sync`)."""

    def __init__(self, log: AuditLog) -> None:
        self.log = log

    def emit(self, event: ev.Event) -> None:
        fields = body(event)
        if fields is None:
            return
        self.log.write(event.at, fields)

    def settle(self) -> None:
        self.log.sync()
