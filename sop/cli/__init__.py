"""The command line. Thin: each command parses its arguments, calls one function of the library,
prints, and returns its exit code or raises. This module holds the group, the one place that
turns errors and returned codes into the process's exit status, and `main`.

One module per group of commands: library (lint, list, show, schema, coverage, stats), running
(run, resume, drill), audit (runs, audit verify/show, report), render, publish, tabletop, importing
(import), setup (init, doctor), config (the team configuration's defaults; config show,
trust); params holds
what they share, ui everything printed to a terminal. Exit codes: `sop.errors.ExitCode`.
"""

from __future__ import annotations

import os
import sys
from typing import Any, NoReturn

import click

from sop import __version__
from sop.cli import (
    approving,
    audit,
    config,
    importing,
    library,
    publish,
    render,
    running,
    setup,
    tabletop,
    ui,
)
from sop.cli.params import Settings


class SopGroup(click.Group):
    """Turns what a command returns (an `ExitCode`) and every `SopError` it raises into the
    exit status, with the error's message, in one place."""

    def invoke(self, ctx: click.Context) -> Any:
        from sop.errors import SopError, SopFileError  # here: `sop --help` never loads them

        try:
            code = super().invoke(ctx)
        except SopFileError as exc:
            for problem in exc.problems:
                ui.echo(str(problem), err=True)
            ctx.exit(exc.exit_code)
        except SopError as exc:
            ui.error(str(exc))
            if _debug(ctx):
                ui.traceback()
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:  # outside a run's steps (a run handles its own Ctrl-C)
            _interrupted(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except Exception as exc:  # a bug in sop: say so plainly; the traceback with --debug
            ui.error(
                f"internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback)"
            )
            if _debug(ctx):
                ui.traceback()
            ctx.exit(1)
        if code:  # a command's ExitCode other than OK
            ctx.exit(code)
        return code


def _interrupted(ctx: click.Context) -> NoReturn:
    from sop.errors import ExitCode

    ui.echo("\ninterrupted", err=True)
    ctx.exit(ExitCode.INTERRUPTED)


def _debug(ctx: click.Context) -> bool:
    return isinstance(ctx.obj, Settings) and ctx.obj.debug


def help_width() -> int:
    """The width click would wrap help text to, as `shutil.get_terminal_size` finds it, without
    importing shutil (a fifth of what `sop --help` adds to `import click`)."""
    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 80
    return max(min(columns, 80) - 2, 50)


@click.group(
    cls=SopGroup,
    context_settings={"help_option_names": ["-h", "--help"], "terminal_width": help_width()},
)
@click.version_option(__version__, prog_name="sop")
@click.option(
    "--debug", is_flag=True, help="Print every run event and tracebacks to stderr (secrets masked)."
)
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Executable Standard Operating Procedures: YAML checklists you can lint, show and run.

    Defaults come from sop.toml (found upward from here) and ~/.config/sop/config.toml:
    see `sop config show`."""
    team = config.load_config()
    ctx.obj = Settings(debug=debug, config=team)
    config.apply_config(ctx, team)


for command in (
    library.lint,
    library.list_sops,
    library.show,
    library.schema,
    library.coverage,
    library.stats,
    running.run,
    running.resume,
    running.drill,
    approving.approve,
    audit.runs,
    audit.audit,
    audit.report,
    render.render,
    render.alerts,
    publish.publish,
    tabletop.tabletop,
    importing.import_runbook,
    setup.init,
    setup.doctor,
    config.config,
):
    cli.add_command(command)


def main() -> None:
    """The `sop` program: the exit status is the command's `ExitCode`."""
    try:
        cli(prog_name="sop")
    except KeyboardInterrupt:  # before or after a command (click turns a late one into this)
        from sop.errors import ExitCode

        ui.echo("\ninterrupted", err=True)
        sys.exit(ExitCode.INTERRUPTED)
