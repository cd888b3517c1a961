"""Listing runs in a state directory, from their audit logs."""

from __future__ import annotations

import fcntl
import os
from dataclasses import dataclass
from pathlib import Path

from sop.audit.actions import Action
from sop.audit.reader import check_log, log_path, read_log
from sop.audit.state import LOCK
from sop.audit.verify import AuditReadError
from sop.events import RunStatus


@dataclass(frozen=True)
class RunSummary:
    run_id: str
    sop_id: str
    started: str
    operator: str
    incident: str
    status: str  # the outcome, "unfinished", or "in progress"
    run_dir: Path
    problem: str = ""  # why the log cannot be trusted (its seals do not verify); "" if they do

    def as_row(self) -> list[str]:
        status = f"{self.status} (untrusted: {self.problem})" if self.problem else self.status
        return [self.run_id, self.sop_id, self.started, self.operator, self.incident, status]


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
    """A run as its log tells it. A log whose seals do not verify with the run's key (anyone who
    can write the state directory could have written it) is listed with the reason, and its
    status is what the log claims."""
    try:
        checked = check_log(run_dir.name, read_log(log_path(run_dir)))
    except AuditReadError:
        return None
    entries = checked.entries
    if not entries:
        return None
    first = entries[0]
    finished = [e for e in entries if e.action == Action.RUN_FINISHED]
    if finished:
        status = finished[-1].outcome or RunStatus.FINISHED
    else:
        status = "in progress" if is_locked(run_dir) else RunStatus.UNFINISHED
    return RunSummary(
        run_id=first.run_id or run_dir.name,
        sop_id=first.sop_id or "?",
        started=first.time,
        operator=first.operator,
        incident=first.incident,
        status=status,
        run_dir=run_dir,
        problem=checked.problem,
    )


def list_runs(state_dir: Path) -> list[RunSummary]:
    runs = state_dir / "runs"
    if not runs.is_dir():
        return []
    found = [summarize(p) for p in sorted(runs.iterdir()) if p.is_dir() and not p.is_symlink()]
    return sorted((r for r in found if r is not None), key=lambda r: r.started)
