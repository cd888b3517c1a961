"""Prose that starts with a list (or a heading, a quote, code) is no text for a task item's
line: it goes under a task line of its own (the step's title), as nested blocks."""

from __future__ import annotations

import re
from pathlib import Path

import markdown
import pytest
from markdown_it import MarkdownIt

from sop.render import render_files, render_library
from sop.render.prose import opens_with_paragraph
from tests.render import browser
from tests.render.conftest import load
from tests.render.mkdocs import build_strict

SOP = """\
sop: 1
id: list-first
title: List first
steps:
  - id: check
    title: Check the basics
    prose: |
      - the disk
      - the logs

      Then carry on.
  - id: plain
    prose: Just a paragraph.
"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Just a paragraph.", True),
        ("Two lines\nof one paragraph.", True),
        ("`code` first is inline.", True),
        ("- a\n- b", False),
        ("1. a\n2. b", False),
        ("* a", False),
        ("> quoted", False),
        ("# Heading", False),
        ("#tag (a heading to Python-Markdown)", False),
        ("```\ncode\n```", False),
        ("    indented code", False),
        ("Title\n=====\n\ntext", False),
    ],
)
def test_opens_with_paragraph(text: str, expected: bool) -> None:
    assert opens_with_paragraph(text) is expected


def _page(tmp_path: Path) -> str:
    (tmp_path / "list-first.yaml").write_text(SOP)
    return render_files(load(tmp_path / "list-first.yaml"), "markdown")["list-first.md"]


def test_a_list_first_body_goes_under_the_step_title(tmp_path: Path) -> None:
    page = _page(tmp_path)
    item = "- [ ] Check the basics\n\n    - the disk\n    - the logs\n\n    Then carry on.\n"
    assert item in page
    assert "- [ ] Just a paragraph.\n" in page


def _squeezed(html: str) -> str:
    return re.sub(r">\s+<", "><", html)


NESTED = (
    "<li><p>[ ] Check the basics</p><ul><li>the disk</li><li>the logs</li></ul>"
    "<p>Then carry on.</p></li>"
)


def test_both_parsers_read_a_nested_list(tmp_path: Path) -> None:
    page = _page(tmp_path)
    commonmark = _squeezed(MarkdownIt("commonmark").render(page))
    python_markdown = _squeezed(markdown.markdown(page))
    assert NESTED in commonmark
    assert NESTED in python_markdown


def test_mkdocs_and_chromium_show_a_box_with_a_nested_list(tmp_path: Path) -> None:
    (tmp_path / "sops").mkdir()
    (tmp_path / "sops" / "list-first.yaml").write_text(SOP)
    site = tmp_path / "site"
    render_library(load(tmp_path / "sops"), "markdown", site, mkdocs=True)
    build_strict(site)
    dom = browser.dump_dom(site / "site" / "list-first" / "index.html", tmp_path / "profile")
    # a box to tick (pymdownx.tasklist), and the list nested under it
    assert (
        '<li class="task-list-item"><p><input type="checkbox"> Check the basics</p>'
        "<ul><li>the disk</li><li>the logs</li></ul><p>Then carry on.</p></li>"
    ) in _squeezed(dom)
