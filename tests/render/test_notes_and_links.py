"""A heading's note and a step's own links reach every place a step is read: `sop show`,
the terminal of a run or drill, and every rendered format; a link's address is checked by
the schema and escaped in every format."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path

import markdown
import pytest
from rich.console import Console

from sop import events as ev
from sop.cli.ui import TerminalUI, show_sop
from sop.format.loader import load_sop
from sop.model import Link
from sop.render import render_files
from sop.run.testing import run_sop, write_sop

SOP = """\
sop: 1
id: noted
title: Noted
steps:
  - heading: Diagnosis
    note: Read the *dashboards* first.
  - id: look
    prose: Look at the graphs.
    links:
      - title: Latency
        url: https://grafana.example/d/api?var-host=web&from=now-1h
      - title: On-call
        url: mailto:oncall@example.com
      - title: Quoted "<b>bold</b>"
        url: https://x.example/a"onmouseover="alert(1)<script>
  - heading: Fix
  - id: fix
    run: echo fixed
"""


@pytest.fixture
def sop_path(tmp_path: Path) -> Path:
    return write_sop(tmp_path, SOP)


def test_the_step_and_heading_carry_their_links_and_note(sop_path: Path) -> None:
    sop = load_sop(sop_path)
    assert [s.section_note for s in sop.steps] == ["Read the *dashboards* first.", ""]
    assert sop.steps[0].links[:2] == (
        Link("Latency", "https://grafana.example/d/api?var-host=web&from=now-1h"),
        Link("On-call", "mailto:oncall@example.com"),
    )
    assert sop.steps[1].links == ()


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        "data:text/html,x",
        "file:///etc/passwd",
        "vbscript:x",
        "ftp://x.example/",
        "evil.example/x",
        "mailto:",
        "https:// x",
    ],
)
def test_a_link_that_is_not_http_mailto_or_relative_is_refused_where_it_is(
    problems_of: Callable[[str], list[str]], url: str
) -> None:
    text = SOP.replace("mailto:oncall@example.com", json.dumps(url))
    assert problems_of(text) == [
        f"sop.yaml:13:14: steps[1].links[1].url: '{url}': expected an http(s) or mailto URL, "
        "or a relative path starting with '/', './', '../' or '#'"
    ]


def test_relative_links_pass(problems_of: Callable[[str], list[str]]) -> None:
    for url in ("./other.yaml", "../docs/x.md", "/wiki/page", "#step-fix"):
        assert problems_of(SOP.replace("mailto:oncall@example.com", json.dumps(url))) == []


def test_markdown_shows_the_heading_note_and_the_links_escaped(sop_path: Path) -> None:
    page = render_files([load_sop(sop_path)], "markdown")["noted.md"]
    assert "### Diagnosis\n\nRead the *dashboards* first.\n" in page
    assert (
        "Links:\n\n"
        "- [Latency](https://grafana.example/d/api?var-host=web&from=now-1h)\n"
        "- [On-call](mailto:oncall@example.com)\n"
        '- [Quoted "&lt;b&gt;bold&lt;/b&gt;"]'
        "(https://x.example/a%22onmouseover=%22alert%281%29%3Cscript%3E)\n"
    ) in page
    html = markdown.markdown(page, extensions=["tables"])
    assert "<script" not in html and 'onmouseover="' not in html
    assert '<a href="mailto:oncall@example.com">On-call</a>' in html


def test_html_shows_the_heading_note_and_the_links_escaped(sop_path: Path) -> None:
    page = render_files([load_sop(sop_path)], "html")["noted.html"]
    assert (
        '<h3>Diagnosis</h3>\n<div class="section-note">\n'
        "<p>Read the <em>dashboards</em> first.</p>\n\n</div>"
    ) in page
    assert '<li><a href="mailto:oncall@example.com">On-call</a></li>' in page
    assert (
        '<li><a href="https://x.example/a&#34;onmouseover=&#34;alert(1)&lt;script&gt;">'
        "Quoted &#34;&lt;b&gt;bold&lt;/b&gt;&#34;</a></li>"
    ) in page


def test_confluence_shows_the_heading_note_and_the_links_escaped(sop_path: Path) -> None:
    page = render_files([load_sop(sop_path)], "confluence")["noted.xml"]
    assert "<h3>Diagnosis</h3>\n<p>Read the <em>dashboards</em> first.</p>" in page
    assert (
        '<li><a href="https://grafana.example/d/api?var-host=web&amp;from=now-1h">Latency</a></li>'
    ) in page
    assert "<script" not in page


def _plain(render: Callable[[Console], None]) -> str:
    buffer = io.StringIO()
    render(Console(file=buffer, width=200, color_system=None))
    return buffer.getvalue()


def test_sop_show_shows_the_heading_note_and_the_links(sop_path: Path) -> None:
    text = _plain(lambda out: show_sop(load_sop(sop_path), out))
    assert "\nDiagnosis\nRead the dashboards first. " in text
    assert "  link Latency: https://grafana.example/d/api?var-host=web&from=now-1h\n" in text
    assert "  link On-call: mailto:oncall@example.com\n" in text


def test_a_run_shows_the_heading_note_and_the_step_links(sop_path: Path) -> None:
    _, recorder, _ = run_sop(sop_path, yes=True)
    sections = recorder.of(ev.SectionStarted)
    assert [(e.title, e.note) for e in sections] == [
        ("Diagnosis", "Read the *dashboards* first."),
        ("Fix", ""),
    ]
    shown = recorder.of(ev.StepShown)
    assert shown[0].links == load_sop(sop_path).steps[0].links
    text = _plain(lambda out: [TerminalUI(out).emit(e) for e in (sections[0], shown[0])])
    assert "Read the dashboards first." in text
    assert "  link On-call: mailto:oncall@example.com\n" in text


def test_a_heading_note_that_does_not_render_is_shown_as_written(tmp_path: Path) -> None:
    path = write_sop(tmp_path, SOP.replace("Read the *dashboards* first.", "See {{ nothing }}."))
    _, recorder, _ = run_sop(path, yes=True)
    assert recorder.of(ev.SectionStarted)[0].note == "See {{ nothing }}."
