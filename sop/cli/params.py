"""What several commands share: the path types, the options of `sop run`, `resume` and `drill`,
and the settings the group's own options give every command."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

import click

if TYPE_CHECKING:
    from pathlib import Path

    from sop.config.team import TeamConfig


class Settings(NamedTuple):
    """What `sop`'s own options set for every command: the click context's `obj`."""

    debug: bool = False  # --debug: every run event and tracebacks on stderr
    config: TeamConfig | None = None  # sop.toml and the user's config.toml (cli/config.py)

    @property
    def incident_prefix(self) -> str:
        """What the team puts before a bare `--incident` number (`incident_prefix`; "": none)."""
        prefix = self.config.value("incident_prefix") if self.config else None
        return prefix if isinstance(prefix, str) else ""


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


def _trace_id(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    from sop.run.tracecontext import TraceParentError, check_trace_id

    try:
        return None if value is None else check_trace_id(value)
    except TraceParentError as exc:
        raise click.BadParameter(str(exc)) from None


TRACE_ID = click.option(
    "--trace-id",
    metavar="TRACE_ID",
    callback=_trace_id,
    help="The trace the run belongs to (32 hex digits; default: $TRACEPARENT's, else new).",
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
                "--role",
                "roles",
                multiple=True,
                metavar="ROLE",
                help="A role you hold (repeatable): a step of another role waits for its "
                "holder's go-ahead (sop approve).",
            ),
            click.option(
                "--approval-timeout",
                type=click.FloatRange(min=0),
                default=900.0,
                show_default=True,
                metavar="SECONDS",
                help="With --yes: how long to wait for an approval before pausing the run.",
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


# -- shell completion: fast, and never loading a heavy library (click calls these on each Tab) --


def _looks_like_path(incomplete: str) -> bool:
    return "/" in incomplete or incomplete.startswith(".")


def complete_sop(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """The ids of the SOPs in the search folders (from the `sop list` cache), each with its
    title; a path once the word has a '/'."""
    from click.shell_completion import CompletionItem

    if _looks_like_path(incomplete):
        return [CompletionItem(incomplete, type="file")]
    from sop.errors import SopError
    from sop.format.listcache import catalog
    from sop.format.sopfiles import search_dirs

    folders = [d for d in search_dirs() if d.is_dir()]
    try:
        rows = catalog(folders).rows if folders else ()
    except (SopError, OSError):
        return []
    return [
        CompletionItem(row.id, help=row.title)
        for row in sorted(rows, key=lambda r: r.id)
        if row.id.startswith(incomplete)
    ]


def complete_run(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """The run ids in the state directory (`--state-dir` when given before), newest first; a
    path once the word has a '/' (`audit verify` takes a log file too)."""
    from click.shell_completion import CompletionItem

    if _looks_like_path(incomplete):
        return [CompletionItem(incomplete, type="file")]
    from sop.audit.state import default_state_dir

    state_dir = ctx.params.get("state_dir") or default_state_dir()
    try:
        names = [e.name for e in os.scandir(state_dir / "runs") if e.is_dir(follow_symlinks=False)]
    except OSError:
        return []
    return [CompletionItem(n) for n in sorted(names, reverse=True) if n.startswith(incomplete)]


# the page options of `sop render` and `sop publish` (the styles: render/placeholders.py)
TEMPLATES = click.option(
    "--templates",
    "template_dirs",
    type=EXISTING_FOLDER,
    multiple=True,
    help="Folder of templates that override the built-in ones by name (repeatable).",
)
RUNS_DIR = click.option(
    "--runs",
    "runs_dir",
    metavar="STATE_DIR",
    type=EXISTING_FOLDER,
    help="Add run history from the audit logs in this state directory to each page.",
)
PLACEHOLDERS = click.option(
    "--placeholders",
    type=click.Choice(["shell", "angle", "jinja"]),
    default="shell",
    show_default=True,
    help='How commands show the values they need: "${SOP_HOST:?}" with a "Set these first" '
    "block (fails before it runs until set), <host>, or {{ host }} as written.",
)
