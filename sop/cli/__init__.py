"""The command line. Thin: parse arguments, call the library, print, map errors to exit codes.

Exit codes: 0 ok, 1 an error (a bad SOP, a failed step, a refused action), 2 a usage error,
130 interrupted.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from sop import __version__
from sop.cli import ui

if TYPE_CHECKING:
    from pathlib import Path


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


class SopGroup(click.Group):
    """Translates every `SopError` into its message and exit code, in one place."""

    def invoke(self, ctx: click.Context) -> Any:
        from sop.errors import SopError, SopFileError  # here: `sop --help` never loads them

        try:
            return super().invoke(ctx)
        except SopFileError as exc:
            for problem in exc.problems:
                click.echo(str(problem), err=True)
            ctx.exit(exc.exit_code)
        except SopError as exc:
            ui.error(str(exc))
            if DEBUG.on:
                ui.traceback()
            ctx.exit(exc.exit_code)
        except (
            click.exceptions.Exit,
            click.exceptions.Abort,
            click.ClickException,
            KeyboardInterrupt,
        ):
            raise
        except Exception as exc:  # a bug in sop: say so plainly; the traceback with --debug
            ui.error(
                f"internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback)"
            )
            if DEBUG.on:
                ui.traceback()
            ctx.exit(1)


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


class _Debug:
    on = False


DEBUG = _Debug()


@click.group(
    cls=SopGroup,
    context_settings={"help_option_names": ["-h", "--help"], "terminal_width": help_width()},
)
@click.version_option(__version__, prog_name="sop")
@click.option(
    "--debug", is_flag=True, help="Print every run event and tracebacks to stderr (secrets masked)."
)
def cli(debug: bool) -> None:
    """Executable Standard Operating Procedures: YAML checklists you can lint, show and run."""
    DEBUG.on = debug


@cli.command()
@PATHS
@click.option("--strict", is_flag=True, help="Fail on warnings too.")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@click.option("--inventory", type=FILE, help="Inventory file.")
@click.option(
    "--runs",
    "runs_dir",
    metavar="STATE_DIR",
    type=FOLDER,
    help="Warn about SOPs not drilled recently, from the audit logs in this state directory.",
)
@click.option(
    "--drill-days",
    default=90,
    show_default=True,
    help="With --runs: the longest gap between drills.",
)
def lint(
    paths: tuple[Path, ...],
    strict: bool,
    fmt: str,
    inventory: Path | None,
    runs_dir: Path | None,
    drill_days: int,
) -> None:
    """Check SOP files: schema, templates, tasks, targets, calls, review dates, tabletop
    scenarios (in scenarios/ folders) and, with --runs, drill dates.

    PATHS are files or folders (default: runbooks/ or $SOP_PATH)."""
    import datetime as dt
    import json

    from sop.checks.lint import lint_paths

    report = lint_paths(
        paths, today=dt.date.today(), inventory=inventory, runs=runs_dir, drill_days=drill_days
    )
    if fmt == "json":
        click.echo(json.dumps(report.as_dict(), indent=2))
    else:
        for problem in report.problems:
            click.echo(str(problem))
        click.echo(
            f"{report.files} file(s) checked: {report.errors} error(s), {report.warnings} warning(s)",
            err=True,
        )
    sys.exit(1 if report.failed(strict) else 0)


@cli.command("list")
@PATHS
@click.option("--tag", multiple=True, help="Only SOPs with this tag (repeatable: all must match).")
@click.option("--phase", help="Only SOPs of this NIST phase.")
@click.option("--alert", help="Only SOPs for this alert name.")
@click.option("--owner", help="Only SOPs of this owner.")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
def list_(
    paths: tuple[Path, ...],
    tag: tuple[str, ...],
    phase: str | None,
    alert: str | None,
    owner: str | None,
    fmt: str,
) -> None:
    """List SOPs: id, title, phase, owner, last review.

    What it shows of each file is cached until the file changes ($XDG_CACHE_HOME/sop;
    SOP_NO_CACHE=1 reads every file)."""
    from sop.format.listcache import catalog

    listing = catalog(paths)
    found = [
        s
        for s in listing.rows
        if set(tag) <= set(s.tags)
        and (phase is None or s.phase == phase)
        and (alert is None or alert in s.alerts)
        and (owner is None or s.owner == owner)
    ]
    found.sort(key=lambda s: s.id)
    rows = [[s.id, s.title, s.phase or "", s.owner or "", s.reviewed or ""] for s in found]
    if fmt == "json":
        import json

        keys = ("id", "title", "phase", "owner", "reviewed")
        click.echo(
            json.dumps(
                [
                    dict(zip(keys, r, strict=True)) | {"path": str(s.path)}
                    for r, s in zip(rows, found, strict=True)
                ],
                indent=2,
            )
        )
    elif rows:
        click.echo(ui.table(("id", "title", "phase", "owner", "reviewed"), rows))
    else:
        click.echo("no SOP matches", err=True)
    if listing.problems:
        broken = sorted({p.where.file for p in listing.problems})
        ui.error(f"{len(broken)} file(s) failed to load (run `sop lint`): {', '.join(broken)}")
        sys.exit(1)


@cli.command()
@click.argument("sop_ref", metavar="SOP")
def show(sop_ref: str) -> None:
    """Show an SOP as the responder will see it. Runs nothing."""
    from sop.format.discovery import find_sop
    from sop.format.loader import load_sop

    sop = load_sop(find_sop(sop_ref))
    ui.show_sop(sop, ui.console())


@cli.command()
@click.option("--tabletop", is_flag=True, help="The schema of tabletop scenario files instead.")
def schema(tabletop: bool) -> None:
    """Print the JSON Schema (2020-12) of the SOP format, for editors and CI."""
    import json

    if tabletop:
        from sop.format.scenario import json_schema
    else:
        from sop.format.schema import json_schema
    click.echo(json.dumps(json_schema(), indent=2))


@cli.command()
@PATHS
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["markdown", "html", "confluence"]),
    default="markdown",
    show_default=True,
    help="Markdown (MkDocs, GitHub wikis), standalone HTML, or Confluence storage format.",
)
@click.option(
    "--out",
    "out_dir",
    type=FOLDER,
    required=True,
    help="Folder to write the pages into (created if needed).",
)
@click.option(
    "--templates",
    "template_dirs",
    type=EXISTING_FOLDER,
    multiple=True,
    help="Folder of templates that override the built-in ones by name (repeatable).",
)
@click.option("--mkdocs", is_flag=True, help="Also write mkdocs.yml; pages go into OUT/docs/.")
@click.option(
    "--runs",
    "runs_dir",
    metavar="STATE_DIR",
    type=EXISTING_FOLDER,
    help="Add run history from the audit logs in this state directory to each page.",
)
def render(
    paths: tuple[Path, ...],
    fmt: str,
    out_dir: Path,
    template_dirs: tuple[Path, ...],
    mkdocs: bool,
    runs_dir: Path | None,
) -> None:
    """Render SOPs as wiki pages: one page per SOP plus an index. Runs nothing.

    PATHS are files or folders (default: runbooks/ or $SOP_PATH). Every SOP must load."""
    from sop.errors import SopFileError
    from sop.format.discovery import load_library
    from sop.render import read_history, render_library

    library = load_library(paths)
    if library.problems:
        raise SopFileError(library.problems)
    history = read_history(runs_dir) if runs_dir is not None else None
    written = render_library(library.sops, fmt, out_dir, template_dirs, mkdocs, history)
    click.echo(
        f"{len(library.sops)} SOP(s) rendered: {len(written)} file(s) in {out_dir}", err=True
    )


F = TypeVar("F", bound=Callable[..., Any])


def _path_option(name: str, help_text: str, dir_okay: bool = False) -> Callable[[F], F]:
    return click.option(
        name,
        type=FOLDER if dir_okay else FILE,
        help=help_text,
    )


STATE_DIR = _path_option(
    "--state-dir", "Where runs are kept (default $SOP_STATE_DIR or ~/.local/state/sop).", True
)


def _walk_options(function: F) -> F:
    """Options shared by `sop run` and `sop resume`."""
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
            _path_option("--inventory", "Inventory file (default: inventory.yaml beside the SOP)."),
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
            _path_option(
                "--known-hosts", "known_hosts file to trust (default ~/.ssh/known_hosts)."
            ),
            _path_option("--ssh-config", "ssh config file (default ~/.ssh/config)."),
            STATE_DIR,
        ]
    ):
        function = option(function)
    return function


def _request(
    sop_ref: str,
    params: dict[str, Any],
    *,
    dry_run: bool = False,
    inputs: tuple[str, ...] = (),
    on: tuple[str, ...] = (),
    incident: str | None = None,
) -> Any:
    from sop.run.inputs import parse_assignments
    from sop.run.launch import RunRequest
    from sop.run.options import RunOptions, default_operator

    return RunRequest(
        sop=sop_ref,
        inputs=parse_assignments(inputs, "-i"),
        secret_files={
            k: to_path(v)
            for k, v in parse_assignments(params["secret_file"], "--secret-file").items()
        },
        inventory=params["inventory"],
        known_hosts=params["known_hosts"],
        ssh_config=params["ssh_config"],
        state_dir=params["state_dir"],
        options=RunOptions(
            yes=params["yes"],
            dry_run=dry_run,
            confirm=frozenset(params["confirm_ids"]),
            answers=parse_assignments(params["answers"], "-a"),
            on=on or None,
            incident=incident,
            operator=default_operator(),
        ),
    )


def _terminal(interactive: bool) -> tuple[Any, Any, Any]:
    from sop.errors import UsageError

    if interactive and not sys.stdin.isatty():
        raise UsageError(
            "sop asks you at every step: run it in a terminal, or pass --yes (or --dry-run)"
        )
    out = ui.console()
    prompter = ui.TerminalPrompter(out) if interactive else None
    asker = ui.TerminalPrompter(out) if sys.stdin.isatty() else None
    return out, prompter, asker


def _sinks(out: Any) -> list[Any]:
    return [ui.TerminalUI(out), ui.DebugSink()] if DEBUG.on else [ui.TerminalUI(out)]


def _finish(out: Any, launched: Any) -> None:
    if launched.head:
        ui.audit_footer(out, launched.run_dir, launched.head, launched.result.outcome)
    sys.exit(launched.result.exit_code)


@cli.command()
@click.argument("sop_ref", metavar="SOP")
@click.option(
    "-i",
    "--input",
    "inputs",
    multiple=True,
    metavar="NAME=VALUE",
    help="An input value (not for secrets).",
)
@click.option(
    "--on",
    "on",
    multiple=True,
    metavar="TARGET",
    help="Run on this host or group instead of the SOP's default.",
)
@click.option("--incident", metavar="ID", help="The incident this run belongs to (ticket id).")
@click.option(
    "--dry-run",
    is_flag=True,
    help="Show every step with its command and hosts; run and connect to nothing.",
)
@_walk_options
def run(
    sop_ref: str,
    inputs: tuple[str, ...],
    on: tuple[str, ...],
    incident: str | None,
    dry_run: bool,
    **params: Any,
) -> None:
    """Walk through an SOP, step by step, running its commands after you confirm them."""
    from sop.audit.state import default_state_dir
    from sop.clock import SystemClock
    from sop.run.launch import launch, resume

    interactive = not params["yes"] and not dry_run
    out, prompter, asker = _terminal(interactive)
    request = _request(sop_ref, params, dry_run=dry_run, inputs=inputs, on=on, incident=incident)
    if interactive:  # offer to resume an unfinished run of this SOP
        from sop.audit.runs import list_runs
        from sop.format.discovery import find_sop
        from sop.format.loader import load_sop

        sop_id = load_sop(find_sop(sop_ref)).id
        unfinished = [
            r
            for r in list_runs(params["state_dir"] or default_state_dir())
            if r.sop_id == sop_id and r.status == "unfinished"
        ]
        if unfinished:
            last = unfinished[-1]
            answer = prompter.choose(
                f"Run {last.run_id} of {sop_id} (started {last.started} by {last.operator}) did not finish. "
                "Resume it?",
                [("y", "yes"), ("n", "no, start a new run")],
                "y",
            )
            if answer == "y":
                _finish(
                    out,
                    resume(
                        last.run_id,
                        request,
                        prompter=prompter,
                        asker=asker,
                        sinks=_sinks(out),
                        clock=SystemClock(),
                    ),
                )
    _finish(
        out,
        launch(request, prompter=prompter, asker=asker, sinks=_sinks(out), clock=SystemClock()),
    )


@cli.command()
@click.argument("run_ref", metavar="RUN")
@click.option(
    "--sop-changed",
    "changed_reason",
    metavar="REASON",
    help="Go on although the SOP file changed, for this reason (logged).",
)
@_walk_options
def resume(run_ref: str, changed_reason: str | None, **params: Any) -> None:
    """Continue an interrupted run: done steps stay done, steps in doubt are yours to decide."""
    from sop.clock import SystemClock
    from sop.run.launch import resume as resume_run

    out, prompter, asker = _terminal(not params["yes"])
    request = _request("", params)
    _finish(
        out,
        resume_run(
            run_ref,
            request,
            prompter=prompter,
            asker=asker,
            sinks=_sinks(out),
            clock=SystemClock(),
            changed_reason=changed_reason,
        ),
    )


@cli.command()
@click.argument("sop_ref", metavar="SOP")
@click.option(
    "--scenario", default="", help="A drill scenario of the SOP: injected failures to rehearse."
)
@click.option(
    "--pace",
    type=click.FloatRange(min=0),
    default=1.0,
    show_default=True,
    help="How much of each simulated delay to wait (0: none, for CI).",
)
@_path_option(
    "--sandbox",
    "Run the commands for real against this staging inventory (still recorded as a drill).",
)
@_path_option(
    "--report", "Where to write report.md and report.json (default: the run's folder).", True
)
@click.option(
    "-i",
    "--input",
    "inputs",
    multiple=True,
    metavar="NAME=VALUE",
    help="An input value (default: its drill value).",
)
@_walk_options
def drill(
    sop_ref: str,
    scenario: str,
    pace: float,
    sandbox: Path | None,
    report: Path | None,
    inputs: tuple[str, ...],
    **params: Any,
) -> None:
    """Rehearse an SOP: the same walk-through as `sop run`, with simulated results; nothing
    touches a host (unless --sandbox). Writes a drill report."""
    import dataclasses

    from sop.clock import SystemClock
    from sop.drill.guard import forbid_side_effects
    from sop.drill.report import build_report, report_json, report_markdown
    from sop.run.launch import launch
    from sop.run.options import DrillOptions

    out, prompter, asker = _terminal(not params["yes"])
    request = _request(
        sop_ref, {**params, "inventory": sandbox or params["inventory"]}, inputs=inputs
    )
    drill_options = DrillOptions(simulate=sandbox is None, scenario=scenario, pace=pace)
    request = dataclasses.replace(
        request, options=dataclasses.replace(request.options, drill=drill_options)
    )
    launched = launch(
        request,
        prompter=prompter,
        asker=asker,
        sinks=_sinks(out),
        clock=SystemClock(),
        guard=forbid_side_effects() if sandbox is None else None,
    )
    from sop.audit.reader import read_run

    assert launched.run_dir is not None and launched.sop is not None
    drill_report = build_report(read_run(launched.run_dir), launched.sop.target_minutes)
    folder = report or launched.run_dir
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.md").write_text(report_markdown(drill_report))
    (folder / "report.json").write_text(report_json(drill_report))
    ui.drill_summary(out, drill_report, folder)
    _finish(out, launched)


@cli.command()
@STATE_DIR
@click.option("--sop", "sop_id", help="Only runs of this SOP.")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
def runs(state_dir: Path | None, sop_id: str | None, fmt: str) -> None:
    """List runs: SOP, start, operator, incident, status."""
    import json

    from sop.audit.runs import list_runs
    from sop.audit.state import default_state_dir

    found = [r for r in list_runs(state_dir or default_state_dir()) if sop_id in (None, r.sop_id)]
    headers = ("run", "sop", "started", "operator", "incident", "status")
    if fmt == "json":
        click.echo(
            json.dumps([dict(zip(headers, r.as_row(), strict=True)) for r in found], indent=2)
        )
    elif found:
        click.echo(ui.table(headers, [r.as_row() for r in found]))
    else:
        click.echo("no runs", err=True)


@cli.group()
def audit() -> None:
    """Check and read audit logs."""


def _log_path(ref: str, state_dir: Path | None) -> Path:
    from sop.audit.reader import log_path
    from sop.audit.state import default_state_dir, find_run_dir

    path = to_path(ref)
    if path.is_file():
        return path
    return log_path(find_run_dir(state_dir or default_state_dir(), ref))


@audit.command()
@click.argument("ref", metavar="RUN|FILE")
@click.option(
    "--anchor", metavar="SEQ:HASH", help="The head printed at the end of the run (from the ticket)."
)
@_path_option("--key", "The run's verification key (default: ~/.config/sop/audit-keys/RUN.key).")
@STATE_DIR
def verify(ref: str, anchor: str | None, key: Path | None, state_dir: Path | None) -> None:
    """Check a run's audit log: chain, seals, anchor. Exit 0 when it verifies."""
    from sop.audit.state import load_key
    from sop.audit.verify import parse_anchor, run_id_of, verify_file

    path = _log_path(ref, state_dir)
    result = verify_file(
        path, anchor=parse_anchor(anchor) if anchor else None, key0=load_key(run_id_of(path), key)
    )
    if result.ok:
        seq, digest = result.head
        click.echo(f"ok: {result.records} records, head {seq}:{digest}")
        if result.seals_unchecked:
            click.echo(
                f"note: {result.seals_unchecked} seal(s) not checked: no verification key for this run",
                err=True,
            )
        return
    click.echo(f"{path}: {result.findings[0]}")
    for finding in result.findings[1:]:
        click.echo(f"{path}: {finding}", err=True)
    sys.exit(1)


