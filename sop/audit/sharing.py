"""Whom sop trusts with the folders and files it keeps runs in.

A folder is **private** (the user's, 0700) or **shared with a group**: group-writable and
set-group-ID, so that everything made in it keeps the group, as an administrator makes one for
a team with `install -d -m 2770 -g oncall /var/lib/sop`. sop trusts the user and root with the
files of a private folder, and in a shared one also the members of its group, to the same
degree: any of them may resume, take over and verify a run there. Everyone else is refused: a
folder or file that others can write, that is writable by a group other than the shared one, that
belongs to someone who is neither the user, root, nor (shared) a member of the group, or that is
a symbolic link.

Membership is the group database's (primary group or listed member) for the owner of a file,
and the process's own groups for the user who runs sop.
"""

from __future__ import annotations

import grp
import os
import pwd
import stat
from pathlib import Path

from sop.errors import SopError
from sop.files import kind_of
from sop.records import dataclass

PRIVATE_DIR = 0o700
SHARED_DIR = 0o2770  # group rwx, set-group-ID: new entries keep the group
PRIVATE_FILE = 0o600
SHARED_FILE = 0o660


class UnsafeFileError(SopError):
    """A file or folder sop trusts can be changed by someone else, or is not what it seems."""


@dataclass(frozen=True)
class Sharing:
    """Who may own and write what lies in a folder: the user and root; with `gid`, also the
    members of that group (a shared folder)."""

    gid: int | None = None

    @property
    def dir_mode(self) -> int:
        return PRIVATE_DIR if self.gid is None else SHARED_DIR

    def trusts(self, uid: int) -> bool:
        return uid in (os.geteuid(), 0) or (self.gid is not None and is_member(uid, self.gid))

    def check(self, path: Path, what: str, *, folder: bool = False, own: bool = True) -> bool:
        """Refuse a symbolic link, the wrong kind of file, a file of someone this folder does
        not trust (with `own`), or one that others can write. False when `path` does not exist."""
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
        if own and not self.trusts(info.st_uid):
            raise UnsafeFileError(self._foreign(path, what, info.st_uid))
        group_ok = self.gid is not None and info.st_gid == self.gid
        if info.st_mode & stat.S_IWOTH or (info.st_mode & stat.S_IWGRP and not group_ok):
            raise UnsafeFileError(
                f"{what} {path} is writable by other users; run `chmod go-w {path}` first "
                "(and check that nobody changed it)"
            )
        return True

    def _foreign(self, path: Path, what: str, uid: int) -> str:
        if self.gid is None:
            return (
                f"{what} {path} belongs to another user, {user_name(uid)}; sop trusts only its "
                f"own files here: `chown {os.geteuid()} {path}` (as root) if it is yours; to take "
                "over each other's runs, share a state directory with a group (docs/audit.md)"
            )
        return (
            f"{what} {path} belongs to {user_name(uid)}, who is not a member of group "
            f"{group_name(self.gid)}; sop trusts only the group's members here"
        )


def sharing_of(folder: Path, what: str) -> Sharing:
    """How `folder` is shared, refusing one sop must not keep runs in: a symbolic link,
    something that is not a folder, a folder others can write, one that is group-writable but
    not set-group-ID (what is made in it would not keep the group), one shared with a group the
    user is not in, or one whose owner is neither the user, root nor a member of its group. A
    folder that does not exist yet is private."""
    try:
        info = folder.lstat()
    except FileNotFoundError:
        return Sharing()
    except OSError as exc:
        raise UnsafeFileError(f"{what} {folder}: {exc.strerror}") from None
    if stat.S_ISLNK(info.st_mode):
        raise UnsafeFileError(
            f"{what} {folder} is a symbolic link; sop refuses it (name the real folder instead)"
        )
    if not stat.S_ISDIR(info.st_mode):
        raise UnsafeFileError(f"{what} {folder} is not a folder")
    if info.st_mode & stat.S_IWOTH:
        raise UnsafeFileError(
            f"{what} {folder} is writable by other users; run `chmod o-w {folder}` first"
        )
    sharing = Sharing()
    if info.st_mode & stat.S_IWGRP:
        group = group_name(info.st_gid)
        if not info.st_mode & stat.S_ISGID:
            raise UnsafeFileError(
                f"{what} {folder} is writable by group {group} but not set-group-ID, so what "
                f"sop makes in it would not stay the group's: run `chmod g+s {folder}` to share "
                f"it with the members of {group}, or `chmod g-w {folder}` to keep it private"
            )
        if os.geteuid() != 0 and info.st_gid not in (os.getegid(), *os.getgroups()):
            raise UnsafeFileError(
                f"{what} {folder} is shared with group {group}, and you are not a member of it"
            )
        sharing = Sharing(info.st_gid)
    if not sharing.trusts(info.st_uid):
        raise UnsafeFileError(sharing._foreign(folder, what, info.st_uid))
    return sharing


def make_dir(path: Path, mode: int) -> None:
    """A new folder with exactly `mode` (the umask does not apply)."""
    path.mkdir(mode=mode & 0o777)
    os.chmod(path, mode)


def open_file(path: Path, flags: int) -> int:
    """Open (or create) a file in a checked folder, never following a link. A file this call
    creates gets the folder's sharing, whatever the umask: group read and write in a
    group-writable (shared) folder, else owner only; an existing file keeps its mode (the checks
    judge it)."""
    flags |= os.O_NOFOLLOW | os.O_CLOEXEC
    mode = SHARED_FILE if path.parent.stat().st_mode & stat.S_IWGRP else PRIVATE_FILE
    try:
        fd = os.open(path, flags | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        return os.open(path, flags)
    try:
        os.fchmod(fd, mode)
    except OSError:
        os.close(fd)
        raise
    return fd


def is_member(uid: int, gid: int) -> bool:
    try:
        user = pwd.getpwuid(uid)
    except KeyError:
        return False
    if user.pw_gid == gid:
        return True
    try:
        return user.pw_name in grp.getgrgid(gid).gr_mem
    except KeyError:
        return False


def user_name(uid: int) -> str:
    try:
        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except KeyError:
        return f"uid {uid}"


def group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return f"gid {gid}"
