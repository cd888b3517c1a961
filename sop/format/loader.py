"""Turn an SOP file into a frozen `Sop`: bytes -> YAML nodes -> schema check -> model.

Every problem of a file is collected and raised together as one `SopFileError`.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

from sop.errors import Location, Problem, SopFileError
from sop.files import special_kind, version_of
from sop.format import schema, yamlnodes
from sop.format.schemakit import BAD, Checked, Keyed
from sop.model import (
    BACK_MAX,
    LOCAL,
    DrillResult,
    DrillScenario,
    Host,
    Input,
    Inventory,
    Link,
    Option,
    Section,
    Sop,
    Step,
)


def display_path(path: Path) -> str:
    """The path as a responder would type it: relative to the working directory when inside it.
    A relative path that does not climb out (`..`) is that already, as given (resolving it
    costs a `stat` per component: a twentieth of linting a library). Otherwise its folder is
    resolved, once per folder; the file keeps its own name (a symbolic link is shown as the
    link, as it was typed)."""
    if ".." not in path.parts:
        if not path.is_absolute():
            return str(path)
        path = _resolved(str(path.parent)) / path.name
    else:
        path = path.resolve()
    try:
        return str(path.relative_to(_resolved(os.getcwd())))
    except ValueError:
        return str(path)


@functools.lru_cache(maxsize=64)
def _resolved(folder: str) -> Path:
    """A folder with symbolic links resolved, once per folder (not once per file)."""
    return Path(folder).resolve()


def read_document(path: Path) -> tuple[yamlnodes.Map, str, str]:
    """Read and parse one YAML file: its root node, display name and SHA-256."""
    name = display_path(path)
    data = yamlnodes.read_bytes(path, name)
    text = yamlnodes.decode(data, name)
    root = yamlnodes.parse(text, name)
    if root is None:
        raise SopFileError(
            [Problem(Location(name, 1, 1), "", "the file is empty; an SOP is a YAML mapping")]
        )
    if not isinstance(root, yamlnodes.Map):
        raise SopFileError(
            [Problem(root.where, "", f"the top level must be a mapping of keys, not a {root.kind}")]
        )
    return root, name, _sha256(data)


def _sha256(data: bytes) -> str:
    """SHA-256 from CPython's own implementation when it is there: `hashlib` loads OpenSSL
    (about 3 ms) and `sop list` needs one digest per file, not a crypto library."""
    try:
        from _sha256 import sha256  # type: ignore[import-not-found]
    except ImportError:  # pragma: no cover - an interpreter built without it
        from hashlib import sha256
    return str(sha256(data).hexdigest())


def load_sop(path: Path) -> Sop:
    """Load and validate one SOP file. Raises `SopFileError` with every problem found."""
    root, name, digest = read_document(path)
    problems: list[Problem] = []
    checked = schema.SOP.check(root, "", problems)
    _check_unique_ids(root, problems)
    if checked is BAD or problems:
        raise SopFileError(sorted(problems, key=_order))
    sop = _build_sop(checked, path, name, digest, problems)
    if problems:
        raise SopFileError(sorted(problems, key=_order))
    return sop


def _order(problem: Problem) -> tuple[int, int]:
    return (problem.where.line, problem.where.col)


def _build_sop(c: Checked, path: Path, name: str, digest: str, problems: list[Problem]) -> Sop:
    steps, sections = _build_steps(c.get("steps"), "steps", "step")
    rollback, _ = _build_steps(c.get("rollback", []), "rollback", "rollback")
    _check_sections(sections, steps, rollback, problems)
    tasks = _tasks_path(c, path, problems)
    return Sop(
        id=c.values["id"],
        title=c.values["title"],
        path=path,
        sha256=digest,
        version=c.values["sop"],
        summary=c.get("summary", ""),
        owner=c.get("owner"),
        severity=c.get("severity"),
        phase=c.get("phase"),
        tags=tuple(c.get("tags", ())),
        alerts=tuple(c.get("alerts", ())),
        reviewed=c.get("reviewed"),
        target_minutes=c.get("target_minutes"),
        tasks=tasks,
        inputs=tuple(_build_input(k, v) for k, v in c.get("inputs", {}).items()),
        on=tuple(c.get("on", (LOCAL,))),
        on_data=tuple(c.get("on_data", ())),
        roles=tuple(c.get("roles", ())),
        context=c.get("context", ""),
        impact=c.get("impact", ""),
        links=_build_links(c.get("links", ())),
        steps=steps,
        rollback=rollback,
        sections=sections,
        scenarios={name: _build_scenario(name, v) for name, v in c.get("scenarios", {}).items()},
        status_updates=_status_updates(c.get("status_updates")),
        where=c.where,
        locs=c.locs,
    )


def _status_updates(value: float | dict[str, float] | None) -> dict[str, float]:
    """`status_updates: 30m` is every severity's ("" in the record), a mapping by severity."""
    if value is None:
        return {}
    return dict(value) if isinstance(value, dict) else {"": value}


