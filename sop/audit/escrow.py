"""The key folder: what sop keeps about each run outside the state directory (which a team may
share, and whoever can write it can rewrite a log there).

KEY_DIR/RUN_ID.key    the run's verification key, key[0] of its seals (0600)
KEY_DIR/RUN_ID.head   the log's head after its latest seal: SEQ, hash, seals, finished (0600)

The head is replaced (atomically) after every seal, so the key folder knows how far the sealed
log reached: a log cut back to an earlier seal, or rolled back to an older copy, no longer
reaches it. It is not fsynced: after a power loss it may lag the log, which only weakens the
check, never makes a good log fail.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from sop.errors import SopError
from sop.files import KEY_FILE_BYTES, FileReadError, kind_of, read_regular_file

KEY_SUFFIX = ".key"
HEAD_SUFFIX = ".head"


class UnsafeFileError(SopError):
    """A file or folder sop trusts can be changed by someone else, or is not what it seems."""


def default_key_dir() -> Path:
    """Where verification keys are kept: outside the state directory, which may be shared."""
    if os.environ.get("SOP_AUDIT_KEYS"):
        return Path(os.environ["SOP_AUDIT_KEYS"])
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "sop" / "audit-keys"


def check_private(path: Path, what: str, *, folder: bool = False, own: bool = True) -> bool:
    """Refuse a symbolic link, the wrong kind of file, a file of another user (with `own`) or
    one that others can write. False when `path` does not exist."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise UnsafeFileError(f"{what} {path}: {exc.strerror}") from None
    if stat.S_ISLNK(info.st_mode):
        if folder:
            raise UnsafeFileError(
                f"{what} {path} is a symbolic link; sop refuses it (use the folder itself)"
            )
        raise UnsafeFileError(f"{path}: a symbolic link, where sop expects its own file")
    if folder and not stat.S_ISDIR(info.st_mode):
        raise UnsafeFileError(f"{what} {path} is not a folder")
    if not folder and not stat.S_ISREG(info.st_mode):
        raise UnsafeFileError(f"{path}: not a regular file ({kind_of(info.st_mode)})")
    if own and info.st_uid != os.geteuid():
        raise UnsafeFileError(
            f"{what} {path} belongs to another user (uid {info.st_uid}); sop trusts only its own "
            f"files here: `chown {os.geteuid()} {path}` (as root) if it is yours"
        )
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise UnsafeFileError(
            f"{what} {path} is writable by other users; run `chmod go-w {path}` first "
            "(and check that nobody changed it)"
        )
    return True


def check_key_dir(folder: Path | None = None) -> Path:
    folder = folder or default_key_dir()
    check_private(folder, "audit key folder", folder=True)
    return folder


def ensure_key_dir() -> Path:
    folder = default_key_dir()
    if not check_private(folder, "audit key folder", folder=True):
        folder.mkdir(mode=0o700, parents=True)
        os.chmod(folder, 0o700)
    return folder


def write_private(path: Path, text: str, *, sync: bool = True) -> None:
    """Replace a small file atomically, readable by its owner only."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, text.encode())
        if sync:
            os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def escrow_key(run_id: str, key0: bytes) -> Path:
    """Keep the verification key outside the state directory."""
    path = ensure_key_dir() / f"{run_id}{KEY_SUFFIX}"
    write_private(path, key0.hex() + "\n")
    return path


def load_key(run_id: str, explicit: Path | None = None) -> bytes | None:
    """A run's verification key: `explicit`, else the one kept for it in the key folder (whose
    owner and modes are checked). None when there is none."""
    if explicit is not None:
        if explicit.name.endswith(KEY_SUFFIX) and explicit.name != f"{run_id}{KEY_SUFFIX}":
            raise UnsafeFileError(
                f"{explicit} is the key of run '{explicit.name.removesuffix(KEY_SUFFIX)}', "
                f"not of run '{run_id}' (the run named in the log)"
            )
        check_private(explicit, "verification key", own=False)
        path = explicit
    else:
        path = check_key_dir() / f"{run_id}{KEY_SUFFIX}"
        if not run_id or not check_private(path, "verification key"):
            return None
    try:
        key = bytes.fromhex(read_regular_file(path, KEY_FILE_BYTES).decode("ascii").strip())
    except FileReadError as exc:
        raise UnsafeFileError(f"cannot read the verification key: {exc}") from None
    except ValueError:
        raise UnsafeFileError(f"{path} is not a verification key (64 hex digits)") from None
    if len(key) != 32:
        raise UnsafeFileError(f"{path} is not a verification key (64 hex digits)")
    return key


@dataclass(frozen=True)
class EscrowedHead:
    """How far a run's sealed log reached, as the key folder knows it."""

    seq: int
    hash: str
    seals: int  # how many seals the log held then
    finished: bool  # the log held its run-finished record

    def as_text(self, run_id: str) -> str:
        fields = {
            "run_id": run_id,
            "seq": self.seq,
            "hash": self.hash,
            "seals": self.seals,
            "finished": self.finished,
        }
        return json.dumps(fields, sort_keys=True) + "\n"


def head_path(run_id: str) -> Path:
    return default_key_dir() / f"{run_id}{HEAD_SUFFIX}"


def write_head(path: Path, run_id: str, head: EscrowedHead) -> None:
    write_private(path, head.as_text(run_id), sync=False)


def load_head(run_id: str) -> EscrowedHead | None:
    """The head the key folder kept for `run_id`, None when it has none (a run written by an
    older sop, or on another machine). An unreadable one is an error: sop writes it atomically."""
    path = check_key_dir() / f"{run_id}{HEAD_SUFFIX}"
    if not run_id or not check_private(path, "escrowed head"):
        return None
    try:
        text = read_regular_file(path, KEY_FILE_BYTES, follow_symlinks=False).decode()
        if not text.strip():  # replaced without fsync, then a power loss: it lags, safely
            return None
        data = json.loads(text)
        head = EscrowedHead(
            int(data["seq"]), str(data["hash"]), int(data["seals"]), data["finished"] is True
        )
        if data["run_id"] != run_id:
            raise ValueError
    except FileReadError as exc:
        raise UnsafeFileError(f"cannot read the escrowed head: {exc}") from None
    except (ValueError, KeyError, TypeError):
        raise UnsafeFileError(
            f"{path} is not the head sop kept for run {run_id}; sop will not guess how far its log "
            "reached (move the file away to verify without it)"
        ) from None
    return head
