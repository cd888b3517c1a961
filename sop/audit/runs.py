"""Listing runs in a state directory, from their audit logs."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Sequence
from pathlib import Path

from sop.audit.actions import Action
from sop.audit.escrow import KeyFolder, key_folder
from sop.audit.reader import AuditEntry, check_log, log_path, read_log
from sop.audit.state import LOCK, stop_note
from sop.audit.verify import AuditReadError
from sop.events import Outcome, RunStatus
from sop.records import dataclass


@dataclass(frozen=True)
class RunSummary:
    run_id: str
    sop_id: str
    started: str
    operator: str
    incident: str
    status: RunStatus
    run_dir: Path
    problem: str = ""  # why the log cannot be trusted (its seals do not verify); "" if they do
    detail: str = ""  # a finished run's outcome, why it was aborted or paused
    drill: bool = False  # a fire drill (`sop drill`), not a real run

    @property
    def shown_status(self) -> str:
        status = f"{self.status}: {self.detail}" if self.detail else str(self.status)
        return f"{status} (untrusted: {self.problem})" if self.problem else status

    def as_row(self) -> list[str]:
        kind = "drill" if self.drill else "run"
        return [
            self.run_id,
            self.sop_id,
            self.started,
            self.operator,
            self.incident,
            kind,
            self.shown_status,
        ]


def is_locked(run_dir: Path) -> bool:
    """Whether a process holds the run's lock (flock): the kernel drops it when that process
    ends, however it ends, so a held lock means the run is being driven now."""
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


def run_status(
    entries: Sequence[AuditEntry], locked: bool, stopped: str = ""
) -> tuple[RunStatus, str]:
    """A run's status and its detail: finished or aborted by its run-finished record; else live
    while a process holds its lock; else paused when its last start, resume or pause record is a
    run-paused; else stopped when its lock file says why it stopped itself (`stopped`: its log
    could not be written), and crashed when nothing says (the process ended without a word)."""
    finished = [e for e in entries if e.action == Action.RUN_FINISHED]
    if finished:
        end = finished[-1]
        if end.outcome == Outcome.ABORTED:
            return RunStatus.ABORTED, end.reason
        return RunStatus.FINISHED, end.outcome
    if locked:
        return RunStatus.LIVE, ""
    last = [e for e in entries if e.action in _SEGMENT]
    if last and last[-1].action == Action.RUN_PAUSED:
        return RunStatus.PAUSED, last[-1].reason
    if stopped:
        return RunStatus.STOPPED, stopped
    return RunStatus.CRASHED, ""


_SEGMENT = frozenset({Action.RUN_STARTED, Action.RUN_RESUMED, Action.RUN_PAUSED})


def summarize(run_dir: Path, keys: KeyFolder) -> RunSummary | None:
    """A run as its log tells it. A log whose seals do not verify with the run's key (anyone who
    can write the state directory could have written it) is listed with the reason, and its
    status is what the log claims."""
    try:
        checked = check_log(run_dir.name, read_log(log_path(run_dir)), keys)
    except AuditReadError:
        return None
    entries = checked.entries
    if not entries:
        return None
    first = entries[0]
    locked = is_locked(run_dir)
    status, detail = run_status(entries, locked, "" if locked else stop_note(run_dir))
    return RunSummary(
        run_id=first.run_id or run_dir.name,
        sop_id=first.sop_id or "?",
        started=first.time,
        operator=first.operator,
        incident=first.incident,
        status=status,
        run_dir=run_dir,
        problem=checked.problem,
        detail=detail,
        drill=first.event_kind == "drill",
    )


def list_runs(state_dir: Path) -> list[RunSummary]:
    runs = state_dir / "runs"
    if not runs.is_dir():
        return []
    keys = key_folder(state_dir)
    found = [
        summarize(p, keys) for p in sorted(runs.iterdir()) if p.is_dir() and not p.is_symlink()
    ]
    return sorted((r for r in found if r is not None), key=lambda r: r.started)
