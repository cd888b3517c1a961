"""The command line. Thin: parse arguments, call the library, print, map errors to exit codes.

Exit codes: 0 ok, 1 an error (a bad SOP, a failed step, a refused action), 2 a usage error,
130 interrupted.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

import click

from sop import __version__, ui
from sop.errors import SopError, SopFileError

PATHS = click.argument("paths", nargs=-1, type=click.Path(path_type=Path))


class SopGroup(click.Group):
    """Translates every `SopError` into its message and exit code, in one place."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SopFileError as exc:
            for problem in exc.problems:
                click.echo(str(problem), err=True)
            ctx.exit(exc.exit_code)
        except SopError as exc:
            ui.error(str(exc))
            ctx.exit(exc.exit_code)


@click.group(cls=SopGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="sop")
def cli() -> None:
    """Executable Standard Operating Procedures: YAML checklists you can lint, show and run."""


@cli.command()
@PATHS
@click.option("--strict", is_flag=True, help="Fail on warnings too.")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@click.option(
    "--inventory", type=click.Path(path_type=Path, dir_okay=False), help="Inventory file."
)
def lint(paths: tuple[Path, ...], strict: bool, fmt: str, inventory: Path | None) -> None:
    """Check SOP files: schema, templates, tasks, targets, calls, review dates.

    PATHS are files or folders (default: runbooks/ or $SOP_PATH)."""
    from sop.lint import lint_paths

    report = lint_paths(paths, today=dt.date.today(), inventory=inventory)
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
    """List SOPs: id, title, phase, owner, last review."""
    from sop.library import load_library

    library = load_library(paths)
    sops = [
        s
        for s in library.sops
        if set(tag) <= set(s.tags)
        and (phase is None or s.phase == phase)
        and (alert is None or alert in s.alerts)
        and (owner is None or s.owner == owner)
    ]
    sops.sort(key=lambda s: s.id)
    rows = [[s.id, s.title, s.phase or "", s.owner or "", str(s.reviewed or "")] for s in sops]
    if fmt == "json":
        keys = ("id", "title", "phase", "owner", "reviewed")
        click.echo(
            json.dumps(
                [
                    dict(zip(keys, r, strict=True)) | {"path": str(s.path)}
                    for r, s in zip(rows, sops, strict=True)
                ],
                indent=2,
            )
        )
    elif rows:
        click.echo(ui.table(("id", "title", "phase", "owner", "reviewed"), rows))
    else:
        click.echo("no SOP matches", err=True)
    if library.problems:
        broken = sorted({p.where.file for p in library.problems})
        ui.error(f"{len(broken)} file(s) failed to load (run `sop lint`): {', '.join(broken)}")
        sys.exit(1)


@cli.command()
@click.argument("sop_ref", metavar="SOP")
def show(sop_ref: str) -> None:
    """Show an SOP as the responder will see it. Runs nothing."""
    from sop.library import find_sop
    from sop.loader import load_sop

    sop = load_sop(find_sop(sop_ref))
    ui.show_sop(sop, ui.console())


@cli.command()
def schema() -> None:
    """Print the JSON Schema (2020-12) of the SOP format, for editors and CI."""
    from sop.schema import json_schema

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
    type=click.Path(path_type=Path, file_okay=False),
    required=True,
    help="Folder to write the pages into (created if needed).",
)
@click.option(
    "--templates",
    "template_dirs",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    multiple=True,
    help="Folder of templates that override the built-in ones by name (repeatable).",
)
@click.option("--mkdocs", is_flag=True, help="Also write mkdocs.yml; pages go into OUT/docs/.")
def render(
    paths: tuple[Path, ...],
    fmt: str,
    out_dir: Path,
    template_dirs: tuple[Path, ...],
    mkdocs: bool,
) -> None:
    """Render SOPs as wiki pages: one page per SOP plus an index. Runs nothing.

    PATHS are files or folders (default: runbooks/ or $SOP_PATH). Every SOP must load."""
    from sop.library import load_library
    from sop.render import render_library

    library = load_library(paths)
    if library.problems:
        raise SopFileError(library.problems)
    written = render_library(library.sops, fmt, out_dir, template_dirs, mkdocs)
    click.echo(
        f"{len(library.sops)} SOP(s) rendered: {len(written)} file(s) in {out_dir}", err=True
    )


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
    "--secret-file", multiple=True, metavar="NAME=PATH", help="Read a secret input from a file."
)
@click.option(
    "-a",
    "--answer",
    "answers",
    multiple=True,
    metavar="NAME=VALUE",
    help="Answer a prose step's question.",
)
@click.option(
    "--on",
    "on",
    multiple=True,
    metavar="TARGET",
    help="Run on this host or group instead of the SOP's default.",
)
@click.option(
    "--inventory", type=click.Path(path_type=Path, dir_okay=False), help="Inventory file."
)
@click.option("--incident", metavar="ID", help="The incident this run belongs to (ticket id).")
@click.option(
    "--yes", is_flag=True, help="Answer ordinary confirmations (CI, automation); never typed ones."
)
@click.option(
    "--confirm",
    "confirm_ids",
    multiple=True,
    metavar="STEP_ID",
    help="With --yes: confirm this typed/always step too.",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Show every step with its command and hosts; run and connect to nothing.",
)
@click.option(
    "--known-hosts",
    type=click.Path(path_type=Path, dir_okay=False),
    help="known_hosts file to trust (default ~/.ssh/known_hosts).",
)
@click.option(
    "--ssh-config",
    type=click.Path(path_type=Path, dir_okay=False),
    help="ssh config file (default ~/.ssh/config).",
)
def run(
    sop_ref: str,
    inputs: tuple[str, ...],
    secret_file: tuple[str, ...],
    answers: tuple[str, ...],
    on: tuple[str, ...],
    inventory: Path | None,
    incident: str | None,
    yes: bool,
    confirm_ids: tuple[str, ...],
    dry_run: bool,
    known_hosts: Path | None,
    ssh_config: Path | None,
) -> None:
    """Walk through an SOP, step by step, running its commands after you confirm them."""
    from sop.clock import SystemClock
    from sop.errors import UsageError
    from sop.inputs import parse_assignments
    from sop.launch import RunRequest, launch
    from sop.runner import RunOptions, default_operator

    interactive = not yes and not dry_run
    if interactive and not sys.stdin.isatty():
        raise UsageError(
            "sop run asks you at every step: run it in a terminal, or pass --yes (or --dry-run)"
        )
    out = ui.console()
    prompter = ui.TerminalPrompter(out) if interactive else None
    request = RunRequest(
        sop=sop_ref,
        inputs=parse_assignments(inputs, "-i"),
        secret_files={
            k: Path(v) for k, v in parse_assignments(secret_file, "--secret-file").items()
        },
        inventory=inventory,
        known_hosts=known_hosts,
        ssh_config=ssh_config,
        options=RunOptions(
            yes=yes,
            dry_run=dry_run,
            confirm=frozenset(confirm_ids),
            answers=parse_assignments(answers, "-a"),
            on=on or None,
            incident=incident,
            operator=default_operator(),
        ),
    )
    asker = ui.TerminalPrompter(out) if sys.stdin.isatty() else None
    result = launch(
        request, prompter=prompter, asker=asker, sinks=[ui.TerminalUI(out)], clock=SystemClock()
    )
    sys.exit(result.exit_code)


def main() -> None:
    try:
        cli(prog_name="sop")
    except KeyboardInterrupt:
        click.echo("\ninterrupted", err=True)
        sys.exit(130)
