"""The effective team configuration: the user's file, then the project's (its values win), each
checked against the one declaration below. Unknown keys are errors at their `file:line` (a typo
must never pass silently). A project file the user has not trusted gives only the settings that
cannot run or send anything (`TRUSTED_ONLY` lists the others); what it asks beyond them is
ignored, and each ignored key becomes a warning that says how to trust the file. Its inventories
(`AS_DATA`) still count as data for the commands that connect to nothing (`data_only`)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from sop.config.files import (
    ConfigFile,
    find_project_config,
    read_config_file,
    user_config_path,
)
from sop.errors import Location, Problem, SopFileError
from sop.records import dataclass

if TYPE_CHECKING:
    from sop.model import Notifier

# setting -> (kind, choices); kinds: path, paths (one or a list), choice, names (a list),
# prefix (the start of a ticket id)
SETTINGS: Mapping[str, tuple[str, tuple[str, ...]]] = {
    "library": ("paths", ()),  # where SOPs are found by id (as $SOP_PATH)
    "inventory": ("paths", ()),
    "state_dir": ("path", ()),
    "known_hosts": ("path", ()),
    "ssh_config": ("path", ()),
    "preflight": ("choice", ("check", "warn", "off")),
    "roles": ("names", ()),  # the roles the user holds (--role): sop run/resume's default
    "incident_prefix": ("prefix", ()),  # put before a bare --incident number (INC-)
}
# what can run a program, send data, or decide whom sop trusts: from trusted files only
# (roles: a step of a role the operator holds waits for nobody else)
TRUSTED_ONLY = frozenset({"inventory", "state_dir", "known_hosts", "ssh_config", "notify", "roles"})
# of those, what an untrusted file still gives as data to the commands that connect to nothing
# (lint, doctor, simulated drills): its inventories, whose programs these never run
AS_DATA = frozenset({"inventory"})
NOTIFY_KEYS = ("url", "command", "format", "events", "name", "timeout", "retries")


class Setting(NamedTuple):
    """One setting's value (paths made absolute against its file's folder) and its place."""

    name: str
    value: str | tuple[str, ...]
    where: Location


class Source(NamedTuple):
    """A configuration file that was read, and whether sop trusts it."""

    path: Path
    kind: str  # "user" | "project"
    trusted: bool


@dataclass(frozen=True)
class TeamConfig:
    settings: Mapping[str, Setting]
    notifiers: tuple[Notifier, ...] = ()
    sources: tuple[Source, ...] = ()
    ignored: tuple[Problem, ...] = ()  # warnings: what an untrusted project file asked for
    # what an untrusted project file gave that counts only as data (`AS_DATA`), never for a run
    data_only: Mapping[str, Setting] = field(default_factory=dict)

    def value(self, name: str) -> str | tuple[str, ...] | None:
        setting = self.settings.get(name)
        return setting.value if setting else None


def load_team_config(cwd: Path, environ: Mapping[str, str]) -> TeamConfig:
    """The user's configuration and the nearest project `sop.toml` above `cwd` (else above the
    first `$SOP_PATH` folder), merged. Raises `SopFileError` with every problem found."""
    settings: dict[str, Setting] = {}
    data_only: dict[str, Setting] = {}
    notifiers: list[Notifier] = []
    sources: list[Source] = []
    ignored: list[Problem] = []
    problems: list[Problem] = []
    user = user_config_path(environ)
    project = _project_file(cwd, environ)
    if project is None and not os.path.lexists(user):  # most commands: no file, nothing to load
        return TeamConfig({})
    from sop.audit.sharing import Sharing

    if Sharing().check(user, "your sop configuration"):  # yours, and nobody else can write it
        config = read_config_file(user)
        _merge(config, True, settings, {}, notifiers, ignored, problems)
        sources.append(Source(user, "user", True))
    if project is not None and project.resolve() != user.resolve():
        from sop.config.trust import is_trusted

        config = read_config_file(project)
        trusted = is_trusted(config, environ)
        _merge(config, trusted, settings, data_only, notifiers, ignored, problems)
        sources.append(Source(project, "project", trusted))
    if problems:
        raise SopFileError(problems)
    return TeamConfig(settings, tuple(notifiers), tuple(sources), tuple(ignored), data_only)


def check_config_file(config: ConfigFile) -> None:
    """Refuse `config` with every problem it has, as if it were trusted (before trusting it)."""
    problems: list[Problem] = []
    _merge(config, True, {}, {}, [], [], problems)
    if problems:
        raise SopFileError(problems)


def _project_file(cwd: Path, environ: Mapping[str, str]) -> Path | None:
    found = find_project_config(cwd)
    library = [p for p in environ.get("SOP_PATH", "").split(":") if p]
    if found is None and library:
        found = find_project_config(Path(library[0]))
    return found


def _merge(
    config: ConfigFile,
    trusted: bool,
    settings: dict[str, Setting],
    data_only: dict[str, Setting],
    notifiers: list[Notifier],
    ignored: list[Problem],
    problems: list[Problem],
) -> None:
    for key, value in config.data.items():
        where = config.where(key if key == "notify" else "", 0, "" if key == "notify" else key)
        if key not in SETTINGS and key != "notify":
            known = ", ".join([*SETTINGS, "notify"])
            problems.append(Problem(where, key, f"unknown setting (known: {known})"))
            continue
        if key in TRUSTED_ONLY and not trusted:
            ignored.append(_untrusted(config, where, key))
            if key in AS_DATA and (as_data := _setting(config, key, value, where, problems)):
                data_only[key] = as_data
            continue
        if key == "notify":
            notifiers.extend(_notifiers(config, value, problems))
            continue
        checked = _setting(config, key, value, where, problems)
        if checked is not None:
            settings[key] = checked


def _untrusted(config: ConfigFile, where: Location, key: str) -> Problem:
    why = (
        f"`{key}` decides where a run connects and may be a program (lint, doctor and "
        "simulated drills read it as data, and run no program)"
        if key in AS_DATA
        else f"`{key}` could make sop run or send something"
    )
    return Problem(
        where,
        key,
        f"ignored: {config.path.name} is a project configuration you have not trusted, and "
        f"{why}; read the file, then `sop config trust {config.path}`",
        severity="warning",
        code="untrusted",
    )


def _setting(
    config: ConfigFile, key: str, value: Any, where: Location, problems: list[Problem]
) -> Setting | None:
    kind, choices = SETTINGS[key]
    if kind == "choice":
        if value not in choices:
            problems.append(Problem(where, key, f"must be one of {', '.join(choices)}"))
            return None
        return Setting(key, value, where)
    if kind == "prefix":
        from sop.model import TICKET_ID_RULE, is_ticket_id

        if not isinstance(value, str) or not is_ticket_id(value):
            problems.append(
                Problem(where, key, f"must be the start of a ticket id ({TICKET_ID_RULE}), as INC-")
            )
            return None
        return Setting(key, value, where)
    if kind == "names":
        if not _strings(value) or not all(_ROLE.fullmatch(v) for v in value):
            problems.append(Problem(where, key, "must be a list of names (a-z, 0-9, - and _)"))
            return None
        return Setting(key, tuple(value), where)
    paths = [value] if isinstance(value, str) and kind == "paths" else value
    if kind == "path" and not isinstance(value, str):
        problems.append(Problem(where, key, "must be a path (a string)"))
        return None
    if kind == "paths" and not (
        isinstance(paths, list) and paths and all(isinstance(p, str) and p for p in paths)
    ):
        problems.append(Problem(where, key, "must be a path or a list of paths"))
        return None
    base = config.path.parent.resolve()
    if kind == "path":
        return Setting(key, str(base / Path(value).expanduser()), where)
    return Setting(key, tuple(str(base / Path(p).expanduser()) for p in paths), where)


_ROLE = re.compile(r"[a-z0-9][a-z0-9_-]*")


def _notifiers(config: ConfigFile, value: Any, problems: list[Problem]) -> list[Notifier]:
    where = config.where("notify")
    if not isinstance(value, list) or not all(isinstance(t, dict) for t in value):
        problems.append(Problem(where, "notify", "must be [[notify]] tables"))
        return []
    out = []
    for index, table in enumerate(value):
        found = _notifier(config, index, table)
        if isinstance(found, list):
            problems.extend(found)
        else:
            out.append(found)
    return out


def _notifier(config: ConfigFile, index: int, table: Mapping[str, Any]) -> Notifier | list[Problem]:
    from sop.model import NOTIFY_EVENTS, NOTIFY_FORMATS, Notifier

    def at(key: str = "") -> Location:
        return config.where("notify", index, key)

    path = f"notify[{index}]"
    problems = [
        Problem(at(key), f"{path}.{key}", f"unknown key (known: {', '.join(NOTIFY_KEYS)})")
        for key in table
        if key not in NOTIFY_KEYS
    ]
    url, command = table.get("url", ""), table.get("command", ())
    if bool(url) == bool(command):
        problems.append(Problem(at(), path, "give either `url` or `command` (one of them)"))
    if url and not (isinstance(url, str) and url.startswith(("https://", "http://"))):
        problems.append(Problem(at("url"), f"{path}.url", "must be an http:// or https:// URL"))
    if command and not _strings(command):
        problems.append(
            Problem(at("command"), f"{path}.command", "must be a list of strings (argv, no shell)")
        )
    fmt = table.get("format", "json")
    if fmt not in NOTIFY_FORMATS or (command and "format" in table):
        problems.append(
            Problem(at("format"), f"{path}.format", "must be slack or json, and only with `url`")
        )
    events = table.get("events", list(NOTIFY_EVENTS))
    if not _strings(events) or not set(events) <= set(NOTIFY_EVENTS):
        problems.append(
            Problem(
                at("events"), f"{path}.events", f"must be a list of: {', '.join(NOTIFY_EVENTS)}"
            )
        )
    timeout, retries = table.get("timeout", 5), table.get("retries", 3)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout <= 60:
        problems.append(Problem(at("timeout"), f"{path}.timeout", "must be seconds, 0 to 60"))
    if isinstance(retries, bool) or not isinstance(retries, int) or not 0 <= retries <= 10:
        problems.append(Problem(at("retries"), f"{path}.retries", "must be a number, 0 to 10"))
    name = table.get("name", "")
    if not isinstance(name, str):
        problems.append(Problem(at("name"), f"{path}.name", "must be a string"))
    if problems:
        return problems
    return Notifier(
        url=url,
        command=tuple(command),
        format=fmt,
        events=frozenset(events),
        name=name,
        timeout=float(timeout),
        retries=retries,
        where=at(),
    )


def _strings(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, str) and v for v in value)
