"""The inventories a command names, read and merged into one.

`--inventory A --inventory B`: each file is read by its content (sop's YAML, Ansible's YAML or
INI: `load_inventory`), or, if it is an executable program (`#!` or an ELF binary), it is a
dynamic inventory: its `--list` JSON is read. A dynamic inventory is only ever one the operator
named, and it runs only when the caller gives `run_dynamic` (a real run does; lint, render,
drills and dry runs do not: an SOP folder from a pull request may hold the program). Later
inventories win per host; a host two of them define differently is noted."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from sop.errors import NotFoundError, SopError
from sop.files import FileReadError, read_regular_file
from sop.model import Host, Inventory

if TYPE_CHECKING:
    from pathlib import Path

RunDynamic = Callable[["Path"], str]  # a dynamic inventory's path -> what `--list` printed
_PROGRAM_MARKS = (b"#!", b"\x7fELF")


class InventoryError(SopError):
    """An inventory that cannot be used as named."""


def is_program(path: Path) -> bool:
    """A dynamic inventory: a file that starts as a script or an executable does."""
    try:
        head = read_regular_file(path, 1 << 20, str(path), "inventories")[:4]
    except FileReadError:
        return False  # the loader says what it is
    if not head.startswith(_PROGRAM_MARKS):
        return False
    if not os.access(path, os.X_OK):
        raise InventoryError(
            f"{path}: a program (it starts with '{head[:2].decode('latin-1')}') that is not "
            "executable; a dynamic inventory must be (chmod +x), a static one is YAML or INI"
        )
    return True


def read_inventories(paths: Sequence[Path], run_dynamic: RunDynamic | None) -> Inventory:
    """The inventories the operator named, merged; a dynamic one run by `run_dynamic`, or left
    unresolved without it."""
    from sop.format import ansible
    from sop.format.loader import display_path, load_inventory

    read: list[Inventory] = []
    for path in paths:
        if not path.exists():
            raise NotFoundError(f"{path}: no such inventory file")
        if not is_program(path):
            read.append(load_inventory(path))
        elif run_dynamic is None:
            read.append(Inventory(path=path, sources=(str(path),), unresolved=(str(path),)))
        else:
            name = f"{display_path(path)} --list"
            read.append(ansible.build(ansible.read_list_json(run_dynamic(path), name), path))
    return merge(read)


def merge(inventories: Sequence[Inventory]) -> Inventory:
    """Later inventories win per host (noted when they disagree); groups of the same name hold
    the members of each, as Ansible merges them."""
    if len(inventories) == 1:
        return inventories[0]
    hosts: dict[str, Host] = {}
    from_where: dict[str, str] = {}
    groups: dict[str, tuple[str, ...]] = {}
    notes: list[str] = []
    for inventory in inventories:
        source = inventory.named
        notes.extend(inventory.notes)
        for name, host in inventory.hosts.items():
            if name in hosts and hosts[name] != host:
                notes.append(
                    f"host {name}: {source} ({host.ssh_address}) overrides "
                    f"{from_where[name]} ({hosts[name].ssh_address})"
                )
            hosts[name] = host
            from_where[name] = source
        for name, members in inventory.groups.items():
            groups[name] = tuple(dict.fromkeys([*groups.get(name, ()), *members]))
    return Inventory(
        hosts=hosts,
        groups=groups,
        path=inventories[0].path,
        sources=tuple(s for i in inventories for s in i.sources),
        notes=tuple(notes),
        unresolved=tuple(u for i in inventories for u in i.unresolved),
    )