def _build_steps(
    items: list[Any], list_key: str, default_prefix: str
) -> tuple[tuple[Step, ...], tuple[Section, ...]]:
    """Flatten headings into each step's `section` and `section_id`; number the steps from 1."""
    section: Section | None = None
    sections: list[Section] = []
    steps: list[Step] = []
    for index, item in enumerate(items):
        if "heading" in item.values:
            section = _build_section(item, len(sections) + 1, f"{list_key}[{index}]")
            sections.append(section)
            continue
        step = _build_step(item, len(steps) + 1, section, default_prefix, f"{list_key}[{index}]")
        steps.append(step._replace(section_note=section.note) if section and section.note else step)
    return tuple(steps), tuple(sections)


def _build_section(c: Checked, number: int, path: str) -> Section:
    v = c.values
    repeat = v.get("repeat")
    return Section(
        id=v.get("id", f"section-{number}"),
        title=v["heading"],
        note=v.get("note", ""),
        when=v.get("when"),
        phase=v.get("phase"),
        until=repeat.values["until"] if repeat else None,
        max=repeat.values["max"] if repeat else 1,
        path=path,
        where=c.where,
        locs=c.locs,
    )


def _check_sections(
    sections: tuple[Section, ...],
    steps: tuple[Step, ...],
    rollback: tuple[Step, ...],
    problems: list[Problem],
) -> None:
    """A decision names sections that exist (rollback has none). (Section ids are unique with
    the step ids: `_check_unique_ids`.)"""
    seen = {section.id: section for section in sections}
    for step in steps:
        named = [(f"options.{o.label}", o.goto) for o in step.options]
        for key, goto in [*named, ("else", step.otherwise)]:
            for target in goto:
                if target not in seen:
                    known = ", ".join(seen) or "none: give a heading an `id:`"
                    problems.append(
                        Problem(
                            step.locs.get(key.split(".")[0], step.where),
                            f"{step.path}.{key}",
                            f"no section has the id '{target}' (sections: {known})",
                        )
                    )
    for step in rollback:
        if step.kind == "decide":
            problems.append(
                Problem(
                    step.where,
                    step.path,
                    "a decide step chooses among sections; rollback has none",
                )
            )


def _build_links(items: Any) -> tuple[Link, ...]:
    return tuple(Link(x.values["title"], x.values["url"]) for x in items)


