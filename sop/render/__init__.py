"""Wiki pages from SOPs: Markdown (MkDocs, GitHub wikis), standalone HTML and Confluence storage
format. The pages come from the same files the runner executes, so they cannot drift apart.

Rendering reads SOPs and templates only: it runs no command, imports no tasks file and opens no
connection. The same input gives the same bytes (sorted, no timestamps).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

from sop.audit.history import SopHistory, read_history
from sop.errors import UsageError
from sop.files import FileReadError, read_regular_file
from sop.format.gcpause import cycle_collector_paused
from sop.model import Sop
from sop.render.pages import RenderError, Site, build_site
from sop.render.placeholders import STYLES as PLACEHOLDERS

FORMATS = ("markdown", "html", "confluence")
MKDOCS_DOCS_DIR = "docs"

__all__ = [
    "FORMATS",
    "PLACEHOLDERS",
    "RenderError",
    "SopHistory",
    "read_history",
    "render_files",
    "render_library",
]


def _renderer(fmt: str, task_lists: bool) -> Callable[[Site, tuple[str, ...]], dict[str, str]]:
    if fmt == "markdown":
        from sop.render.markdown import render_pages as render_markdown

        return render_markdown
    if fmt == "html":
        from sop.render.html import render_pages as render_html

        return render_html
    if fmt == "confluence":
        from sop.render.confluence import render_pages as render_confluence

        return lambda site, template_dirs: render_confluence(site, template_dirs, task_lists)
    raise UsageError(f"unknown format '{fmt}'; choose one of {', '.join(FORMATS)}")


def render_files(
    sops: Iterable[Sop],
    fmt: str,
    template_dirs: Sequence[Path] = (),
    mkdocs: bool = False,
    history: Mapping[str, SopHistory] | None = None,
    placeholders: str = PLACEHOLDERS[0],
    techdocs_owner: str | None = None,
    task_lists: bool = True,
) -> dict[str, str]:
    """Every output file as relative path -> text, without writing anything. `history` (from
    `read_history`) adds a "Run history" section and step times to each page. `placeholders`
    is how commands show the values they need (one of `PLACEHOLDERS`). `techdocs_owner` adds
    a Backstage `catalog-info.yaml` (with `mkdocs` only) whose owner it is. `task_lists`
    False makes a Confluence page's prose steps plain list items instead of task lists (whose
    ticked boxes are saved in the page, for every reader)."""
    if mkdocs and fmt != "markdown":
        raise UsageError("--mkdocs goes with --format markdown")
    if techdocs_owner is not None and not mkdocs:
        raise UsageError("--techdocs goes with --mkdocs")
    if not task_lists and fmt != "confluence":
        raise UsageError("--plain-lists goes with --format confluence")
    if placeholders not in PLACEHOLDERS:
        raise UsageError(
            f"unknown placeholder style '{placeholders}'; choose one of {', '.join(PLACEHOLDERS)}"
        )
    for folder in template_dirs:
        if not folder.is_dir():
            raise UsageError(f"{folder}: no such templates folder")
    with cycle_collector_paused():
        site = build_site(sops, history, placeholders)
        files = _renderer(fmt, task_lists)(site, tuple(str(d) for d in template_dirs))
    if not mkdocs:
        return files
    from sop.render.markdown import catalog_info, mkdocs_config

    nested = {f"{MKDOCS_DOCS_DIR}/{name}": text for name, text in files.items()}
    nested["mkdocs.yml"] = mkdocs_config(site, MKDOCS_DOCS_DIR)
    if techdocs_owner is not None:
        nested["catalog-info.yaml"] = catalog_info(site, techdocs_owner)
    return nested


def write_files(files: Mapping[str, str], out_dir: Path) -> list[Path]:
    """Write the files below `out_dir` (created if needed); return their paths, sorted. A name
    that would land outside `out_dir` (also through a symbolic link) is refused before anything
    is written. A file that already holds its text is left as it is (its time too: a site
    server or a sync sees only the pages that changed)."""
    root = os.path.realpath(out_dir)
    targets: list[tuple[str, str]] = []
    for name, text in sorted(files.items()):
        target = os.path.realpath(os.path.join(root, name))
        if os.path.isabs(name) or os.path.commonpath((root, target)) != root or target == root:
            raise RenderError(f"refusing to write '{name}' outside {out_dir}")
        targets.append((target, text))
    folders: set[str] = set()
    written: list[Path] = []
    for target, text in targets:
        folder = os.path.dirname(target)
        if folder not in folders:
            os.makedirs(folder, exist_ok=True)
            folders.add(folder)
        data = text.encode("utf-8")
        if not _holds(target, data):
            with open(target, "wb") as file:
                file.write(data)
        written.append(out_dir / target[len(root) :].lstrip(os.sep))
    return written


def _holds(target: str, data: bytes) -> bool:
    """Whether the regular file at `target` holds exactly `data`; reading it is several times
    cheaper than writing it again."""
    try:
        return read_regular_file(target, len(data), follow_symlinks=False) == data
    except FileReadError:  # missing, larger, not a regular file...
        return False


def render_library(
    sops: Iterable[Sop],
    fmt: str,
    out_dir: Path,
    template_dirs: Sequence[Path] = (),
    mkdocs: bool = False,
    history: Mapping[str, SopHistory] | None = None,
    placeholders: str = PLACEHOLDERS[0],
    techdocs_owner: str | None = None,
    task_lists: bool = True,
) -> list[Path]:
    """Render SOPs as wiki pages of format `fmt` into `out_dir`; return the files written."""
    files = render_files(
        sops, fmt, template_dirs, mkdocs, history, placeholders, techdocs_owner, task_lists
    )
    return write_files(files, out_dir)
