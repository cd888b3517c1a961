"""The runbooks migrated from public sources (issue 15) render faithfully: their queries as
written, their notes, decisions and attribution in every format, and MkDocs builds them strictly."""

from __future__ import annotations

from pathlib import Path

from sop.render import render_files, render_library
from tests.render.conftest import RUNBOOKS, load
from tests.render.mkdocs import build_strict

MIGRATED = (
    "linux-perf-60s",
    "postgres-disk-space",
    "postgres-rebuild-standby",
    "ransomware-playbook",
    "ransomware-user-actions",
    "ransomware-help-desk",
)


def test_mkdocs_builds_the_migrated_runbooks_strictly(tmp_path: Path) -> None:
    sops = load(*(RUNBOOKS / f"{name}.yaml" for name in MIGRATED))
    render_library(sops, "markdown", tmp_path, mkdocs=True)
    build_strict(tmp_path)
    built = (tmp_path / "site" / "postgres-disk-space" / "index.html").read_text()
    assert '<a href="#section-remove-wal">Remove old WAL files by hand</a>' in built
    playbook = (tmp_path / "site" / "ransomware-playbook" / "index.html").read_text()
    assert '<a href="#section-contain">Contain</a>' in playbook  # going back to containment


def test_the_sql_shows_as_written_and_the_exits_that_are_findings_are_named() -> None:
    (sop,) = load(RUNBOOKS / "postgres-disk-space.yaml")
    page = render_files([sop], "markdown")["postgres-disk-space.md"]
    assert "select * from pg_replication_slots;" in page
    assert "select pg_drop_replication_slot({{ slot | sql_literal }});" in page
    assert "**Succeeds with exit:** `0, 2`" in page
    assert "**Confirm:** typed: &lt;slot&gt;" in page  # the word to type: the slot
    html = render_files([sop], "html")["postgres-disk-space.html"]
    assert "<h3>Don't panic</h3>" in html


def test_every_page_names_its_original() -> None:
    for name in MIGRATED:
        (sop,) = load(RUNBOOKS / f"{name}.yaml")
        assert sop.links[0].title.startswith("Original: "), name
        page = render_files([sop], "markdown")[f"{name}.md"]
        assert f"[Original: {sop.links[0].title[len('Original: ') :]}" in page.replace("\\", "")


def test_an_interactive_step_says_it_takes_the_terminal_in_every_format(tmp_path: Path) -> None:
    (sop,) = load(RUNBOOKS / "linux-perf-60s.yaml")
    markdown = render_files((sop,), "markdown")["linux-perf-60s.md"]
    top = markdown[markdown.index("top: anything wildly different?") :]
    assert "**Interactive:** takes your terminal · **On:** `<host>` · **Confirm:** never" in top
    assert markdown.count("**Interactive:**") == 1  # top; vmstat and the others are not
    html = render_files((sop,), "html")["linux-perf-60s.html"]
    assert "<dt>Interactive:</dt> <dd>takes your terminal</dd>" in html
    (page,) = [t for n, t in render_files((sop,), "confluence").items() if "linux" in n]
    assert "<strong>Interactive:</strong> takes your terminal" in page
    render_library((sop,), "markdown", tmp_path, mkdocs=True)
    build_strict(tmp_path)
    built = (tmp_path / "site" / "linux-perf-60s" / "index.html").read_text()
    assert "<strong>Interactive:</strong> takes your terminal" in built