def _build_step(
    c: Checked, number: int, section: Section | None, default_prefix: str, path: str
) -> Step:
    v = c.values  # read directly: ~20 keys for each of thousands of steps
    kind = next(k for k in ("prose", "run", "script", "task", "call", "decide") if k in v)
    drill = v.get("drill")
    ask = v.get("ask")
    confirm = v.get("confirm", "auto")
    typed = not isinstance(confirm, str)  # `confirm: {type: WORD}`
    return Step(
        id=v.get("id", f"{default_prefix}-{number}"),
        kind=kind,
        body=v[kind],
        number=number,
        path=path,
        title=v.get("title", ""),
        note=v.get("note", ""),
        links=_build_links(v["links"]) if "links" in v else (),
        alerts=tuple(v.get("alerts", ())),
        section=section.title if section else "",
        section_id=section.id if section else "",
        options=tuple(Option(label, tuple(goto)) for label, goto in v.get("options", {}).items()),
        otherwise=tuple(v.get("else", ())),
        max_back=v.get("max", BACK_MAX),
        on=tuple(v["on"]) if "on" in v else None,
        on_data=tuple(v.get("on_data", ())),
        secrets=tuple(v.get("secrets", ())),
        confirm="typed" if typed else confirm,
        confirm_word=confirm.values["type"] if typed else "",
        ok_exit=tuple(v.get("ok_exit", (0,))),
        when=v.get("when"),
        capture=v.get("capture"),
        timeout=v.get("timeout"),
        retries=v.get("retries", 0),
        delay=v.get("delay", 0.0),
        parallel=v.get("parallel", 10),
        canary=v.get("canary", 0),
        strict=v.get("strict", True),
        stdin=v.get("stdin"),
        interactive=v.get("interactive", False),
        role=v.get("role", ""),
        approval=v.get("approval", ""),
        acknowledge=dict(v.get("acknowledge", {})),
        ask=tuple(_build_input(k, q) for k, q in ask.items()) if ask else (),
        args=dict(v.get("args", {})),
        with_inputs=dict(v.get("with", {})),
        drill=DrillResult(**drill.values) if drill else None,
        where=c.where,
        locs=c.locs,
    )


def _build_scenario(name: str, c: Checked) -> DrillScenario:
    locs = {
        f"{key}.{k}": where
        for key in ("steps", "inputs", "answers")
        if isinstance(mapping := c.get(key), Keyed)
        for k, where in mapping.key_where.items()
    }
    return DrillScenario(
        name=name,
        summary=c.get("summary", ""),
        steps={
            step: tuple(DrillResult(**r.values) for r in results)
            for step, results in c.get("steps", {}).items()
        },
        unreachable=tuple(c.get("unreachable", ())),
        answers={step: tuple(answers) for step, answers in c.get("answers", {}).items()},
        inputs=dict(c.get("inputs", {})),
        locs=locs,
    )


def _build_input(name: str, c: Checked) -> Input:
    return Input(
        name=name,
        help=c.get("help", ""),
        type=c.get("type", "string"),
        required=c.get("required", False),
        default=c.get("default"),
        pattern=c.get("pattern"),
        choices=tuple(c.get("choices", ())),
        secret=c.get("secret", False),
        env=c.get("env"),
        allow_dash=c.get("allow_dash", False),
        drill=c.get("drill"),
        from_alert=c.get("from_alert"),
        command=tuple(c.get("command", ())),
        where=c.where,
        locs=c.locs,
    )


def _check_unique_ids(root: yamlnodes.Map, problems: list[Problem]) -> None:
    """Step ids are unique across `steps` and `rollback`, and with the sections' ids: the
    audit log and resume name a step or a section's pass by it (checked on the nodes, so that
    this problem is reported together with any schema problems)."""
    seen: dict[str, Location] = {}
    for list_key in ("steps", "rollback"):
        items = root.entries.get(list_key)
        if not isinstance(items, yamlnodes.Seq):
            continue
        for i, item in enumerate(items.items):
            node = item.entries.get("id") if isinstance(item, yamlnodes.Map) else None
            if not isinstance(node, yamlnodes.Scalar) or not isinstance(node.value, str):
                continue
            first = seen.setdefault(node.value, node.where)
            if first is not node.where:
                what = (
                    "id"
                    if isinstance(item, yamlnodes.Map) and "heading" in item.entries
                    else "step id"
                )
                problems.append(
                    Problem(
                        node.where,
                        f"{list_key}[{i}].id",
                        f"duplicate {what} '{node.value}' (first used at line {first.line})",
                    )
                )


