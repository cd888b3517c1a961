"""Where a step runs: `on:` names (hosts, groups, `local`) resolved against the inventory."""

from __future__ import annotations

from collections.abc import Sequence

from sop.errors import SopError
from sop.model import LOCAL, LOCAL_HOST, Host, Inventory


class TargetError(SopError):
    """A target that the inventory does not define, or a group that contains itself."""


def resolve_targets(
    names: Sequence[str], inventory: Inventory | None, *, simulate: bool = False
) -> tuple[Host, ...]:
    """Hosts in the order named, groups expanded (recursively), each host once. A simulated
    drill makes up hosts the inventory does not know (nothing will connect to them)."""
    hosts: dict[str, Host] = {}
    for name in names:
        name = name.strip()
        known = inventory is not None and (name in inventory.hosts or name in inventory.groups)
        if simulate and name != LOCAL and not known:
            hosts.setdefault(name, Host(name=name, address="drill.invalid"))
            continue
        for host in _expand(name, inventory, ()):
            hosts.setdefault(host.name, host)
    return tuple(hosts.values())


def _expand(name: str, inventory: Inventory | None, trail: tuple[str, ...]) -> list[Host]:
    if name == LOCAL:
        return [LOCAL_HOST]
    if inventory is None:
        raise TargetError(
            f"target '{name}' needs an inventory: add runbooks/inventory.yaml or pass --inventory"
        )
    if name in inventory.hosts:
        return [inventory.hosts[name]]
    if name in inventory.groups:
        if name in trail:
            raise TargetError("group loop: " + " -> ".join((*trail, name)))
        out: list[Host] = []
        for member in inventory.groups[name]:
            out.extend(_expand(member, inventory, (*trail, name)))
        return out
    where = f" of {inventory.path}" if inventory.path else ""
    raise TargetError(f"target '{name}' is not a host or group{where}")
