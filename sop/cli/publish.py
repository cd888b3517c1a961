"""`sop publish confluence`: SOPs as pages in a Confluence space, created or updated."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import click

from sop.cli import ui
from sop.cli.params import FILE, PATHS, PLACEHOLDERS, RUNS_DIR, TEMPLATES

if TYPE_CHECKING:
    from pathlib import Path

    from sop.publish import Published

# Confluence refuses these in a label (and spaces: a label is one word)
_LABEL = re.compile(r"[^\s:;,.?&\[\]()#^*@!]{1,255}")


def _labels(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> tuple[str, ...]:
    for label in value:
        if not _LABEL.fullmatch(label):
            raise click.BadParameter(
                f"'{label}': a label is one word without : ; , . ? & [ ] ( ) # ^ * @ !",
                ctx,
                param,
            )
    return tuple(dict.fromkeys(label.lower() for label in value))


@click.group()
def publish() -> None:
    """Publish SOPs to a wiki: create or update their pages through its API."""


@publish.command()
@PATHS
@click.option(
    "--url",
    required=True,
    help="The Confluence site: https://example.atlassian.net/wiki (Cloud) or "
    "https://confluence.example.com (Data Center).",
)
@click.option("--space", required=True, metavar="KEY", help="The key of the space, e.g. OPS.")
@click.option(
    "--parent",
    metavar="TITLE|ID",
    help="Put the index page under this page (a title in the space, or a page id); default: "
    "the space's top level.",
)
@click.option(
    "--label",
    "labels",
    multiple=True,
    callback=_labels,
    help="Add this label to every page (repeatable). Labels are only ever added.",
)
@click.option(
    "--user",
    metavar="EMAIL",
    help="Cloud: the account's e-mail, which goes with its API token. Without it the token is "
    "sent as a bearer token (a Data Center personal access token).",
)
@click.option(
    "--token-env",
    default="CONFLUENCE_TOKEN",
    show_default=True,
    metavar="NAME",
    help="The environment variable that holds the token.",
)
@click.option(
    "--token-file", type=FILE, help="Read the token from this file instead (its first line)."
)
@click.option(
    "--deployment",
    type=click.Choice(["cloud", "data-center"]),
    help="Which REST API to use: Cloud's v2 or Data Center's v1. Default: cloud for an "
    "*.atlassian.net address, else data-center.",
)
@click.option(
    "--task-lists/--plain-lists",
    default=False,
    show_default=True,
    help="Prose steps as task lists (boxes any reader's tick saves in the shared page) or as "
    "plain list items.",
)
@click.option("--adopt", is_flag=True, help="Replace a page of the same title sop did not make.")
@click.option("--dry-run", is_flag=True, help="Say what would change; write nothing.")
@TEMPLATES
@PLACEHOLDERS
@RUNS_DIR
def confluence(
    paths: tuple[Path, ...],
    url: str,
    space: str,
    parent: str | None,
    labels: tuple[str, ...],
    user: str | None,
    token_env: str,
    token_file: Path | None,
    deployment: str | None,
    task_lists: bool,
    adopt: bool,
    dry_run: bool,
    template_dirs: tuple[Path, ...],
    placeholders: str,
    runs_dir: Path | None,
) -> None:
    """Create or update the SOPs' pages in a Confluence space: an index page, and each SOP's
    page under it. A page sop published before is found by its title and updated only when it
    changed (to its next version); labels are added.

    PATHS are files or folders (default: runbooks/ or $SOP_PATH). The token comes from
    $CONFLUENCE_TOKEN (or --token-env NAME, or --token-file FILE), never the command line."""
    from sop.format.discovery import load_every_sop
    from sop.publish import confluence_pages, connect, publish_pages
    from sop.publish.credentials import read_token
    from sop.redact import shared
    from sop.render import read_history

    token = read_token(token_env, token_file)
    shared().add(token)  # masked in every error and traceback from here on
    store = connect(url, space, token, user, deployment)
    sops = load_every_sop(paths)
    history = read_history(runs_dir) if runs_dir is not None else None
    pages = confluence_pages(sops, template_dirs, history, placeholders, task_lists)
    results = publish_pages(store, pages, parent, labels, dry_run=dry_run, adopt=adopt)
    for result in results:
        ui.echo(_line(result))
    ui.echo(_summary(results, space, dry_run), err=True)


def _line(result: Published) -> str:
    where = f" (page {result.page_id}, version {result.version})" if result.page_id else ""
    note = f": {result.note}" if result.note else ""
    return f"{result.action.value:<12}  {result.title}{where}{note}"


def _summary(results: list[Published], space: str, dry_run: bool) -> str:
    counts: dict[str, int] = {}
    for result in results:
        counts[result.action.value] = counts.get(result.action.value, 0) + 1
    parts = ", ".join(f"{n} {action}" for action, n in counts.items())
    tail = " (dry run: nothing written)" if dry_run else ""
    return f"{len(results)} page(s) in space {space}: {parts}{tail}"
