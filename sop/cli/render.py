"""`sop render`: SOPs as wiki pages."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from sop.cli import ui
from sop.cli.params import FILE, FOLDER, PATHS, PLACEHOLDERS, RUNS_DIR, TEMPLATES

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
@TEMPLATES
@click.option("--mkdocs", is_flag=True, help="Also write mkdocs.yml; pages go into OUT/docs/.")
@RUNS_DIR
@PLACEHOLDERS
@click.option(
    "--techdocs",
    "techdocs_owner",
    metavar="OWNER",
    help="With --mkdocs: also write a Backstage catalog-info.yaml (TechDocs from this folder) "
    "owned by OWNER, e.g. group:sre.",
)
@click.option(
    "--plain-lists",
    is_flag=True,
    help="With --format confluence: prose steps as plain list items, not task lists (whose "
    "ticked boxes are saved in the shared page for every reader).",
)
def render(
    paths: tuple[Path, ...],
    fmt: str,
    out_dir: Path,
    template_dirs: tuple[Path, ...],
    mkdocs: bool,
    runs_dir: Path | None,
    placeholders: str,
    techdocs_owner: str | None,
    plain_lists: bool,
) -> None:
    """Render SOPs as wiki pages: one page per SOP plus an index. Runs nothing.

    PATHS are files or folders (default: runbooks/ or $SOP_PATH). Every SOP must load."""
    from sop.format.discovery import load_every_sop
    from sop.render import read_history, render_library

    sops = load_every_sop(paths)
    history = read_history(runs_dir) if runs_dir is not None else None
    written = render_library(
        sops,
        fmt,
        out_dir,
        template_dirs,
        mkdocs,
        history,
        placeholders,
        techdocs_owner,
        task_lists=not plain_lists,
    )
    ui.echo(f"{len(sops)} SOP(s) rendered: {len(written)} file(s) in {out_dir}", err=True)


@click.group()
def alerts() -> None:
    """Alerting rules and the SOPs that answer them."""


@alerts.command("runbook-urls")
@click.argument("rules", type=FILE)
@PATHS
@click.option(
    "--base-url",
    required=True,
    help="Where the rendered pages are served, e.g. https://wiki.example/sops/.",
)
@click.option(
    "--suffix",
    default=".html",
    show_default=True,
    help="What follows a page's name in its URL: .html for `sop render --format html`, / for "
    "MkDocs' directory URLs, .md for Markdown pages served as they are.",
)
@click.option("-o", "--output", type=FILE, help="Write the rule file here instead of stdout.")
def runbook_urls(
    rules: Path, paths: tuple[Path, ...], base_url: str, suffix: str, output: Path | None
) -> None:
    """Print RULES (a Prometheus rule file) with each alert's runbook_url annotation set to the
    rendered page of the SOP that answers it (its `alerts:`), at a step's anchor when a step
    names the alert. Only those values change; comments and layout stay.

    PATHS are the SOP files or folders (default: runbooks/ or $SOP_PATH). Alerts that no SOP, or
    several, answer are left as they are and listed on stderr."""
    from sop.format import yamlnodes
    from sop.format.discovery import load_every_sop
    from sop.render.runbookurls import add_runbook_urls, check_base_url

    check_base_url(base_url)
    shown = str(rules)
    text = yamlnodes.decode(yamlnodes.read_bytes(rules, shown), shown)
    result = add_runbook_urls(text, shown, load_every_sop(paths), base_url, suffix)
    for note in result.notes:
        ui.echo(note, err=True)
    if output is None:
        ui.echo(result.text, nl=False)
    else:
        output.write_text(result.text, encoding="utf-8")
