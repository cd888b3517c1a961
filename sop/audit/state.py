"""The state directory: one folder per run with its audit log, its resumable state and its lock.

STATE_DIR/runs/RUN_ID/audit.jsonl   the audit log (0600)
STATE_DIR/runs/RUN_ID/state.json    variables and progress for resume (no secrets)
STATE_DIR/runs/RUN_ID/lock          held (flock) by the process driving the run, whom it names;
                                    after a run stopped because its log could not be written,
                                    why (`sop runs` shows it; the next holder overwrites it)

The run's verification key and latest sealed head are kept elsewhere (escrow.py). Folders are
made 0700 and files 0600, or, in a state directory shared with a group (sharing.py), 2770 and
0660, so that the group's members can take a run over.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
from pathlib import Path
from typing import Any

from sop.audit.sharing import Sharing, make_dir, open_file, sharing_of
from sop.errors import NotFoundError, SopError
from sop.files import RUN_FILE_BYTES, FileReadError, read_regular_file

AUDIT = "audit.jsonl"
STATE = "state.json"
LOCK = "lock"


class StateDirError(SopError):
    """An unsafe or unusable state directory or run directory."""


class RunLockedError(SopError):
    """Another process drives this run."""


def default_state_dir() -> Path:
    if os.environ.get("SOP_STATE_DIR"):
        return Path(os.environ["SOP_STATE_DIR"])
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "sop"


def state_dir_of(run_dir: Path) -> Path:
    return run_dir.parent.parent


def check_run_dir(run_dir: Path) -> Sharing:
    """The state directory and runs folder around `run_dir`, and the run folder itself: each
    a real folder of someone the state directory trusts (the user, root, and in a shared one
    the members of its group) that nobody else can write. Returns the state directory's
    sharing."""
    sharing = sharing_of(state_dir_of(run_dir), "state directory")
    sharing.check(run_dir.parent, "runs directory", folder=True)
    sharing.check(run_dir, "run directory", folder=True)
    return sharing


def check_run_files(run_dir: Path) -> Sharing:
    """The run folder (`check_run_dir`) and the files in it that verify and resume trust:
    each a real file of someone the state directory trusts that nobody else can write (a
    teammate outside the state directory's group must not swap one in or keep write access to
    it)."""
    sharing = check_run_dir(run_dir)
    for name, what in ((AUDIT, "audit log"), (STATE, "run state"), (LOCK, "run lock")):
        sharing.check(run_dir / name, what)
    return sharing


def prepare_state_dir(explicit: Path | None) -> Path:
    """The state directory, checked (`sharing_of`) and made if missing (private), with its
    runs folder."""
    root = explicit or default_state_dir()
    sharing = sharing_of(root, "state directory")
    if not root.exists():
        root.parent.mkdir(parents=True, exist_ok=True)
        make_dir(root, sharing.dir_mode)
    runs = root / "runs"
    if not sharing.check(runs, "runs directory", folder=True):
        make_dir(runs, sharing.dir_mode)
    return root


def new_run_dir(state_dir: Path, run_id: str) -> Path:
    run_dir = state_dir / "runs" / run_id
    make_dir(run_dir, sharing_of(state_dir, "state directory").dir_mode)
    return run_dir


def find_run_dir(state_dir: Path, ref: str) -> Path:
    """A run by id, unique id prefix, or path of its folder or audit log."""
    given = Path(ref)
    if given.name == AUDIT and given.parent.is_dir():
        given = given.parent
    if given.is_dir() and (given / AUDIT).exists():
        check_run_dir(given)
        return given
    runs = state_dir / "runs"
    matches = sorted(p for p in runs.glob(f"{ref}*") if p.is_dir()) if runs.is_dir() and ref else []
    if len(matches) == 1:
        check_run_dir(matches[0])
        return matches[0]
    if len(matches) > 1:
        raise NotFoundError(f"'{ref}' names several runs: {', '.join(p.name for p in matches)}")
    raise NotFoundError(f"no run '{ref}' in {runs}")


def audit_log_path(ref: str, state_dir: Path | None = None) -> Path:
    """An audit log named as the audit commands take it (RUN|FILE): the file itself, else the
    log of the run `find_run_dir` finds in `state_dir` (default: `default_state_dir()`)."""
    path = Path(ref)
    if path.exists() and not path.is_dir():  # a FIFO too: reading it says what it is
        return path
    return find_run_dir(state_dir or default_state_dir(), ref) / AUDIT


class RunLock:
    """An exclusive lock on a run directory; the holder's pid and host are written in the file."""

    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / LOCK
        self.fd = -1

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()

    def acquire(self) -> RunLock:
        """Take the lock, or say who holds it. For a lock that outlives one block (a run's
        session holds it until the log is closed); otherwise use `with`."""
        self.fd = open_file(self.path, os.O_RDWR)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(self.fd, 256, 0).decode(errors="replace").strip() or "another process"
            os.close(self.fd)
            raise RunLockedError(
                f"run {self.path.parent.name} is being driven by {holder}; wait for it to finish, or stop it"
            ) from None
        os.ftruncate(self.fd, 0)
        os.write(self.fd, f"pid {os.getpid()} on {socket.gethostname()}\n".encode())
        return self

    def release(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def note_stop(self, why: str) -> None:
        """Say in the lock file why the run stopped, for `sop runs`: best effort, and written
        over the holder's line at the start of the file, whose block the file has already (a
        full disk has no new one to give)."""
        text = f"{STOPPED}{' '.join(why.split())}"[:NOTE_BYTES].encode(errors="replace")
        try:
            os.pwrite(self.fd, text + b"\n", 0)
            os.ftruncate(self.fd, len(text) + 1)
        except OSError:
            pass


STOPPED = "stopped: "  # a lock file that starts so says why its run stopped itself
NOTE_BYTES = 1000  # at most so much of it, within the file's first block


def stop_note(run_dir: Path) -> str:
    """Why a run that is not driven now stopped itself (its audit log could not be written),
    as its lock file says; "" when it does not say."""
    try:
        data = read_regular_file(run_dir / LOCK, NOTE_BYTES + 1, follow_symlinks=False)
    except FileReadError:
        return ""
    text = data.decode(errors="replace").strip()
    return text.removeprefix(STOPPED) if text.startswith(STOPPED) else ""


def read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(read_regular_file(path, RUN_FILE_BYTES, follow_symlinks=False))
    except FileReadError as exc:
        if exc.errno == errno.ENOENT:
            return {}
        raise StateDirError(f"{path}: unreadable ({exc.reason})") from None
    except ValueError as exc:
        raise StateDirError(f"{path}: unreadable ({exc})") from None
    return data if isinstance(data, dict) else {}
