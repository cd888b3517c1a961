"""What `sop list` shows of each SOP, kept in a cache so that listing does not parse every file.

A responder types `sop list` first; loading a library means parsing and validating every
file (about 1 ms per SOP). The cache keeps, per file, the few fields the listing shows, under
the file's stat signature (device, inode, size, mtime and ctime in nanoseconds, like git's
index), and is trusted only while that signature is unchanged:

- An entry is stored only for a file that loaded without problems; a broken file is loaded
  (and reported) every time.
- A file changed within `RACY_NS` of the cache write is not stored ("racily clean", as git
  calls it): a second change in the same clock tick could keep size and mtime equal.
- An SOP's tasks file is part of its signature (the SOP fails to load without it).
- The header holds sop's version and the stat of the modules that decide what loads, so a
  new sop never trusts an old cache.

The cache only ever feeds the listing: `sop run`, `show`, `lint` and `render` read the files.
It lives in `$XDG_CACHE_HOME/sop/` (default `~/.cache/sop/`), written atomically with mode
0600; `SOP_NO_CACHE=1` turns it off. Any problem with it (missing, corrupt, read-only) means
loading the files, never an error.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, NamedTuple

from sop import __version__
from sop.errors import Problem, SopFileError
from sop.files import MIB, FileReadError, read_regular_file, version_of

CACHE_NAME = "list-v1.json"
RACY_NS = 2_000_000_000  # file-system timestamps may be this coarse (FAT: 2 s)
MAX_ENTRIES = 20_000  # past this the cache starts again (folders come and go)
MAX_CACHE_BYTES = 64 * MIB  # far above MAX_ENTRIES entries; a larger file is not the cache
# the modules whose change can change whether and how a file loads


class Row(NamedTuple):
    """One SOP as `sop list` shows and filters it."""

    id: str
    title: str
    phase: str | None
    owner: str | None
    reviewed: str | None
    tags: tuple[str, ...]
    alerts: tuple[str, ...]
    path: Path

    def matches(
        self, tags: Iterable[str], phase: str | None, alert: str | None, owner: str | None
    ) -> bool:
        """Every tag is the SOP's, and phase, alert and owner match where given."""
        return (
            set(tags) <= set(self.tags)
            and phase in (None, self.phase)
            and (alert is None or any(_same_alert(alert, p) for p in self.alerts))
            and owner in (None, self.owner)
        )


def _same_alert(asked: str, declared: str) -> bool:
    """An alert name asked for matches a declared one (case ignored, globs on either side)."""
    from sop.format.alerts import alert_matches

    return alert_matches(asked, declared) or alert_matches(declared, asked)


class Catalog(NamedTuple):
    rows: tuple[Row, ...]
    problems: tuple[Problem, ...]

    def matching(
        self,
        tags: Iterable[str] = (),
        phase: str | None = None,
        alert: str | None = None,
        owner: str | None = None,
    ) -> Catalog:
        """The rows that match (see `Row.matches`), by id; the problems stay."""
        rows = sorted((r for r in self.rows if r.matches(tags, phase, alert, owner)), key=_id)
        return Catalog(tuple(rows), self.problems)


def _id(row: Row) -> str:
    return row.id


def catalog(paths: Iterable[Path]) -> Catalog:
    """The listing of every SOP under `paths`, from the cache where it is still true."""
    from sop.format.sopfiles import sop_files

    files = sop_files(paths)
    cache = _Cache.open()
    rows: list[Row] = []
    problems: list[Problem] = []
    for path in files:
        row = cache.row(path)
        if row is None:
            try:
                row = cache.load(path)
            except _Broken as exc:
                problems.extend(exc.problems)
                continue
        rows.append(row)
    cache.save()
    return Catalog(tuple(rows), tuple(problems))


class _Broken(Exception):
    def __init__(self, problems: tuple[Problem, ...]) -> None:
        self.problems = problems


