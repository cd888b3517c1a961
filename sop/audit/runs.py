"""Listing runs in a state directory, from their audit logs."""

from __future__ import annotations

import fcntl
import os
from dataclasses import dataclass
from pathlib import Path

from sop.audit.state import AUDIT, LOCK
from sop.audit.verify import parse_log


@dataclass(frozen=True)
class RunSummary:
    run_id: str
    sop_id: str
    started: str
    operator: str
    incident: str
    status: str  # the outcome, "unfinished", or "in progress"
    run_dir: Path

    def as_row(self) -> list[str]:
        return [self.run_id, self.sop_id, self.started, self.operator, self.incident, self.status]


def is_locked(run_dir: Path) -> bool:
    try:
        fd = os.open(run_dir / LOCK, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def summarize(run_dir: Path) -> RunSummary | None:
    try:
        records = [r for _, r in parse_log((run_dir / AUDIT).read_bytes()).records]
    except OSError:
        return None
    if not records:
        return None
    first = records[0]
    finished = [r for r in records if r.get("event", {}).get("action") == "run-finished"]
    if finished:
        status = str(finished[-1].get("sop", {}).get("outcome", "finished"))
    else:
        status = "in progress" if is_locked(run_dir) else "unfinished"
    sop = first.get("sop", {})
    return RunSummary(
        run_id=str(sop.get("run_id", run_dir.name)),
        sop_id=str(sop.get("id", "?")),
        started=str(first.get("@timestamp", "")),
        operator=str(first.get("user", {}).get("name", "")),
        incident=str(first.get("labels", {}).get("incident", "")),
        status=status,
        run_dir=run_dir,
    )


def list_runs(state_dir: Path) -> list[RunSummary]:
    runs = state_dir / "runs"
    if not runs.is_dir():
        return []
    found = [summarize(p) for p in sorted(runs.iterdir()) if p.is_dir() and not p.is_symlink()]
    return sorted((r for r in found if r is not None), key=lambda r: r.started)
