"""Ansible inventories read as sop inventories: YAML (`all: {hosts:, children:, vars:}`), INI
(`[group]`, `[group:children]`, `[group:vars]`, `host key=value ...`) and the `--list` JSON a
dynamic inventory prints (`_meta.hostvars` included).

Each form is read into the same `Groups` (groups with their hosts, children and variables, every
value with its place), and one builder turns that into an `Inventory`. Only the connection
variables sop uses are read (`ansible_host`, `ansible_port`, `ansible_user`,
`ansible_ssh_private_key_file`); another `ansible_*` variable is ignored with a note; a password
(`ansible_password`, `ansible_become_pass`, ...) is refused: secrets do not belong in an
inventory. A host's variables win over its groups', a group's over `all`'s. A name with a range
(`web[01:03]`) stands for every name of the range."""

from __future__ import annotations

import json
import re
import string
from dataclasses import field
from typing import TYPE_CHECKING

from sop.errors import Location, Problem, SopFileError
from sop.format import yamlnodes
from sop.model import Host, Inventory
from sop.records import dataclass
from sop.text import first_unsafe

if TYPE_CHECKING:
    from pathlib import Path

# what sop reads, as Host's fields; the `ansible_ssh_*` names are Ansible's older spellings
CONNECTION = {
    "ansible_host": "address",
    "ansible_ssh_host": "address",
    "ansible_port": "port",
    "ansible_ssh_port": "port",
    "ansible_user": "user",
    "ansible_ssh_user": "user",
    "ansible_ssh_private_key_file": "identity_file",
}
REFUSED = frozenset(
    {
        "ansible_password",
        "ansible_ssh_pass",
        "ansible_become_pass",
        "ansible_become_password",
        "ansible_sudo_pass",
    }
)
HOST_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")  # as sop's inventory schema says
ADDRESS = re.compile(r"[^-\s]\S*")
_RANGE = re.compile(r"\[([0-9]+|[a-z]):([0-9]+|[a-z])(?::([0-9]+))?\]")
_SECTION = re.compile(r"\[([^\]:\s]+)(?::(children|vars))?\]\s*")

Value = tuple[object, Location]


@dataclass
class Group:
    where: Location
    hosts: dict[str, dict[str, Value]] = field(default_factory=dict)
    children: list[str] = field(default_factory=list)
    vars: dict[str, Value] = field(default_factory=dict)


@dataclass
class Groups:
    """An Ansible inventory as read, before it becomes sop's."""

    name: str
    groups: dict[str, Group] = field(default_factory=dict)
    hostvars: dict[str, dict[str, Value]] = field(default_factory=dict)  # `_meta.hostvars`
    problems: list[Problem] = field(default_factory=list)

    def group(self, name: str, where: Location) -> Group:
        if name not in self.groups:
            self.groups[name] = Group(where=where)
        return self.groups[name]


# --- telling the forms apart ------------------------------------------------------------------

SOP_KEYS = frozenset({"defaults", "hosts", "groups"})


def is_ini(text: str) -> bool:
    """An INI inventory: its first line that says something is a `[group]` header."""
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith(("#", ";")):
            return stripped.startswith("[") and _SECTION.fullmatch(stripped) is not None
    return False


def is_ansible_yaml(root: yamlnodes.Map) -> bool:
    """An Ansible YAML inventory: `all:` at the top, or no key of sop's own format."""
    return "all" in root.entries or not SOP_KEYS & root.entries.keys()


# --- reading each form --------------------------------------------------------------------------


def read_yaml(root: yamlnodes.Map, name: str) -> Groups:
    found = Groups(name)
    for group_name, node in root.entries.items():
        _yaml_group(found, group_name, node, group_name, root.key_where[group_name])
    return found


def _yaml_group(found: Groups, name: str, node: yamlnodes.Node, path: str, at: Location) -> None:
    group = found.group(name, at)
    if isinstance(node, yamlnodes.Scalar) and node.value is None:
        return  # `web:` with nothing under it: an empty group
    if not isinstance(node, yamlnodes.Map):
        found.problems.append(Problem(node.where, path, f"a group is a mapping, not a {node.kind}"))
        return
    for key, value in node.entries.items():
        where = node.key_where[key]
        if key == "hosts":
            for host, host_vars in _mapping(found, value, f"{path}.hosts").items():
                for expanded in _names(found, host, where, f"{path}.hosts"):
                    group.hosts[expanded] = _yaml_vars(found, host_vars, f"{path}.hosts.{host}")
        elif key == "children":
            for child, child_node in _mapping(found, value, f"{path}.children").items():
                group.children.append(child)
                _yaml_group(found, child, child_node, f"{path}.children.{child}", where)
        elif key == "vars":
            group.vars.update(_yaml_vars(found, value, f"{path}.vars"))
        else:
            found.problems.append(
                Problem(where, f"{path}.{key}", "a group has hosts, children and vars only")
            )


