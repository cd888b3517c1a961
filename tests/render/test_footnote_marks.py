"""`<sup>1</sup>` footnote marks (and `<sub>`) in prose were shown as text, since raw HTML is:
they are markup in every format now, around plain text only."""

from __future__ import annotations

from pathlib import Path

import markdown
import pytest
from markdown_it import MarkdownIt

from sop.render import prose, render_files
from tests.render.conftest import load
from tests.render.test_mdx import compile_mdx

PROSE = "The disk is 95%<sup>1</sup> full, H<sub>2</sub>O.\n\n<sup>1</sup> The dashboard rounds up."
SOP = f"""\
sop: 1
id: marks
title: Marks
owner: team-sre
reviewed: 2026-10-01
context: |
  {PROSE.replace(chr(10), chr(10) + "  ")}
steps:
  - id: look
    prose: |
      {PROSE.replace(chr(10), chr(10) + "      ")}
"""
SHOWN = "The disk is 95%<sup>1</sup> full, H<sub>2</sub>O."


def test_to_html_keeps_the_marks() -> None:
    assert prose.to_html(PROSE) == (
        f"<p>{SHOWN}</p>\n<p><sup>1</sup> The dashboard rounds up.</p>\n"
    )


@pytest.mark.parametrize(
    "text",
    [
        "<sup onclick=alert(1)>1</sup>",
        "<sup><b>1</b></sup>",
        "<SUP>1</SUP>",  # a component to MDX
        "<sup>{x}</sup>",
        "<sup>1</sub>",
        "<sup>1",
    ],
)
def test_anything_else_stays_text(text: str) -> None:
    assert "<sup" not in prose.to_html(text).lower()
    assert "<sup" not in prose.neutralise(text).lower()


def test_code_keeps_the_tags_as_text() -> None:
    assert prose.to_html("`<sup>1</sup>`") == "<p><code>&lt;sup&gt;1&lt;/sup&gt;</code></p>\n"


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "marks.yaml").write_text(SOP)
    sops = load(tmp_path / "marks.yaml")
    return {
        **render_files(sops, "markdown"),
        **render_files(sops, "html"),
        **render_files(sops, "confluence"),
    }


def test_every_format_shows_the_marks(files: dict[str, str]) -> None:
    page = files["marks.md"]
    for html in (
        files["marks.html"],
        files["marks.xml"],
        markdown.markdown(page),
        MarkdownIt("commonmark").render(page),
    ):
        assert html.count(SHOWN) == 2  # context and step
        assert html.count("<sup>1</sup> The dashboard rounds up.") == 2


def test_the_markdown_page_compiles_as_mdx(files: dict[str, str], tmp_path: Path) -> None:
    page = tmp_path / "marks.md"
    page.write_text(files["marks.md"])
    result = compile_mdx([page])
    assert result.returncode == 0, result.stdout + result.stderr
