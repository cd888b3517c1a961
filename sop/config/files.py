"""Where the configuration files are, and each one read: its TOML as a mapping, its SHA-256, and
the line of each key (the standard library's reader gives values without places; errors must
name the `file:line` they are about)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import field
from pathlib import Path
from typing import Any

from sop.errors import Location, Problem, SopFileError
from sop.files import MIB, read_regular_file
from sop.records import dataclass

PROJECT_FILE = "sop.toml"
CONFIG_FILE_BYTES = MIB
_AT = re.compile(r"\s*\(at (?:line (\d+), column (\d+)|end of document)\)$")
_HEADER = re.compile(r"\s*(\[\[?)\s*([A-Za-z0-9_.\"' -]+?)\s*\]\]?\s*(?:#.*)?$")
_KEY = re.compile(r"\s*([A-Za-z0-9_-]+|\"[^\"]*\"|'[^']*')\s*=")


def user_config_path(environ: Mapping[str, str]) -> Path:
    """The user's own configuration: `$XDG_CONFIG_HOME/sop/config.toml` (default
    `~/.config/sop/config.toml`)."""
    base = environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "sop" / "config.toml"


def find_project_config(start: Path) -> Path | None:
    """The nearest `sop.toml` in `start` or a folder above it."""
    folder = start.resolve()
    for candidate in (folder, *folder.parents):
        path = candidate / PROJECT_FILE
        if path.is_file():
            return path
    return None


@dataclass(frozen=True)
class ConfigFile:
    """One configuration file as read: its tables, its SHA-256, and where each key is."""

    path: Path
    data: Mapping[str, Any]
    sha256: str
    lines: Mapping[tuple[str, int, str], int] = field(default_factory=dict)

    def where(self, table: str = "", index: int = 0, key: str = "") -> Location:
        """The place of `key` in the `index`th `[[table]]` (or `[table]`, or the top level
        with ""): its line, else the table's header, else the file."""
        line = self.lines.get((table, index, key)) or self.lines.get((table, index, ""), 0)
        return Location(str(self.path), line, 1 if line else 0)


def read_config_file(path: Path) -> ConfigFile:
    """Read and parse `path`; a file that is not TOML is a `SopFileError` at its line. (Its
    parser and hash are imported here: most commands find no configuration file.)"""
    import hashlib
    import tomllib

    raw = read_regular_file(path, CONFIG_FILE_BYTES, what="configuration files")
    try:
        text = raw.decode()
        data = tomllib.loads(text)
    except UnicodeDecodeError as exc:
        problem = Problem(Location(str(path), 1, 1), "", f"not UTF-8 text ({exc.reason})")
        raise SopFileError([problem]) from None
    except tomllib.TOMLDecodeError as exc:
        found = _AT.search(str(exc))
        if found and found[1]:
            where = Location(str(path), int(found[1]), int(found[2]))
        else:  # at the end of the document: the line after the last one
            where = Location(str(path), text.count("\n") + 1, 1)
        message = _AT.sub("", str(exc))
        raise SopFileError([Problem(where, "", f"not valid TOML: {message}")]) from None
    return ConfigFile(path, data, hashlib.sha256(raw).hexdigest(), key_lines(text))


def key_lines(text: str) -> dict[tuple[str, int, str], int]:
    """(table, index, key) -> line for every `key =` line, and (table, index, "") for each table
    header: `[[notify]]` tables are counted from 0, a `[table]` is index 0, the top level is
    table "". A plain scan of lines: enough to point at a key, not a TOML reader."""
    lines: dict[tuple[str, int, str], int] = {}
    counts: dict[str, int] = {}
    table, index = "", 0
    for number, line in enumerate(text.splitlines(), 1):
        header = _HEADER.match(line)
        if header:
            table = header[2].strip().strip("\"'")
            index = counts.get(table, -1) + 1 if header[1] == "[[" else 0
            counts[table] = index
            lines.setdefault((table, index, ""), number)
            continue
        key = _KEY.match(line)
        if key:
            lines.setdefault((table, index, key[1].strip("\"'")), number)
    return lines
