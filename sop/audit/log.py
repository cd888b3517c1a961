"""The append-only audit log of one run: one JSON object per line, chained, sealed, and on disk
(fsync) before `append` returns, so a record is durable before the command it announces starts.
Each line is the record's canonical JSON (the bytes its hash covers) with `hash` appended last."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sop import events as ev
from sop.audit import chain
from sop.audit.actions import Action
from sop.audit.escrow import EscrowedHead, write_head
from sop.audit.records import body, timestamp
from sop.errors import FatalRunError


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
        try:
            self.fd = os.open(
                path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600
            )
        except OSError as exc:
            raise AuditWriteError(f"cannot open the audit log {path}: {exc.strerror}") from None

    def append(self, at: float, fields: dict[str, Any]) -> dict[str, Any]:
        """Write one record, and the seal due after it, with one fsync: both are on disk before
        this returns (a crash between the two writes leaves a torn tail, as with one line)."""
        if self.broken:
            raise AuditWriteError(self.broken)
        action = fields["event"]["action"]
        record, line = self._line(at, fields, self.head)
        head = Head(record["seq"], record["hash"])
        state = self.seal_state
        due = state is not None and (
            head.seq == 0  # key[0] is never stored in the run
            or (head.seq + 1) % chain.SEAL_EVERY == 0
            or action in SEAL_AFTER
        )
        if state is not None and due:
            seal, sealed = self._line(at, self._seal_fields(state, head), head)
            line += sealed
            head = Head(seal["seq"], seal["hash"])
        self._write(line)
        self.head, self.sealed = head, due
        self.finished = self.finished or action == Action.RUN_FINISHED
        if state is not None and due:
            self._sealed(state)
        return record

    def seal(self, at: float) -> None:
        """Seal the head now, unless it is a seal already."""
        state = self.seal_state
        if state is None or self.broken or self.sealed:
            return
        seal, line = self._line(at, self._seal_fields(state, self.head), self.head)
        self._write(line)
        self.head, self.sealed = Head(seal["seq"], seal["hash"]), True
        self._sealed(state)

    def _line(self, at: float, fields: dict[str, Any], prev: Head) -> tuple[dict[str, Any], bytes]:
        record = merge(self.common, fields)  # the chain's members are not nested: set them
        record["@timestamp"] = timestamp(at)
        record["seq"] = prev.seq + 1
        record["prev"] = prev.hash
        record["hash"], line = chain.stored_line(prev.hash, record)
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
            os.fsync(self.fd)  # never retried: after a failed fsync the page cache state is unknown
        except OSError as exc:
            self.broken = (
                f"cannot write the audit log {self.path}: {exc.strerror or exc}; "
                "the run stopped before the next command"
            )
            raise AuditWriteError(self.broken) from None

    def _sealed(self, state: SealState) -> None:
        """The seal is on disk: evolve the key (forgetting this one), then tell the key folder."""
        state.key = chain.evolve(state.key)
        state.n += 1
        if self.escrow is None:
            return
        head = EscrowedHead(self.head.seq, self.head.hash, state.n, self.finished)
        try:
            write_head(self.escrow, str(self.common["sop"]["run_id"]), head)
        except OSError as exc:
            self.broken = (
                f"cannot keep the audit log's head in {self.escrow}: {exc.strerror or exc}; "
                "the run stopped before the next command"
            )
            raise AuditWriteError(self.broken) from None

    def close(self, at: float) -> None:
        try:
            self.seal(at)
        finally:
            os.close(self.fd)


class AuditSink:
    """Turns runner events into audit records."""

    def __init__(self, log: AuditLog) -> None:
        self.log = log

    def emit(self, event: ev.Event) -> None:
        fields = body(event)
        if fields is None:
            return
        self.log.append(event.at, fields)