def _tasks_path(c: Checked, path: Path, problems: list[Problem]) -> Path | None:
    value = c.get("tasks")
    if value is None:
        return None
    folder = path.resolve().parent
    target = (folder / value).resolve()
    where = c.locs["tasks"]
    if os.path.isabs(value) or not target.is_relative_to(folder):
        problems.append(
            Problem(
                where, "tasks", f"'{value}' is outside the SOP's folder; keep tasks beside the SOP"
            )
        )
    elif target.suffix != ".py":
        problems.append(Problem(where, "tasks", f"'{value}' is not a Python file (.py)"))
    elif not target.exists():
        problems.append(Problem(where, "tasks", f"'{value}' does not exist"))
    elif kind := special_kind(target):
        problems.append(Problem(where, "tasks", f"'{value}' is not a regular file ({kind})"))
    return Path(target)


# --- inventory --------------------------------------------------------------------------------


_INVENTORIES: dict[tuple[str, str], tuple[tuple[int, ...], Inventory]] = {}


def load_inventory(path: Path) -> Inventory:
    """Load an inventory of hosts and groups; groups may name hosts and other groups. An
    Ansible inventory (INI or YAML, told apart by content) is read as one (`format/ansible.py`).

    Read once per process while the file stays the same (`files.version_of`): a run's lint
    and its walk ask for the same file, and a 250-host inventory takes 15 ms to parse. Both
    then see one reading of it, not two."""
    key = (str(path), "" if path.is_absolute() else os.getcwd())
    try:
        version: tuple[int, ...] | None = version_of(path)
    except OSError:
        version = None
    cached = _INVENTORIES.get(key)
    if version is not None and cached is not None and cached[0] == version:
        return cached[1]
    inventory = _read_inventory(path)
    if version is not None:
        _INVENTORIES[key] = (version, inventory)
    return inventory


def _read_inventory(path: Path) -> Inventory:
    from sop.format import ansible

    name = display_path(path)
    text = yamlnodes.decode(yamlnodes.read_bytes(path, name), name)
    if ansible.is_ini(text):
        return ansible.build(ansible.read_ini(text, name), path)
    root = yamlnodes.parse(text, name)
    if isinstance(root, yamlnodes.Scalar) and isinstance(root.value, str):
        return ansible.build(ansible.read_ini(text, name), path)  # INI with ungrouped hosts first
    if root is None or not isinstance(root, yamlnodes.Map):
        root, _name, _digest = read_document(path)  # its error: empty, or not a mapping
    if ansible.is_ansible_yaml(root):
        return ansible.build(ansible.read_yaml(root, name), path)
    problems: list[Problem] = []
    checked = schema.INVENTORY.check(root, "", problems)
    if checked is BAD or problems:
        raise SopFileError(sorted(problems, key=_order))
    defaults = checked.get("defaults")
    base = defaults.values if defaults else {}
    hosts: dict[str, Host] = {}
    for host_name, host in checked.get("hosts", {}).items():
        merged = {**base, **host.values}
        hosts[host_name] = Host(
            name=host_name,
            address=merged.get("address", host_name),
            user=merged.get("user"),
            port=merged.get("port", 22),
            forward_agent=merged.get("forward_agent", False),
            identity_file=merged.get("identity_file"),
        )
    groups = checked.get("groups", {})
    group_nodes = root.entries.get("groups")
    for group, members in groups.items():
        for i, member in enumerate(members):
            if member not in hosts and member not in groups and member != LOCAL:
                assert isinstance(group_nodes, yamlnodes.Map)
                seq = group_nodes.entries[group]
                where = seq.items[i].where if isinstance(seq, yamlnodes.Seq) else seq.where
                problems.append(
                    Problem(
                        where, f"groups.{group}[{i}]", f"'{member}' is neither a host nor a group"
                    )
                )
    if problems:
        raise SopFileError(problems)
    return Inventory(
        hosts=hosts,
        groups={g: tuple(m) for g, m in groups.items()},
        path=path,
        sources=(str(path),),
    )