def _mapping(found: Groups, node: yamlnodes.Node, path: str) -> dict[str, yamlnodes.Node]:
    if isinstance(node, yamlnodes.Scalar) and node.value is None:
        return {}
    if isinstance(node, yamlnodes.Map):
        return node.entries
    found.problems.append(Problem(node.where, path, f"expected a mapping, not a {node.kind}"))
    return {}


def _yaml_vars(found: Groups, node: yamlnodes.Node, path: str) -> dict[str, Value]:
    return {
        key: (value.value if isinstance(value, yamlnodes.Scalar) else None, value.where)
        for key, value in _mapping(found, node, path).items()
    }


def read_ini(text: str, name: str) -> Groups:
    found = Groups(name)
    section, kind = "ungrouped", ""
    for number, line in enumerate(text.splitlines(), start=1):
        unsafe = first_unsafe(line)
        if unsafe is not None:
            where = Location(name, number, unsafe.at + 1)
            found.problems.append(Problem(where, "", f"{unsafe.kind} is not allowed here"))
            continue
        stripped = line.strip()
        if not stripped or stripped.startswith(("#", ";")):
            continue
        col = len(line) - len(line.lstrip()) + 1
        where = Location(name, number, col)
        if stripped.startswith("["):
            header = _SECTION.fullmatch(stripped)
            if header is None:
                found.problems.append(
                    Problem(
                        where,
                        "",
                        f"'{stripped}' is not a [group], [group:children] or [group:vars] header",
                    )
                )
                continue
            section, kind = header[1], header[2] or ""
            found.group(section, where)
            continue
        group = found.group(section, where)
        if kind == "children":
            group.children.append(stripped)
            found.group(stripped, where)
        elif kind == "vars":
            key, sep, value = stripped.partition("=")
            if not sep:
                found.problems.append(Problem(where, f"{section}:vars", "expected NAME=VALUE"))
                continue
            group.vars[key.strip()] = (_ini_value(value.strip()), where)
        else:
            host, *assignments = stripped.split()
            host_vars: dict[str, Value] = {}
            for assignment in assignments:
                key, sep, value = assignment.partition("=")
                if not sep:
                    found.problems.append(Problem(where, host, f"'{assignment}' is not NAME=VALUE"))
                    continue
                host_vars[key] = (
                    _ini_value(value),
                    Location(name, number, line.index(assignment) + 1),
                )
            for expanded in _names(found, host, where, section):
                group.hosts[expanded] = host_vars
    return found


def _ini_value(text: str) -> object:
    """A value as Ansible's INI reader gives it: a number is a number, quotes are taken off."""
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return int(text) if text.isdigit() else text


def read_list_json(text: str, name: str) -> Groups:
    """The output of a dynamic inventory's `--list`: groups (a mapping with hosts, children and
    vars, or a bare list of hosts) and `_meta.hostvars`."""
    found = Groups(name)
    where = Location(name)
    try:
        data = json.loads(text)
    except ValueError as exc:
        found.problems.append(Problem(where, "", f"not the JSON of an inventory: {exc}"))
        return found
    if not isinstance(data, dict):
        found.problems.append(Problem(where, "", "the JSON must be an object of groups"))
        return found
    for group_name, body in data.items():
        if group_name == "_meta":
            hostvars = body.get("hostvars", {}) if isinstance(body, dict) else {}
            for host, host_vars in hostvars.items() if isinstance(hostvars, dict) else ():
                found.hostvars[host] = _json_vars(found, host_vars, f"_meta.hostvars.{host}", where)
            continue
        group = found.group(group_name, where)
        if isinstance(body, list):
            body = {"hosts": body}
        if not isinstance(body, dict):
            found.problems.append(Problem(where, group_name, "a group is an object or a list"))
            continue
        for host in _json_list(found, body.get("hosts", []), f"{group_name}.hosts", where):
            group.hosts[host] = {}
        for child in _json_list(found, body.get("children", []), f"{group_name}.children", where):
            group.children.append(child)
            found.group(child, where)
        group.vars.update(_json_vars(found, body.get("vars", {}), f"{group_name}.vars", where))
    return found


def _json_list(found: Groups, value: object, path: str, where: Location) -> list[str]:
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    found.problems.append(Problem(where, path, "expected a list of names"))
    return []


def _json_vars(found: Groups, value: object, path: str, where: Location) -> dict[str, Value]:
    if not isinstance(value, dict):
        found.problems.append(Problem(where, path, "expected an object of variables"))
        return {}
    return {key: (v, where) for key, v in value.items()}


# --- names with ranges --------------------------------------------------------------------------


