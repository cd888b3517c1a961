"""Loading SOPs: a library of them, one by path or by id under `runbooks/` (or the folders in
`$SOP_PATH`), the SOP a step calls, the inventory beside them.

The loader (and with it PyYAML) is imported by the functions that load: finding the files
(sop/format/sopfiles.py) is all that `sop list` needs when its cache holds every SOP
(sop/format/listcache.py)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from sop.errors import NotFoundError, Problem, SopFileError, UsageError
from sop.format.gcpause import cycle_collector_paused
from sop.format.sopfiles import INVENTORY_NAMES, SUFFIXES, search_dirs, sop_files

if TYPE_CHECKING:
    from sop.format.inventories import RunDynamic
    from sop.model import Inventory, Sop


class Library(NamedTuple):
    """The SOPs that loaded, and the problems of those that did not."""

    sops: tuple[Sop, ...]
    problems: tuple[Problem, ...]
    files: int

    def by_id(self) -> dict[str, Sop]:
        return {s.id: s for s in self.sops}


def load_library(paths: Iterable[Path]) -> Library:
    from sop.format.loader import load_sop

    sops: list[Sop] = []
    problems: list[Problem] = []
    files = sop_files(paths)
    with cycle_collector_paused():
        for path in files:
            try:
                sops.append(load_sop(path))
            except SopFileError as exc:
                problems.extend(exc.problems)
    return Library(tuple(sops), tuple(problems), len(files))


def load_every_sop(paths: Iterable[Path]) -> tuple[Sop, ...]:
    """Every SOP under `paths`, for commands that need the whole library (render, coverage,
    stats, tabletop); `SopFileError` with every problem when any file fails to load."""
    library = load_library(paths)
    if library.problems:
        raise SopFileError(library.problems)
    return library.sops


def find_sop(ref: str) -> Path:
    """An SOP by path, or by id: `<dir>/<id>.yaml` first, then the file whose id matches. An id
    that two files of the search folders have is refused (`sop lint` reports both): which of
    them runs must never depend on the order of a folder listing."""
    path = Path(ref)
    if path.suffix in SUFFIXES or os.sep in ref:
        if not path.exists():  # anything else there: the loader says what it is
            raise NotFoundError(f"{ref}: no such SOP file")
        return path
    dirs = search_dirs()
    named = [d / f"{ref}{suffix}" for d in dirs for suffix in SUFFIXES]
    having = _files_with_id(ref, [d for d in dirs if d.is_dir()])
    if len(having) > 1:
        files = [str(p) for p in having]
        both = "both" if len(files) == 2 else "all"
        raise UsageError(
            f"SOP id '{ref}' is ambiguous: {', '.join(files[:-1])} and {files[-1]} {both} have "
            "it; give the path of the one you mean, and give each SOP its own id (sop lint)"
        )
    for candidate in named:
        if candidate.exists():
            return candidate
    if having:
        return having[0]
    where = ", ".join(str(d) for d in dirs)
    raise NotFoundError(f"no SOP with id '{ref}' in {where} (give a path, or set SOP_PATH)")


def _files_with_id(ref: str, dirs: list[Path]) -> list[Path]:
    """The files under `dirs` whose SOP has the id `ref`, from the `sop list` cache where it
    is still true (files that fail to load have no id)."""
    if not dirs:
        return []
    from sop.format.listcache import catalog

    return [row.path for row in catalog(dirs).rows if row.id == ref]


def find_inventory(
    sop_path: Path | None,
    explicit: Sequence[Path] = (),
    run_dynamic: RunDynamic | None = None,
) -> Inventory | None:
    """The inventory: the `--inventory` files merged (`format/inventories.py`; a dynamic one
    runs only through `run_dynamic`), else `inventory.yaml` beside the SOP or in the search
    folders, always read as data."""
    from sop.format.inventories import read_inventories
    from sop.format.loader import load_inventory

    if explicit:
        return read_inventories(explicit, run_dynamic)
    folders = ([sop_path.parent] if sop_path else []) + search_dirs()
    for folder in folders:
        for name in INVENTORY_NAMES:
            candidate = folder / name
            if candidate.exists():  # a FIFO or folder there is an error, not "no inventory"
                return load_inventory(candidate)
    return None


def find_called_sop(sop_id: str, caller: Path) -> Path:
    """The SOP a `call` step names: beside the calling SOP first, then as `find_sop` finds it."""
    for suffix in SUFFIXES:
        candidate = caller.parent / f"{sop_id}{suffix}"
        if candidate.exists():
            return candidate
    return find_sop(sop_id)
