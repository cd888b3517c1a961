"""What several commands share: the path types, the options of `sop run`, `resume` and `drill`,
and the settings the group's own options give every command."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

import click

if TYPE_CHECKING:
    from pathlib import Path


class Settings(NamedTuple):
    """What `sop`'s own options set for every command: the click context's `obj`."""

    debug: bool = False  # --debug: every run event and tracebacks on stderr


def to_path(value: str) -> Path:
    from pathlib import Path

    return Path(value)


class PathParam(click.Path):
    """click.Path that gives a pathlib.Path, importing pathlib only when a command gets a path
    (`sop --help` does not need it)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        from pathlib import Path

        return Path(str(super().convert(value, param, ctx)))


# one instance per kind, shared by every option: click.Path looks up a translation of its
# name each time one is made
ANY_PATH = PathParam()
FILE = PathParam(dir_okay=False)
FOLDER = PathParam(file_okay=False)
EXISTING_FOLDER = PathParam(file_okay=False, exists=True)
PATHS = click.argument("paths", nargs=-1, type=ANY_PATH)

F = TypeVar("F", bound=Callable[..., Any])


def path_option(name: str, help_text: str, dir_okay: bool = False) -> Callable[[F], F]:
    return click.option(name, type=FOLDER if dir_okay else FILE, help=help_text)


def format_option(*choices: str) -> Callable[[F], F]:
    """--format, the first choice by default."""
    return click.option(
        "--format", "fmt", type=click.Choice(choices), default=choices[0], show_default=True
    )


STATE_DIR = path_option(
    "--state-dir", "Where runs are kept (default $SOP_STATE_DIR or ~/.local/state/sop).", True
)


def walk_options(function: F) -> F:
    """Options shared by `sop run`, `sop resume` and `sop drill`."""
    for option in reversed(
        [
            click.option(
                "--secret-file",
                multiple=True,
                metavar="NAME=PATH",
                help="Read a secret input from a file.",
            ),
            click.option(
                "-a",
                "--answer",
                "answers",
                multiple=True,
                metavar="NAME=VALUE",
                help="Answer a prose step's question.",
            ),
            click.option(
                "--inventory",
                type=FILE,
                multiple=True,
                help="Inventory file: sop's YAML, Ansible's YAML or INI, or a dynamic "
                "inventory program (run only by a real run); repeatable, later ones win per "
                "host (default: inventory.yaml beside the SOP).",
            ),
            click.option(
                "--yes",
                is_flag=True,
                help="Answer ordinary confirmations (CI, automation); never typed ones.",
            ),
            click.option(
                "--confirm",
                "confirm_ids",
                multiple=True,
                metavar="STEP_ID",
                help="With --yes: confirm this typed/always step too.",
            ),
            click.option(
                "--preflight",
                type=click.Choice(["check", "warn", "off"]),
                default="check",
                show_default=True,
                help="Before the first step, connect to every targeted host: check (a host "
                "not ok: re-check, go on or quit; with --yes, stop), warn (show, go on), off.",
            ),
            path_option("--known-hosts", "known_hosts file to trust (default ~/.ssh/known_hosts)."),
            path_option("--ssh-config", "ssh config file (default ~/.ssh/config)."),
            STATE_DIR,
        ]
    ):
        function = option(function)
    return function
