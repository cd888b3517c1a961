"""Team configuration on the command line: the defaults `sop.toml` and the user's `config.toml`
give the commands' options (click's `default_map`, built here and nowhere else), and
`sop config show` / `sop config trust`.

Precedence, highest first: the command line, the environment (`$SOP_STATE_DIR`, `$SOP_PATH`),
the project's `sop.toml`, the user's `config.toml`, sop's own defaults."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import click

from sop.cli import ui
from sop.cli.params import FILE, format_option

if TYPE_CHECKING:
    from pathlib import Path

    from sop.config.team import TeamConfig
    from sop.errors import ExitCode

# settings that are an environment variable's default rather than an option's
_ENVIRONMENT = {"library": "SOP_PATH", "state_dir": "SOP_STATE_DIR"}
# the commands that would use what an untrusted project file asked for: they say it was ignored
WARN_FOR = frozenset({"run", "resume", "drill"})
# the commands that connect to nothing and run no inventory program: an untrusted project's
# inventories are their default (`TeamConfig.data_only`; a simulated drill takes them in
# cli/running.py, as `sop drill --sandbox` is a real run)
AS_DATA_FOR = frozenset({"lint", "doctor"})


def load_config() -> TeamConfig:
    from pathlib import Path

    from sop.config.team import load_team_config

    return load_team_config(Path.cwd(), os.environ)


def apply_config(ctx: click.Context, config: TeamConfig) -> None:
    """Make `config` the defaults of every command's options (`ctx` is the group's), and of
    `$SOP_PATH` when it is not set; warn of what an untrusted project file asked for when the
    command is one that would use it."""
    library = config.value("library")
    if isinstance(library, tuple) and not os.environ.get("SOP_PATH"):
        os.environ["SOP_PATH"] = ":".join(library)
    values = {
        name: list(s.value) if isinstance(s.value, tuple) else s.value
        for name, s in config.settings.items()
        if name != "library" and not os.environ.get(_ENVIRONMENT.get(name, ""))
    }
    as_data = {
        name: list(s.value) if isinstance(s.value, tuple) else s.value
        for name, s in config.data_only.items()
        if name not in values
    }
    assert isinstance(ctx.command, click.Group)
    ctx.default_map = _defaults(ctx.command, values, as_data)
    if ctx.invoked_subcommand in WARN_FOR:
        for problem in config.ignored:
            ui.echo(f"sop: {problem}", err=True)


def _defaults(
    group: click.Group, values: dict[str, Any], as_data: dict[str, Any]
) -> dict[str, Any]:
    """{command: {option: value}} for every option, in every command, named as a setting (and,
    for the commands in `AS_DATA_FOR`, as a setting `as_data` holds)."""
    out: dict[str, Any] = {}
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            nested = _defaults(command, values, as_data)
            if nested:
                out[name] = nested
            continue
        given = {**as_data, **values} if name in AS_DATA_FOR else values
        mine = {
            p.name: given[p.name]
            for p in command.params
            if isinstance(p, click.Option) and p.name in given and _fits(p, given[p.name])
        }
        if mine:
            out[name] = mine
    return out


def _fits(option: click.Option, value: Any) -> bool:
    """A list for a repeatable option, one value for another; never a flag's value (`sop
    schema --inventory` is a flag, not the inventory)."""
    return not option.is_flag and option.multiple == isinstance(value, list)


@click.group()
def config() -> None:
    """The team configuration: sop.toml (found upward from here) and your
    ~/.config/sop/config.toml; what they set is the default of the options of that name."""


@config.command()
@format_option("text", "json")
@click.pass_obj
def show(settings: Any, fmt: str) -> None:
    """The effective configuration: each value, the file:line it came from, the notifications,
    and what an untrusted project file asked for (ignored)."""
    import json

    team: TeamConfig = settings.config
    if fmt == "json":
        ui.echo(json.dumps(_as_dict(team), indent=2))
        return
    for source in team.sources:
        trust = (
            "trusted"
            if source.trusted
            else f"not trusted: its notifications, SSH files, state directory and roles are "
            f"ignored, its inventory is data for lint, doctor and simulated drills only, until "
            f"`sop config trust {source.path}`"
        )
        ui.echo(f"{source.kind:<8} {source.path} ({trust})")
    if not team.sources:
        ui.echo("no configuration file: sop's defaults")
    for name, setting in team.settings.items():
        value = " ".join(setting.value) if isinstance(setting.value, tuple) else setting.value
        ui.echo(f"{name} = {value}  ({setting.where})")
    for name, setting in team.data_only.items():
        value = " ".join(setting.value) if isinstance(setting.value, tuple) else setting.value
        ui.echo(f"{name} = {value}  ({setting.where}; {_AS_DATA})")
    for notifier in team.notifiers:
        kind = notifier.format if notifier.url else "command"
        events = ", ".join(sorted(notifier.events))
        ui.echo(f"notify {notifier.label} ({kind}): {events}  ({notifier.where})")
    for problem in team.ignored:
        ui.echo(str(problem))


def described(team: TeamConfig) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The effective configuration as `sop doctor` reports it: each file (trusted or not) and
    each value with the `file:line` it came from (or the environment variable that overrides
    it), and what an untrusted project file asked for (ignored)."""
    lines = [
        f"{source.kind} {source.path}" + ("" if source.trusted else " (not trusted)")
        for source in team.sources
    ]
    for name, setting in team.settings.items():
        value = " ".join(setting.value) if isinstance(setting.value, tuple) else setting.value
        variable = _ENVIRONMENT.get(name, "")
        where = (
            f"${variable} overrides it"
            if variable and os.environ.get(variable)
            else str(setting.where)
        )
        lines.append(f"{name} = {value} ({where})")
    for name, setting in team.data_only.items():
        value = " ".join(setting.value) if isinstance(setting.value, tuple) else setting.value
        lines.append(f"{name} = {value} ({setting.where}; {_AS_DATA})")
    lines += [f"notify {n.label} ({n.where})" for n in team.notifiers]
    return tuple(lines), tuple(str(problem) for problem in team.ignored)


_AS_DATA = "not trusted: read as data by lint, doctor and simulated drills, never by a run"


def _as_dict(team: TeamConfig) -> dict[str, Any]:
    return {
        "sources": [
            {"path": str(s.path), "kind": s.kind, "trusted": s.trusted} for s in team.sources
        ],
        "settings": {
            name: {
                "value": list(s.value) if isinstance(s.value, tuple) else s.value,
                "from": str(s.where),
            }
            for name, s in team.settings.items()
        },
        "notify": [
            {
                "target": n.label,
                "kind": n.format if n.url else "command",
                "events": sorted(n.events),
                "from": str(n.where),
            }
            for n in team.notifiers
        ],
        "ignored": [p.as_dict() for p in team.ignored],
        "data_only": {
            name: {
                "value": list(s.value) if isinstance(s.value, tuple) else s.value,
                "from": str(s.where),
            }
            for name, s in team.data_only.items()
        },
    }


@config.command()
@click.argument("file", type=FILE, required=False)
def trust(file: Path | None) -> ExitCode:
    """Trust a project's sop.toml (default: the one found upward from here) as it is now, after
    reading it: its notifications, inventory, SSH files and state directory count from then
    on. Any change to the file makes it untrusted again."""
    from pathlib import Path

    from sop.config.files import find_project_config, read_config_file
    from sop.config.team import check_config_file
    from sop.config.trust import trust as trust_file
    from sop.errors import ExitCode, NotFoundError

    path = file or find_project_config(Path.cwd())
    if path is None:
        raise NotFoundError("no sop.toml here or in a folder above; name the file to trust")
    found = read_config_file(path)
    check_config_file(found)
    added = trust_file(found, os.environ)
    state = "trusted" if added else "already trusted"
    ui.echo(
        f"{state}: {path.resolve()} (sha256 {found.sha256[:12]}); trust it again after any change"
    )
    return ExitCode.OK
