"""`sop init`: a new SOP library from the example the package carries (sop/examples/library).

DIR/runbooks/demo.yaml        the demo SOP with a drill scenario (the repository's runbooks/demo.yaml),
                              reviewed today: the team adopting it is its reviewer now
DIR/runbooks/inventory.yaml   hosts and groups to replace with your own
DIR/runbooks/tasks.py         one invoke task, to show how steps call Python
DIR/.pre-commit-config.yaml   `sop lint --strict` on the SOPs a commit changes
DIR/.vscode/sop.schema.json   the JSON Schema of this sop's SOP format (`sop schema`)
DIR/.vscode/settings.json     maps runbooks/*.yaml to that schema (the YAML extension)

A file that exists is never touched, whatever it is (a symbolic link too): it is skipped and
reported, so running `sop init` again only adds what is missing.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path, PurePosixPath

from sop.errors import SopError
from sop.format.sopfiles import SUFFIXES
from sop.records import dataclass

SCHEMA_FILE = ".vscode/sop.schema.json"
SETTINGS_FILE = ".vscode/settings.json"
SOP_FILES = ("runbooks/**/*.yaml", "runbooks/**/*.yml")
NOT_SOP_FILES = ("!runbooks/**/inventory.y*ml", "!runbooks/**/scenarios/**")
REVIEWED = re.compile(rb"^reviewed: .*$", re.MULTILINE)


class ScaffoldError(SopError):
    """The library cannot be made there."""


@dataclass(frozen=True)
class Scaffold:
    """What `scaffold_library` did: files written and files left as they were, relative to
    the library's folder."""

    root: Path
    written: tuple[PurePosixPath, ...]
    skipped: tuple[PurePosixPath, ...]


def example_library() -> Traversable:
    """The example library inside the installed package."""
    return files("sop") / "examples" / "library"


def library_files(today: dt.date) -> dict[PurePosixPath, bytes]:
    """Every file `sop init` writes, by path in the library, with its content."""
    from sop.format.schema import json_schema

    out = {}
    for path, item in _walk(example_library(), PurePosixPath()):
        content = item.read_bytes()
        if path.suffix in SUFFIXES:
            content = REVIEWED.sub(f"reviewed: {today.isoformat()}".encode(), content)
        out[path] = content
    out[PurePosixPath(SCHEMA_FILE)] = _json(json_schema())
    settings = {"yaml.schemas": {f"./{SCHEMA_FILE}": [*SOP_FILES, *NOT_SOP_FILES]}}
    out[PurePosixPath(SETTINGS_FILE)] = _json(settings)
    return dict(sorted(out.items()))


def scaffold_library(root: Path, today: dt.date) -> Scaffold:
    """Write the example library into `root` (made if missing), skipping every file that
    exists."""
    if root.exists() and not root.is_dir():
        raise ScaffoldError(f"{root} is not a folder")
    written: list[PurePosixPath] = []
    skipped: list[PurePosixPath] = []
    for relative, content in library_files(today).items():
        path = root.joinpath(*relative.parts)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ScaffoldError(f"cannot make the folder {path.parent}: {exc.strerror}") from None
        try:
            with path.open("xb") as out:  # O_EXCL: never through a link, never over a file
                out.write(content)
        except FileExistsError:
            skipped.append(relative)
        except OSError as exc:
            raise ScaffoldError(f"cannot write {path}: {exc.strerror}") from None
        else:
            written.append(relative)
    return Scaffold(root, tuple(written), tuple(skipped))


def _walk(folder: Traversable, at: PurePosixPath) -> Iterator[tuple[PurePosixPath, Traversable]]:
    for item in sorted(folder.iterdir(), key=lambda i: i.name):
        if item.name == "__pycache__":
            continue
        if item.is_dir():
            yield from _walk(item, at / item.name)
        else:
            yield at / item.name, item


def _json(data: object) -> bytes:
    return (json.dumps(data, indent=2) + "\n").encode()
