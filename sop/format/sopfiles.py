"""Where SOP files are: the files named, or found below folders (default: `runbooks/`, or the
folders in `$SOP_PATH`). Only the file system is looked at: nothing is read or parsed here, so
both the loader (sop/format/discovery.py) and the `sop list` cache (listcache.py) stand on it."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from sop.errors import NotFoundError

DEFAULT_DIR = "runbooks"
INVENTORY_NAMES = ("inventory.yaml", "inventory.yml")
NOT_SOPS = ("scenarios",)  # folders of other YAML files (tabletop scenarios)
SUFFIXES = (".yaml", ".yml")


def search_dirs() -> list[Path]:
    """Where SOPs are looked up by id: `$SOP_PATH` (separated by ':'), else `./runbooks`."""
    value = os.environ.get("SOP_PATH", "")
    dirs = [Path(p) for p in value.split(os.pathsep) if p]
    return dirs or [Path(DEFAULT_DIR)]


def is_sop_file(path: Path) -> bool:
    return (
        path.suffix in SUFFIXES
        and path.name not in INVENTORY_NAMES
        and not path.name.startswith((".", "_"))
    )


def sop_files(paths: Iterable[Path]) -> list[Path]:
    """Every SOP file named or found below the given paths (default: the search folders)."""
    out: list[Path] = []
    for path in list(paths) or search_dirs():
        if path.is_dir():
            out.extend(_walk(path))
        elif path.parent.name in NOT_SOPS:
            continue  # a tabletop scenario named directly: `sop lint` checks it as one
        elif path.exists():
            out.append(path)
        else:
            raise NotFoundError(f"{path}: no such file or folder")
    return list(dict.fromkeys(out))


def _walk(folder: Path) -> Iterator[Path]:
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d not in NOT_SOPS and not d.startswith((".", "_")))
        for name in sorted(files):
            path = Path(root, name)
            if is_sop_file(path):
                yield path
