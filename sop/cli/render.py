"""`sop render`: SOPs as wiki pages."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from sop.cli import ui
from sop.cli.params import EXISTING_FOLDER, FOLDER, PATHS

if TYPE_CHECKING:
    from pathlib import Path


@click.command()
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
    from sop.format.discovery import load_every_sop
    from sop.render import read_history, render_library

    sops = load_every_sop(paths)
    history = read_history(runs_dir) if runs_dir is not None else None
    written = render_library(sops, fmt, out_dir, template_dirs, mkdocs, history)
    ui.echo(f"{len(sops)} SOP(s) rendered: {len(written)} file(s) in {out_dir}", err=True)
