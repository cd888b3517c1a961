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


class AuditLog:
    def __init__(
        self,
        path: Path,
        common: dict[str, Any],
        *,
        head: Head | None = None,
        seal: SealState | None = None,
    ) -> None:
        self.path = path
        self.common = common
        self.head = head or Head()
        self.seal_state = seal  # the current key only: older ones are forgotten
        self.broken: str | None = None
        try:
            self.fd = os.open(
                path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600
            )
        except OSError as exc:
            raise AuditWriteError(f"cannot open the audit log {path}: {exc.strerror}") from None

    def append(self, at: float, fields: dict[str, Any]) -> dict[str, Any]:
        if self.broken:
            raise AuditWriteError(self.broken)
        record = merge(self.common, fields)  # the chain's members are not nested: set them
        record["@timestamp"] = timestamp(at)
        record["seq"] = self.head.seq + 1
        record["prev"] = self.head.hash
        record["hash"], line = chain.stored_line(self.head.hash, record)
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
        self.head = Head(record["seq"], record["hash"])
        due = self.head.seq == 0 or (self.head.seq + 1) % chain.SEAL_EVERY == 0
        if self.seal_state and record["event"]["action"] != Action.SEAL and due:
            self.seal(at)  # right after the first record too: key[0] is never stored in the run
        return record

    def seal(self, at: float) -> None:
        state = self.seal_state
        if state is None or self.broken:
            return
        mac = chain.seal_mac(state.key, self.head.hash)
        self.append(
            at,
            {
                "event": {"action": Action.SEAL},
                "sop": {"seal": {"key_id": state.key_id, "n": state.n, "mac": mac}},
            },
        )
        state.key = chain.evolve(state.key)
        state.n += 1

    def close(self, at: float) -> None:
        try:
            if not self.broken:
                self.seal(at)
        finally:
            os.close(self.fd)


def write_private(path: Path, text: str) -> None:
    """Replace a small file atomically, readable by its owner only."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, text.encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


class AuditSink:
    """Turns runner events into audit records."""

    def __init__(self, log: AuditLog) -> None:
        self.log = log

    def emit(self, event: ev.Event) -> None:
        fields = body(event)
        if fields is None:
            return
        self.log.append(event.at, fields)
