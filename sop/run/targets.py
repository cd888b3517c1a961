"""Where a step runs: `on:` names (hosts, groups, `local`) rendered, checked and resolved
against the inventory.

A target the SOP writes literally (`on: web`) is the author's word. A target built from a
template (`on: "{{ host }}"`) is run data: an input, an answer or a host's captured output
decides it. Such a target must name exactly one host of the inventory, unless the `on_data:`
beside it allows a group or `local`: a host's output or a typo cannot send a step to the
responder's machine or to a whole fleet."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from sop import templating
from sop.errors import SopError
from sop.model import LOCAL, LOCAL_HOST, Host, Inventory

HOST_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")  # as the inventory's schema says
_TEMPLATE_MARKS = ("{{", "{%", "{#")
_VISIBLE = str.maketrans({"\n": "\\n", "\t": "\\t", "\r": "\\r"})


class TargetError(SopError):
    """A target that the inventory does not define, a group that contains itself, or a target
    from run data that names more than its step allows."""


def is_data_target(source: str) -> bool:
    """True when a template builds the target: its value comes from the run."""
    return any(mark in source for mark in _TEMPLATE_MARKS)


def render_targets(
    sources: Sequence[str],
    variables: Mapping[str, Any],
    inventory: Inventory | None,
    *,
    allow: Collection[str] = (),
    simulate: bool = False,
) -> tuple[str, ...]:
    """The `on:` entries rendered. Each one built from a template must give one host of the
    inventory, or what `allow` (its `on_data:`) adds: `group`, `local`. Checked at every
    rendering: a capture or an answer changes between steps and between attempts."""
    names = []
    for source in sources:
        if not is_data_target(source):
            names.append(source)
            continue
        value = templating.placeholder_in(templating.render(source, variables).strip(), variables)
        if isinstance(value, templating.Placeholder):  # a dry run's answer or capture
            names.append(value)
            continue
        _check_data_target(source, value, inventory, allow, simulate)
        names.append(value)
    return tuple(names)


def _check_data_target(
    source: str,
    value: str,
    inventory: Inventory | None,
    allow: Collection[str],
    simulate: bool,
) -> None:
    hosts = inventory.hosts if inventory else {}
    groups = inventory.groups if inventory else {}
    if value in hosts and value != LOCAL:
        return
    if value == LOCAL:
        if "local" in allow:
            return
        what, hint = "the responder's machine", "; `on_data: local` allows it"
    elif value in groups:
        if "group" in allow:
            return
        what, hint = "a group", "; `on_data: group` allows a group"
    elif not HOST_NAME.fullmatch(value):
        what, hint = "not one host name", ""
    elif simulate:
        return  # a simulated drill makes up the host; nothing connects to it
    elif inventory is None:
        what, hint = (
            "and there is no inventory",
            ": add runbooks/inventory.yaml or pass --inventory",
        )
    else:
        where = f" of {inventory.path}" if inventory.path else ""
        what, hint = f"not a host{where}", ""
    shown = (value if len(value) <= 60 else value[:57] + "...").translate(_VISIBLE)
    raise TargetError(
        f"target '{source}' is '{shown}' ({what}): a target built from run data (inputs, "
        f"answers, captures) must name one host of the inventory{hint}"
    )


def resolve_targets(
    names: Sequence[str], inventory: Inventory | None, *, simulate: bool = False
) -> tuple[Host, ...]:
    """Hosts in the order named, groups expanded (recursively), each host once. A simulated
    drill makes up hosts the inventory does not know (nothing will connect to them)."""
    hosts: dict[str, Host] = {}
    for name in names:
        if isinstance(name, templating.Placeholder):  # a dry run shows it, connects nowhere
            hosts.setdefault(name, Host(name=name, address="placeholder.invalid"))
            continue
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
