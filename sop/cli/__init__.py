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
        from sop.errors import (  # here: `sop --help` never loads them
            ExitCode,
            OutputClosed,
            SopError,
            SopFileError,
        )

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
        except OutputClosed:  # after a run's last record (a run pauses on one earlier)
            _output_closed()
            ctx.exit(ExitCode.OUTPUT_CLOSED)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except Exception as exc:  # a bug in sop: say so plainly; the traceback with --debug
            if isinstance(exc, BrokenPipeError) and _output_closed():
                ctx.exit(ExitCode.OUTPUT_CLOSED)  # as any filter in a pipe does: nothing to say
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


def _output_closed() -> bool:
    """Whether standard output is a pipe whose reader has gone (`sop list | head -1`). If so it
    now writes to /dev/null, so that what is still buffered for it goes nowhere quietly."""
    import select

    try:
        fd = sys.stdout.fileno()
        poll = select.poll()
        poll.register(fd, select.POLLOUT)
        closed = any(events & select.POLLERR for _, events in poll.poll(0))
        if closed:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, fd)
            os.close(devnull)
        return closed
    except (AttributeError, ValueError, OSError):  # no real stdout (a test's), or a closed one
        return False


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
        try:
            cli(prog_name="sop")
        except KeyboardInterrupt:  # before or after a command (click turns a late one into this)
            from sop.errors import ExitCode

            ui.echo("\ninterrupted", err=True)
            sys.exit(ExitCode.INTERRUPTED)
    except SystemExit as exc:
        _leave(exc)
        raise


def _leave(exc: SystemExit) -> None:
    """Exit now with `exc`'s status, without the interpreter's teardown of the ~550 modules a
    run loads (40 ms of every command: a one-host `sop run` took 0.35 s, now 0.31 s). What the
    teardown would do that matters is done first: the exit handlers (paramiko's, logging's,
    weakref finalizers), then stdout and stderr flushed (a closed pipe is no error here, as it
    is none to the shell). Every file sop writes is closed (and the audit log synced) before
    its command returns. Returns, for the usual exit, while a thread that is no daemon still
    runs, or when the status is not a number (a message to print)."""
    import atexit
    import contextlib
    import threading

    code = 0 if exc.code is None else exc.code
    if not isinstance(code, int):
        return
    me = threading.current_thread()
    if any(t is not me and not t.daemon and t.is_alive() for t in threading.enumerate()):
        return
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe, a closed stream
            stream.flush()
    os._exit(code)
