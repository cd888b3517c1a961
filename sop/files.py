"""Reading a file that someone else may have put there: an SOP library, a tasks file, a secret
file, a run's state. Every such read goes through `read_regular_file`.

A path in a library may be a symbolic link to `/dev/zero`, `/dev/urandom` or a FIFO with no
writer. A plain `open().read()` then reads forever, or blocks in `open` until someone writes.
So the path is looked at before it is opened (a device is never opened: opening some devices
acts), opened with `O_NONBLOCK` (a FIFO swapped in meanwhile cannot block the open), checked
again on the open descriptor (what is read is what was checked), and read up to the limit and
one byte more. A symbolic link to a regular file is followed: libraries use them legitimately.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO

from sop.errors import Location, SopError

MIB = 1024 * 1024
TASKS_FILE_BYTES = MIB  # the task importer (executors) and the static scan (format) agree
RUN_FILE_BYTES = 1024 * MIB  # a run's audit log and state: large, never endless
KEY_FILE_BYTES = 4096  # a verification key: 64 hex digits
_CHUNK = 256 * 1024
_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY
_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


class FileReadError(SopError):
    """A file that cannot be read, is not a regular file, or is over its limit. `where` is the
    file (line 1, column 1 when its size is the problem), `reason` the message without it,
    `errno` the system's error number when it refused."""

    def __init__(self, where: Location, reason: str, errno: int | None = None) -> None:
        self.where = where
        self.reason = reason
        self.errno = errno  # when the system refused: ENOENT, EACCES...
        super().__init__(f"{where}: {reason}")


def size_text(size: int) -> str:
    """1048576 -> "1 MiB", 65536 -> "64 KiB"."""
    if size >= MIB and size % MIB == 0:
        return f"{size // MIB} MiB"
    if size >= 1024 and size % 1024 == 0:
        return f"{size // 1024} KiB"
    return f"{size} bytes"


def read_regular_file(
    path: Path | str,
    limit: int,
    name: str | None = None,
    what: str = "files",
    *,
    follow_symlinks: bool = True,
) -> bytes:
    """The bytes of the regular file at `path`, at most `limit` of them. `name` is how errors
    call the file (default: the path); `what` how the limit is worded: "sop reads {what} up to
    1 MiB". A symbolic link is followed unless `follow_symlinks` is False (files sop wrote
    itself, such as a run's audit log: a link there is refused). Raises `FileReadError`."""
    shown = str(path) if name is None else name
    fd, size = _open_regular(path, shown, follow_symlinks)
    try:
        _refuse_size(size, limit, shown, what)
        data = _read_at_most(fd, limit + 1, size)
    except OSError as exc:
        raise _error(shown, exc) from None
    finally:
        os.close(fd)
    _refuse_size(len(data), limit, shown, what)
    return data


def open_regular_file(
    path: Path | str, name: str | None = None, *, follow_symlinks: bool = True
) -> BinaryIO:
    """The regular file at `path`, open for reading, checked as `read_regular_file` checks it;
    for a reader that needs only the file's beginning. Raises `FileReadError`."""
    fd, _size = _open_regular(path, str(path) if name is None else name, follow_symlinks)
    return os.fdopen(fd, "rb")


def _open_regular(path: Path | str, shown: str, follow_symlinks: bool) -> tuple[int, int]:
    """A descriptor of the regular file at `path`, and its size: looked at before opening (a
    device is never opened), opened without blocking, checked again on the descriptor."""
    try:
        before = os.stat(path, follow_symlinks=follow_symlinks)
        _refuse_special(before.st_mode, shown)
        fd = os.open(path, _FLAGS if follow_symlinks else _FLAGS | os.O_NOFOLLOW)
    except OSError as exc:
        raise _error(shown, exc) from None
    try:
        opened = os.fstat(fd)
        _refuse_special(opened.st_mode, shown)
        if (opened.st_dev, opened.st_ino) != (before.st_dev, before.st_ino):
            raise FileReadError(Location(shown), "the file changed while it was opened; try again")
    except OSError as exc:
        os.close(fd)
        raise _error(shown, exc) from None
    except BaseException:
        os.close(fd)
        raise
    return fd, opened.st_size


def _error(shown: str, exc: OSError) -> FileReadError:
    return FileReadError(Location(shown), f"cannot read: {exc.strerror or exc}", exc.errno)


def special_kind(path: Path | str) -> str | None:
    """What the file at `path` is when it is not a regular file ("a FIFO"), else None. Looks at
    the file without opening it."""
    mode = os.stat(path).st_mode
    return None if stat.S_ISREG(mode) else _kind(mode)


def version_of(path: str | Path) -> tuple[int, int, int, int, int]:
    """What tells one version of a file from the next: device, inode, size, modification and
    change times (a rewrite of the same size within the same mtime still moves the ctime).
    Raises OSError when there is no such file."""
    st = os.stat(path)
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def kind_of(mode: int) -> str:
    """What a file of this mode (from a stat) is, in words: "a FIFO", "a directory"..."""
    return _kind(mode)


def _kind(mode: int) -> str:
    return next((text for test, text in _KINDS if test(mode)), "an unknown kind of file")


def _refuse_special(mode: int, shown: str) -> None:
    if stat.S_ISLNK(mode):
        raise FileReadError(Location(shown), "a symbolic link, where sop expects its own file")
    if not stat.S_ISREG(mode):
        raise FileReadError(Location(shown), f"not a regular file ({_kind(mode)})")


def _refuse_size(size: int, limit: int, shown: str, what: str) -> None:
    if size > limit:
        raise FileReadError(
            Location(shown, 1, 1),
            f"file is {size / 1e6:.1f} MB; sop reads {what} up to {size_text(limit)}",
        )


def _read_at_most(fd: int, count: int, size: int) -> bytes:
    """Up to `count` bytes. The first read asks for the file's size and one byte more (one
    call for most files); the size may change, or lie (files in /proc say 0)."""
    chunks: list[bytes] = []
    left = count
    want = size + 1
    while left > 0:
        chunk = os.read(fd, min(left, want))
        want = _CHUNK
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)
