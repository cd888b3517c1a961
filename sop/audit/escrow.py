"""The key folder: what sop keeps about each run outside the run's folder.

KEY_DIR/RUN_ID.key    the run's verification key, key[0] of its seals (0600; 0660 when shared)
KEY_DIR/RUN_ID.head   the log's head after its latest seal: SEQ, hash, seals, finished

KEY_DIR is `$SOP_AUDIT_KEYS` if set; else, for a state directory shared with a group, its `keys`
folder, shared with the same group (its members take over each other's runs, so they need the
keys, and sop trusts them as it trusts the owner); else the user's own folder, outside the state
directory (`~/.config/sop/audit-keys`).

The head is replaced (atomically) after every seal, so the key folder knows how far the sealed
log reached: a log cut back to an earlier seal, or rolled back to an older copy, no longer
reaches it. It is not fsynced: after a power loss it may lag the log, which only weakens the
check, never makes a good log fail.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from sop.audit.sharing import Sharing, UnsafeFileError, make_dir, open_file, sharing_of
from sop.files import KEY_FILE_BYTES, FileReadError, read_regular_file
from sop.records import dataclass

KEY_SUFFIX = ".key"
HEAD_SUFFIX = ".head"
KEYS = "keys"  # a shared state directory's key folder


def default_key_dir() -> Path:
    """The user's own key folder: outside the state directory, which others may write."""
    if os.environ.get("SOP_AUDIT_KEYS"):
        return Path(os.environ["SOP_AUDIT_KEYS"])
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "sop" / "audit-keys"


@dataclass(frozen=True)
class KeyFolder:
    """Where the keys and heads of a state directory's runs are kept, and who is trusted with
    them (a key folder shared with a group lets its members resume each other's runs)."""

    path: Path
    sharing: Sharing

    def key(self, run_id: str) -> Path:
        return self.path / f"{run_id}{KEY_SUFFIX}"

    def head(self, run_id: str) -> Path:
        return self.path / f"{run_id}{HEAD_SUFFIX}"

    def ensure(self) -> KeyFolder:
        """The folder, made if missing (as private as its sharing says)."""
        if not self.sharing.check(self.path, "audit key folder", folder=True):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            make_dir(self.path, self.sharing.dir_mode)
        return self


def key_folder(state_dir: Path | None = None) -> KeyFolder:
    """The key folder for the runs of `state_dir`: `$SOP_AUDIT_KEYS` if set; else, for a state
    directory shared with a group, its `keys` folder (the group's members resume each other's
    runs, so they share the keys); else the user's own (`default_key_dir`). Checked: a folder
    that others can write, or a symbolic link, is refused."""
    if not os.environ.get("SOP_AUDIT_KEYS") and state_dir is not None:
        shared = sharing_of(state_dir, "state directory")
        if shared.gid is not None:
            folder = state_dir / KEYS
            if folder.exists() or folder.is_symlink():
                shared.check(folder, "audit key folder", folder=True)
                return KeyFolder(folder, sharing_of(folder, "audit key folder"))
            return KeyFolder(folder, shared)
    folder = default_key_dir()
    return KeyFolder(folder, sharing_of(folder, "audit key folder"))


def write_private(path: Path, text: str, *, sync: bool = True) -> None:
    """Replace a small file atomically, readable by its owner only (and, in a shared folder, by
    the group)."""
    tmp = path.with_name(path.name + ".tmp")
    fd = open_file(tmp, os.O_WRONLY | os.O_TRUNC)
    try:
        os.write(fd, text.encode())
        if sync:
            os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def escrow_key(keys: KeyFolder, run_id: str, key0: bytes) -> Path:
    """Keep the verification key outside the run's folder."""
    path = keys.ensure().key(run_id)
    write_private(path, key0.hex() + "\n")
    return path


def load_key(keys: KeyFolder, run_id: str, explicit: Path | None = None) -> bytes | None:
    """A run's verification key: `explicit`, else the one kept for it in the key folder (whose
    owner and modes are checked). None when there is none."""
    if explicit is not None:
        if explicit.name.endswith(KEY_SUFFIX) and explicit.name != f"{run_id}{KEY_SUFFIX}":
            raise UnsafeFileError(
                f"{explicit} is the key of run '{explicit.name.removesuffix(KEY_SUFFIX)}', "
                f"not of run '{run_id}' (the run named in the log)"
            )
        Sharing().check(explicit, "verification key", own=False)
        path = explicit
    else:
        path = keys.key(run_id)
        if not run_id or not keys.sharing.check(path, "verification key"):
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


def write_head(path: Path, run_id: str, head: EscrowedHead) -> None:
    write_private(path, head.as_text(run_id), sync=False)


def load_head(keys: KeyFolder, run_id: str) -> EscrowedHead | None:
    """The head the key folder kept for `run_id`, None when it has none (a run written by an
    older sop, or on another machine). An unreadable one is an error: sop writes it atomically."""
    path = keys.head(run_id)
    if not run_id or not keys.sharing.check(path, "escrowed head"):
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
