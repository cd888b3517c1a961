"""The state directory: one folder per run with its audit log, its resumable state and its lock.

STATE_DIR/runs/RUN_ID/audit.jsonl   the audit log (0600)
STATE_DIR/runs/RUN_ID/state.json    variables and progress for resume (no secrets)
STATE_DIR/runs/RUN_ID/lock          held (flock) by the process driving the run

The run's verification key and latest sealed head are kept elsewhere (escrow.py).
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
import stat
from pathlib import Path
from typing import Any

from sop.audit.escrow import check_private
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


def check_dir(path: Path, what: str, *, own: bool = False) -> None:
    """Refuse a symlink, something that is not a directory, or a directory others can write;
    with `own`, also one that belongs to another user."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        return
    if stat.S_ISLNK(info.st_mode):
        raise StateDirError(
            f"{what} {path} is a symbolic link; sop refuses it (point --state-dir at the real folder)"
        )
    if not stat.S_ISDIR(info.st_mode):
        raise StateDirError(f"{what} {path} is not a directory")
    if own and info.st_uid != os.geteuid():
        raise StateDirError(
            f"{what} {path} belongs to another user (uid {info.st_uid}); sop resumes and reads only "
            "runs you own. To take over a colleague's run, have them hand the folder over "
            "(chown it to you) or resume it from their account"
        )
    if info.st_mode & stat.S_IWOTH:
        raise StateDirError(
            f"{what} {path} is writable by other users; run `chmod o-w {path}` first"
        )


def check_run_files(run_dir: Path) -> None:
    """The run folder and the files in it that verify and resume trust: each a real file of
    this user that nobody else can write (a shared state directory must not let a teammate
    swap one in or keep write access to it)."""
    check_dir(run_dir, "run directory", own=True)
    for name, what in ((AUDIT, "audit log"), (STATE, "run state"), (LOCK, "run lock")):
        check_private(run_dir / name, what)


def ensure_private_dir(path: Path, what: str) -> Path:
    check_dir(path, what)
    if not path.exists():
        path.mkdir(mode=0o700, parents=True)
        os.chmod(path, 0o700)
    check_dir(path, what)
    return path


def prepare_state_dir(explicit: Path | None) -> Path:
    root = explicit or default_state_dir()
    ensure_private_dir(root, "state directory")
    ensure_private_dir(root / "runs", "runs directory")
    return root


def new_run_dir(state_dir: Path, run_id: str) -> Path:
    run_dir = state_dir / "runs" / run_id
    run_dir.mkdir(mode=0o700)
    return run_dir


def find_run_dir(state_dir: Path, ref: str) -> Path:
    """A run by id, unique id prefix, or path of its folder or audit log."""
    given = Path(ref)
    if given.name == AUDIT and given.parent.is_dir():
        given = given.parent
    if given.is_dir() and (given / AUDIT).exists():
        check_dir(given, "run directory", own=True)
        return given
    runs = state_dir / "runs"
    matches = sorted(p for p in runs.glob(f"{ref}*") if p.is_dir()) if runs.is_dir() and ref else []
    if len(matches) == 1:
        check_dir(matches[0], "run directory", own=True)
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
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
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
