"""Commands that read the SOP library and run nothing: lint, list, show, schema, coverage,
stats."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from sop.cli import ui
from sop.cli.params import FILE, FOLDER, PATHS, complete_sop, format_option

if TYPE_CHECKING:
    from pathlib import Path

    from sop.errors import ExitCode


@click.command()
@PATHS
@click.option("--strict", is_flag=True, help="Fail on warnings too.")
@format_option("text", "json", "sarif")
@click.option(
    "--inventory",
    type=FILE,
    multiple=True,
    help="Inventory file (repeatable; a dynamic inventory is not run, its hosts not checked).",
)
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
    inventory: tuple[Path, ...],
    runs_dir: Path | None,
    drill_days: int,
) -> ExitCode:
    """Check SOP files: schema, templates, tasks, targets, calls, review dates, tabletop
    scenarios (in scenarios/ folders) and, with --runs, drill dates.

    PATHS are files or folders (default: runbooks/ or $SOP_PATH)."""
    import datetime as dt
    import json

    from sop.checks.lint import lint_paths
    from sop.errors import ExitCode

    report = lint_paths(
        paths, today=dt.date.today(), inventory=inventory, runs=runs_dir, drill_days=drill_days
    )
    if fmt == "json":
        ui.echo(json.dumps(report.as_dict(), indent=2))
    elif fmt == "sarif":
        from sop.checks.sarif import sarif_log

        ui.echo(json.dumps(sarif_log(report), indent=2))
    else:
        for problem in report.problems:
            ui.echo(str(problem))
        ui.echo(
            f"{report.files} file(s) checked: {report.errors} error(s), {report.warnings} warning(s)",
            err=True,
        )
    return ExitCode.FAILED if report.failed(strict) else ExitCode.OK


LIST_HEADERS = ("id", "title", "phase", "owner", "reviewed")


@click.command("list")
@PATHS
@click.option("--tag", multiple=True, help="Only SOPs with this tag (repeatable: all must match).")
@click.option("--phase", help="Only SOPs of this NIST phase.")
@click.option("--alert", help="Only SOPs for this alert name.")
@click.option("--owner", help="Only SOPs of this owner.")
@format_option("text", "json")
def list_sops(
    paths: tuple[Path, ...],
    tag: tuple[str, ...],
    phase: str | None,
    alert: str | None,
    owner: str | None,
    fmt: str,
) -> ExitCode:
    """List SOPs: id, title, phase, owner, last review.

    What it shows of each file is cached until the file changes ($XDG_CACHE_HOME/sop;
    SOP_NO_CACHE=1 reads every file)."""
    from sop.errors import ExitCode
    from sop.format.listcache import catalog

    listing = catalog(paths).matching(tag, phase, alert, owner)
    rows = [[s.id, s.title, s.phase or "", s.owner or "", s.reviewed or ""] for s in listing.rows]
    if fmt == "json":
        import json

        ui.echo(
            json.dumps(
                [
                    dict(zip(LIST_HEADERS, r, strict=True)) | {"path": str(s.path)}
                    for r, s in zip(rows, listing.rows, strict=True)
                ],
                indent=2,
            )
        )
    elif rows:
        ui.echo(ui.table(LIST_HEADERS, rows))
    else:
        ui.echo("no SOP matches", err=True)
    if listing.problems:
        broken = sorted({p.where.file for p in listing.problems})
        ui.error(f"{len(broken)} file(s) failed to load (run `sop lint`): {', '.join(broken)}")
        return ExitCode.FAILED
    return ExitCode.OK


@click.command()
@click.argument("sop_ref", metavar="SOP", shell_complete=complete_sop)
@format_option("text", "json")
def show(sop_ref: str, fmt: str) -> None:
    """Show an SOP as the responder will see it (or, with --format json, every field of it as
    sop loaded it, for tools). Runs nothing."""
    from sop.format.discovery import find_sop
    from sop.format.loader import load_sop

    sop = load_sop(find_sop(sop_ref))
    if fmt == "json":
        import json

        from sop.format.asjson import sop_as_json

        ui.echo(json.dumps(sop_as_json(sop), indent=2))
        return
    ui.show_sop(sop, ui.console())


@click.command()
@click.option("--tabletop", is_flag=True, help="The schema of tabletop scenario files instead.")
@click.option("--inventory", is_flag=True, help="The schema of inventory files instead.")
def schema(tabletop: bool, inventory: bool) -> None:
    """Print the JSON Schema (2020-12) of the SOP format, for editors and CI."""
    import json

    from sop.errors import UsageError

    if tabletop and inventory:
        raise UsageError("--tabletop and --inventory: one schema at a time")
    if tabletop:
        from sop.format.scenario import json_schema
    elif inventory:
        from sop.format.schema import inventory_json_schema as json_schema
    else:
        from sop.format.schema import json_schema
    ui.echo(json.dumps(json_schema(), indent=2))


@click.command()
@PATHS
@format_option("text", "json")
def coverage(paths: tuple[Path, ...], fmt: str) -> ExitCode:
    """Which NIST phases the SOPs cover (identify, protect, detect, respond, recover), and the
    gaps. Exit 1 when a phase has no SOP."""
    import json

    from sop.checks.coverage import coverage_rows, library_coverage
    from sop.errors import ExitCode
    from sop.format.discovery import load_every_sop

    table = library_coverage(load_every_sop(paths))
    if fmt == "json":
        ui.echo(json.dumps(table.as_dict(), indent=2))
    else:
        ui.echo(ui.table(("phase", "status", "sops"), coverage_rows(table)))
        if table.unassigned:
            ui.echo(f"\nSOPs without a phase: {', '.join(table.unassigned)}")
    if table.gaps:
        ui.echo(f"no SOP for: {', '.join(table.gaps)}", err=True)
        return ExitCode.FAILED
    return ExitCode.OK


@click.command()
@PATHS
@click.option(
    "--runs",
    "runs_dir",
    metavar="STATE_DIR",
    type=FOLDER,
    help="The state directory whose audit logs to read (default $SOP_STATE_DIR or ~/.local/state/sop).",
)
@click.option("--top", default=5, show_default=True, help="How many slow manual steps to list.")
@format_option("text", "json")
def stats(paths: tuple[Path, ...], runs_dir: Path | None, top: int, fmt: str) -> None:
    """Per SOP: last review, last drill, median drill and real-run time, automation ratio; and
    the slowest manual steps across runs, the best candidates to automate next."""
    import json

    from sop.audit.state import default_state_dir
    from sop.checks.stats import STATS_HEADERS, read_stats, seconds_text, stats_rows
    from sop.format.discovery import load_every_sop

    found = read_stats(load_every_sop(paths), runs_dir or default_state_dir(), top)
    for run_id, problem in found.untrusted:
        ui.echo(f"warning: run {run_id}: audit log untrusted ({problem}); not counted", err=True)
    if fmt == "json":
        ui.echo(json.dumps(found.as_dict(), indent=2))
        return
    ui.echo(ui.table(STATS_HEADERS, stats_rows(found)))
    if found.slowest:
        ui.echo("\nSlowest manual steps (median across runs): automate these next")
        rows = [
            [m.sop, m.step, m.title, seconds_text(m.median_seconds), str(m.count)]
            for m in found.slowest
        ]
        ui.echo(ui.table(("sop", "step", "title", "median", "times"), rows))