def cache_file() -> Path | None:
    if os.environ.get("SOP_NO_CACHE"):
        return None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base, "sop", CACHE_NAME)


def _signature(path: str) -> list[int]:
    return list(version_of(path))  # a list: the cache is JSON


def _header() -> list[Any]:
    """What every cached entry depends on besides its file: sop's version and the code that
    turns a file into a row (every module of the format wing, the model and the errors), found
    by listing the folders rather than naming files, so a new or renamed module counts too."""
    fmt = os.path.dirname(__file__)
    core = os.path.dirname(fmt)
    own = sorted(os.path.join(fmt, name) for name in os.listdir(fmt) if name.endswith(".py"))
    modules = [*own, *(os.path.join(core, name) for name in ("model.py", "errors.py", "files.py"))]
    return [__version__, *(_signature(m) for m in modules)]


class _Cache:
    def __init__(self, file: Path | None, entries: dict[str, Any]) -> None:
        self.file = file
        self.entries = entries
        self.changed = False

    @classmethod
    def open(cls) -> _Cache:
        file = cache_file()
        entries: dict[str, Any] = {}
        if file is not None:
            try:
                data = json.loads(read_regular_file(file, MAX_CACHE_BYTES))
                if data.get("header") == _header():
                    entries = data["entries"]
            except (FileReadError, ValueError, TypeError, KeyError, AttributeError):
                pass  # no cache yet, or not one this sop wrote: load the files
        return cls(file, entries if isinstance(entries, dict) else {})

    def row(self, path: Path) -> Row | None:
        entry = self.entries.get(os.path.abspath(path))
        try:
            if entry is None or entry["sig"] != _signature(str(path)):
                return None
            tasks = entry["tasks"]
            if tasks is not None and tasks[1] != _signature(tasks[0]):
                return None
            return Row(
                entry["id"],
                entry["title"],
                entry["phase"],
                entry["owner"],
                entry["reviewed"],
                tuple(entry["tags"]),
                tuple(entry["alerts"]),
                path,
            )
        except (OSError, KeyError, TypeError, IndexError):
            return None

    def load(self, path: Path) -> Row:
        """Load the file itself; remember its row unless it changed a moment ago. The file is
        stat'ed before it is read: a change after that shows as a new signature next time."""
        from sop.format.loader import (
            load_sop,  # with PyYAML: only for a file the cache cannot vouch for
        )

        signature = _signature_or_none(str(path))
        try:
            sop = load_sop(path)
        except SopFileError as exc:
            raise _Broken(exc.problems) from None
        reviewed = None if sop.reviewed is None else str(sop.reviewed)
        row = Row(sop.id, sop.title, sop.phase, sop.owner, reviewed, sop.tags, sop.alerts, path)
        tasks = None if sop.tasks is None else _signature_or_none(str(sop.tasks))
        if _trusted(signature) and (sop.tasks is None or _trusted(tasks)):
            self.entries[os.path.abspath(path)] = {
                "sig": signature,
                "tasks": None if sop.tasks is None else [str(sop.tasks), tasks],
                **{k: v for k, v in row._asdict().items() if k != "path"},
            }
            self.changed = True
        return row

    def save(self) -> None:
        if self.file is None or not self.changed:
            return
        entries = self.entries if len(self.entries) <= MAX_ENTRIES else {}
        try:
            self.file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            tmp = self.file.with_name(f".{self.file.name}.{os.getpid()}")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "w") as handle:
                json.dump({"header": _header(), "entries": entries}, handle)
            os.replace(tmp, self.file)
        except OSError:
            pass  # a read-only or full home: the next listing loads the files again


def _signature_or_none(path: str) -> list[int] | None:
    try:
        return _signature(path)
    except OSError:
        return None


def _trusted(signature: list[int] | None) -> bool:
    """A signature that will tell a later change: taken, and not racily clean."""
    return signature is not None and time.time_ns() - max(signature[3:]) >= RACY_NS