@audit.command("show")
@click.argument("ref", metavar="RUN|FILE")
@STATE_DIR
def audit_show(ref: str, state_dir: Path | None) -> None:
    """Print a run's audit records as a table."""
    from sop.audit.reader import read_entries
    from sop.audit.report import table

    rows = table(read_entries(_log_path(ref, state_dir)))
    click.echo(ui.table(("seq", "time", "action", "step", "host", "outcome", "command"), rows))


@cli.command()
@click.argument("ref", metavar="RUN|FILE")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["markdown", "json"]),
    default="markdown",
    show_default=True,
)
@_path_option("--key", "The run's verification key.")
@STATE_DIR
def report(ref: str, fmt: str, key: Path | None, state_dir: Path | None) -> None:
    """A postmortem-ready timeline of a run, with the audit log's verification status."""
    from sop.audit import report as reports
    from sop.audit.reader import read_log
    from sop.audit.state import load_key

    log = read_log(_log_path(ref, state_dir))  # parsed once, for the timeline and verification
    verification = log.verify(load_key(log.run_id, key))
    click.echo(
        reports.markdown(log.entries, verification)
        if fmt == "markdown"
        else reports.as_json(log.entries, verification)
    )


@cli.command()
@click.argument("scenario_ref", metavar="SCENARIO")
@_path_option(
    "--report",
    "Where to write report.md and report.json (default: STATE_DIR/tabletops/TIME-ID).",
    True,
)
@click.option(
    "--sops",
    "sop_paths",
    multiple=True,
    type=ANY_PATH,
    help="SOP files or folders the team may pick from (default: runbooks/ or $SOP_PATH).",
)
@STATE_DIR
def tabletop(
    scenario_ref: str, report: Path | None, sop_paths: tuple[Path, ...], state_dir: Path | None
) -> None:
    """Run a tabletop exercise: the narrative, then each inject with its clock; record the SOP
    and action the team chose. Writes a report with decisions, time to the right SOP and
    phase coverage. Reads answers from standard input, so they can be piped in."""
    import time

    from sop.audit.state import default_state_dir
    from sop.clock import SystemClock
    from sop.errors import SopFileError
    from sop.format.discovery import load_library
    from sop.format.scenario import find_scenario, load_scenario
    from sop.tabletop.exercise import report_json, report_markdown, run_exercise
    from sop.tabletop.terminal import TerminalFacilitator, summary

    scenario = load_scenario(find_scenario(scenario_ref))
    library = load_library(sop_paths)
    if library.problems:
        raise SopFileError(library.problems)
    exercise = run_exercise(scenario, library.sops, TerminalFacilitator(), SystemClock())
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(exercise.started))
    folder = report or (state_dir or default_state_dir()) / "tabletops" / f"{stamp}-{scenario.id}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.md").write_text(report_markdown(exercise))
    (folder / "report.json").write_text(report_json(exercise))
    summary(exercise, folder)


