"""One run's audit files, opened together: the run directory, its lock, the log, the seal key
and the resumable state."""

from __future__ import annotations

import hashlib
import json
import os
import pwd
import socket
from pathlib import Path
from typing import Any

from sop.audit import chain
from sop.audit.actions import Action
from sop.audit.escrow import escrow_key, key_folder, write_private
from sop.audit.log import AuditLog, AuditSink, Head, SealState
from sop.audit.records import ECS_VERSION
from sop.audit.state import AUDIT, STATE, RunLock, check_run_files, new_run_dir, state_dir_of
from sop.records import dataclass


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
        try:
            write_private(self.run_dir / STATE, text)
        except OSError as exc:  # the log names this state: resume takes the one before
            self.log.break_off(f"cannot save the run state {self.run_dir / STATE}: {exc.strerror}")

    def close(self, at: float) -> Head:
        """Seal and close the log, and let go of the run. A run whose log broke says why in
        its lock file, which `sop runs` shows (the log itself cannot say it)."""
        try:
            self.log.close(at)
        finally:
            if self.log.broken:
                self.lock.note_stop(self.log.broken)
            self.lock.release()
        return self.log.head


def common_fields(
    *,
    run_id: str,
    trace_id: str,
    span_id: str,
    parent_span_id: str = "",
    sop_id: str,
    sha256: str,
    operator: str,
    incident: str | None,
    kind: str,
    scenario: str = "",
) -> dict[str, Any]:
    """The fields every record of a run has. `kind` is "drill" for a drill (ECS has no such
    `event.kind`: a drill's records are tagged `drill`); `operator` is the name the responder
    claims ($LOGNAME, `sop.operator`), `user.*` who the OS says runs sop, `host.*` the machine
    sop runs on (the hosts a step targets are `sop.target.name`). `span_id` is the run span,
    `parent_span_id` the span the run is a child of (an incoming TRACEPARENT's): a step's or a
    host's record names its own span and parent instead."""
    machine = socket.gethostname()
    out: dict[str, Any] = {
        "ecs": {"version": ECS_VERSION},
        "event": {"kind": "event", "module": "sop", "dataset": "sop.audit"},
        "trace": {"id": trace_id},
        "span": {"id": span_id},
        "host": {"name": machine, "hostname": machine},
        "user": {**_os_user(os.getuid()), "effective": _os_user(os.geteuid())},
        "sop": {"run_id": run_id, "id": sop_id, "sha256": sha256, "operator": operator},
    }
    if parent_span_id:
        out["sop"]["parent_span_id"] = parent_span_id
    if kind == "drill":
        out["tags"] = ["drill"]
    labels = {"incident": incident, "scenario": scenario}
    if any(labels.values()):
        out["labels"] = {k: v for k, v in labels.items() if v}
    return out


def _os_user(uid: int) -> dict[str, str]:
    """`user.id` and, when the password database knows it, `user.name` of a uid."""
    try:
        return {"id": str(uid), "name": pwd.getpwuid(uid).pw_name}
    except KeyError:
        return {"id": str(uid)}


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
