"""`sop import`: a Markdown runbook turned into an SOP file, then linted."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from sop.cli import ui
from sop.cli.params import FILE

if TYPE_CHECKING:
    from pathlib import Path

    from sop.errors import ExitCode


@click.command("import")
@click.argument("markdown", type=FILE)
@click.option("-o", "--output", type=FILE, help="Write the SOP here (default: standard output).")
@click.option("--id", "sop_id", help="The SOP's id (default: made from the file's name).")
@click.option(
    "--source",
    "origin",
    metavar="URL",
    help="Where the runbook comes from, named in the SOP and used for its relative links "
    "(default: the file's path).",
)
@click.option("--force", is_flag=True, help="Overwrite the output file if it exists.")
def import_runbook(
    markdown: Path, output: Path | None, sop_id: str | None, origin: str | None, force: bool
) -> ExitCode:
    """Convert a Markdown runbook into an SOP: its sections into context, impact, links and
    headings, prose into prose steps, shell and console blocks into run steps whose
    placeholders (`<name>`, `$VAR`) become inputs. Nothing in the runbook is run.

    Notes on what needs a person's decision go to standard error and into the SOP as
    comments; with --output, the SOP is linted too."""
    import datetime as dt

    from sop.checks.lint import lint_paths
    from sop.errors import ExitCode, UsageError
    from sop.importer import import_file

    if output is not None and output.exists() and not force:
        raise UsageError(f"{output} exists; choose another file or add --force")
    imported = import_file(markdown, origin=origin, sop_id=sop_id)
    for note in imported.notes:
        ui.echo(f"{markdown}:{note.line}: note: {note.message}", err=True)
    if output is None:
        ui.echo(imported.text, nl=False)
        return ExitCode.OK
    output.write_text(imported.text, encoding="utf-8")
    report = lint_paths([output], today=dt.date.today())
    for problem in report.problems:
        ui.echo(str(problem), err=True)
    ui.echo(
        f"wrote {output} ({imported.sop_id}): {len(imported.notes)} note(s); lint: "
        f"{report.errors} error(s), {report.warnings} warning(s)",
        err=True,
    )
    return ExitCode.FAILED if report.errors else ExitCode.OK