@cli.command()
@PATHS
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
def coverage(paths: tuple[Path, ...], fmt: str) -> None:
    """Which NIST phases the SOPs cover (identify, protect, detect, respond, recover), and the
    gaps. Exit 1 when a phase has no SOP."""
    import json

    from sop.checks.coverage import coverage_rows, library_coverage
    from sop.errors import SopFileError
    from sop.format.discovery import load_library

    library = load_library(paths)
    if library.problems:
        raise SopFileError(library.problems)
    table = library_coverage(library.sops)
    if fmt == "json":
        click.echo(json.dumps(table.as_dict(), indent=2))
    else:
        click.echo(ui.table(("phase", "status", "sops"), coverage_rows(table)))
        if table.unassigned:
            click.echo(f"\nSOPs without a phase: {', '.join(table.unassigned)}")
    if table.gaps:
        click.echo(f"no SOP for: {', '.join(table.gaps)}", err=True)
        sys.exit(1)


@cli.command()
@PATHS
@click.option(
    "--runs",
    "runs_dir",
    metavar="STATE_DIR",
    type=FOLDER,
    help="The state directory whose audit logs to read (default $SOP_STATE_DIR or ~/.local/state/sop).",
)
@click.option("--top", default=5, show_default=True, help="How many slow manual steps to list.")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
def stats(paths: tuple[Path, ...], runs_dir: Path | None, top: int, fmt: str) -> None:
    """Per SOP: last review, last drill, median drill and real-run time, automation ratio; and
    the slowest manual steps across runs, the best candidates to automate next."""
    import json

    from sop.audit.state import default_state_dir
    from sop.checks.stats import STATS_HEADERS, read_stats, seconds_text, stats_rows
    from sop.errors import SopFileError
    from sop.format.discovery import load_library

    library = load_library(paths)
    if library.problems:
        raise SopFileError(library.problems)
    found = read_stats(library.sops, runs_dir or default_state_dir(), top)
    for run_id, problem in found.untrusted:
        click.echo(
            f"warning: run {run_id}: audit log does not verify ({problem}); ignored", err=True
        )
    if fmt == "json":
        click.echo(json.dumps(found.as_dict(), indent=2))
        return
    click.echo(ui.table(STATS_HEADERS, stats_rows(found)))
    if found.slowest:
        click.echo("\nSlowest manual steps (median across runs): automate these next")
        rows = [
            [m.sop, m.step, m.title, seconds_text(m.median_seconds), str(m.count)]
            for m in found.slowest
        ]
        click.echo(ui.table(("sop", "step", "title", "median", "times"), rows))


def main() -> None:
    try:
        cli(prog_name="sop")
    except KeyboardInterrupt:
        click.echo("\ninterrupted", err=True)
        sys.exit(130)