def _names(found: Groups, pattern: str, where: Location, path: str) -> list[str]:
    """`web[01:03]` -> web01, web02, web03 (`[a:c]` letters, `[1:9:2]` a stride); every name
    checked as sop's inventory checks host names."""
    match = _RANGE.search(pattern)
    if match is None:
        if not HOST_NAME.fullmatch(pattern):
            found.problems.append(
                Problem(
                    where,
                    path,
                    f"'{pattern}' is not a host name sop accepts (letters, digits, '.', '-', "
                    "'_'; a range as [01:03] or [a:c])",
                )
            )
            return []
        return [pattern]
    first, last, stride = match[1], match[2], int(match[3] or 1)
    if first.isdigit() != last.isdigit() or stride < 1:
        found.problems.append(Problem(where, path, f"'{match[0]}' is not a range sop reads"))
        return []
    if first.isdigit():
        width = len(first) if first.startswith("0") else 0
        values = [str(n).zfill(width) for n in range(int(first), int(last) + 1, stride)]
    else:
        letters = string.ascii_lowercase
        values = list(letters[letters.index(first) : letters.index(last) + 1 : stride])
    if not values:
        found.problems.append(Problem(where, path, f"the range '{match[0]}' is empty"))
        return []
    head, tail = pattern[: match.start()], pattern[match.end() :]
    return [name for v in values for name in _names(found, head + v + tail, where, path)]


# --- building sop's inventory -------------------------------------------------------------------


def build(found: Groups, path: Path) -> Inventory:
    """The sop inventory of what was read; every problem at once as a `SopFileError`."""
    problems = found.problems
    notes: dict[str, list[str]] = {}
    order = _group_order(found)
    hosts: dict[str, dict[str, Value]] = {}
    for group_name in order:  # `all` first: a group's variables win over `all`'s
        group = found.groups[group_name]
        for host, host_vars in group.hosts.items():
            merged = hosts.setdefault(host, {})
            merged.update(host_vars)
    members = {name: _members(found, name, ()) for name in order}
    members["all"] = set(hosts)  # Ansible's `all` holds every host, listed there or not
    for host in hosts:
        combined: dict[str, Value] = {}
        for group_name in order:
            if host in members[group_name]:
                combined.update(found.groups[group_name].vars)
        for group_name in order:
            combined.update(found.groups[group_name].hosts.get(host, {}))
        combined.update(found.hostvars.get(host, {}))
        hosts[host] = combined
    made: dict[str, Host] = {}
    for host, host_vars in hosts.items():
        fields: dict[str, object] = {}
        for key, (value, where) in host_vars.items():
            if key in REFUSED:
                problems.append(
                    Problem(
                        where,
                        f"{host}.{key}",
                        "a password does not belong in an inventory: use an SSH key or agent, "
                        "and a secret input for what a step needs",
                    )
                )
            elif key in CONNECTION:
                fields[CONNECTION[key]] = _checked(
                    problems, CONNECTION[key], value, where, host, key
                )
            elif key.startswith("ansible_"):
                notes.setdefault(key, []).append(host)
        made[host] = Host(
            name=host,
            address=str(fields.get("address") or host),
            user=str(fields["user"]) if fields.get("user") else None,
            port=int(str(fields.get("port") or 22)),
            identity_file=str(fields["identity_file"]) if fields.get("identity_file") else None,
        )
    if problems:
        raise SopFileError(problems)
    groups = {
        name: tuple(dict.fromkeys([*group.hosts, *group.children]))
        for name, group in found.groups.items()
    }
    groups["all"] = tuple(made)  # Ansible's `all`: every host, whatever the file says
    return Inventory(
        hosts=made,
        groups=groups,
        path=path,
        sources=(str(path),),
        notes=tuple(
            f"{found.name}: {key} is not used by sop, ignored ({', '.join(names)})"
            for key, names in notes.items()
        ),
    )


def _group_order(found: Groups) -> list[str]:
    """Groups from the least to the most specific: `all`, then each group before its children."""
    depth: dict[str, int] = {}

    def visit(name: str, level: int, trail: tuple[str, ...]) -> None:
        if name in trail or depth.get(name, -1) >= level:
            return
        depth[name] = level
        for child in found.groups[name].children:
            visit(child, level + 1, (*trail, name))

    for name in found.groups:
        visit(name, 1 if name != "all" else 0, ())
    return sorted(found.groups, key=lambda name: depth.get(name, 0))


def _members(found: Groups, name: str, trail: tuple[str, ...]) -> set[str]:
    if name in trail:
        return set()
    group = found.groups[name]
    members = set(group.hosts)
    for child in group.children:
        members |= _members(found, child, (*trail, name))
    return members


def _checked(
    problems: list[Problem], field_name: str, value: object, where: Location, host: str, key: str
) -> object:
    if field_name == "port":
        if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 65535:
            return value
        if isinstance(value, str) and value.isdigit() and 1 <= int(value) <= 65535:
            return int(value)
        problems.append(Problem(where, f"{host}.{key}", f"'{value}' is not a port (1-65535)"))
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)  # `ansible_user=1000` in INI, `ansible_host: 10` in YAML
    if not isinstance(value, str) or not value:
        problems.append(Problem(where, f"{host}.{key}", "expected a string"))
        return None
    if field_name == "address" and not ADDRESS.fullmatch(value):
        problems.append(
            Problem(where, f"{host}.{key}", "an address cannot begin with '-' or contain spaces")
        )
        return None
    return value
