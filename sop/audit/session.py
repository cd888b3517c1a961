"""One run's audit files, opened together: the run directory, its lock, the log, the seal key
and the resumable state."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sop.audit import chain
from sop.audit.actions import Action
from sop.audit.escrow import escrow_key, key_folder, write_private
from sop.audit.log import AuditLog, AuditSink, Head, SealState
from sop.audit.state import AUDIT, STATE, RunLock, check_run_files, new_run_dir, state_dir_of


@dataclass
class AuditSession:
    run_dir: Path
    log: AuditLog
    lock: RunLock

    def sink(self) -> AuditSink:
        return AuditSink(self.log)

    def persist(self, snapshot: dict[str, Any], at: float) -> None:
        """Save the resumable state. Its hash goes into the chained log first, so resume can
        tell a state file sop wrote from one someone edited."""
        text = json.dumps(snapshot, ensure_ascii=False, sort_keys=True)
        digest = hashlib.sha256(text.encode()).hexdigest()
        self.log.append(
            at, {"event": {"action": Action.STATE_SAVED}, "sop": {"state_sha256": digest}}
        )
        write_private(self.run_dir / STATE, text)

    def close(self, at: float) -> Head:
        try:
            self.log.close(at)
        finally:
            self.lock.release()
        return self.log.head


def common_fields(
    *,
    run_id: str,
    trace_id: str,
    sop_id: str,
    sha256: str,
    operator: str,
    incident: str | None,
    kind: str,
    scenario: str = "",
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "event": {"kind": kind},
        "trace": {"id": trace_id},
        "user": {"name": operator},
        "sop": {"run_id": run_id, "id": sop_id, "sha256": sha256},
    }
    labels = {"incident": incident, "scenario": scenario}
    if any(labels.values()):
        out["labels"] = {k: v for k, v in labels.items() if v}
    return out


def start_session(state_dir: Path, run_id: str, common: dict[str, Any]) -> AuditSession:
    keys = key_folder(state_dir)
    run_dir = new_run_dir(state_dir, run_id)
    lock = RunLock(run_dir).acquire()  # released when the session closes
    key0 = os.urandom(32)
    escrow_key(keys, run_id, key0)
    seal = SealState(chain.key_id(key0), 0, key0)
    log = AuditLog(run_dir / AUDIT, common, seal=seal, escrow=keys.head(run_id))
    return AuditSession(run_dir, log, lock)


def reopen_session(
    run_dir: Path, common: dict[str, Any], head: Head, lock: RunLock, key0: bytes, next_seal: int
) -> AuditSession:
    """Continue a run's log (resume) under `lock`: the chain goes on from `head`, the seals
    from the run's verification key."""
    check_run_files(run_dir)
    seal = SealState(chain.key_id(key0), next_seal, chain.nth_key(key0, next_seal))
    escrow = key_folder(state_dir_of(run_dir)).head(run_dir.name)
    log = AuditLog(run_dir / AUDIT, common, head=head, seal=seal, escrow=escrow)
    return AuditSession(run_dir, log, lock)
