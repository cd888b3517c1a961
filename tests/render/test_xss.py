"""Hostile text in every field of an SOP stays text in every format."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import markdown
import pytest
from markdown_it import MarkdownIt

from sop.model import Input, Link, Sop, Step
from sop.render import render_files, render_library
from tests.render import browser
from tests.render.test_confluence import parse

CORPUS = (
    "<script>alert(1)</script>",
    '" onload="alert(2)',
    "'><img src=x onerror=alert(3)>",
    "<svg/onload=alert(4)>",
    "<iframe src=javascript:alert(5)></iframe>",
    "]]><script>alert(6)</script><![CDATA[",
    "<!-- --><script>alert(7)</script>",
    "[click](javascript:alert(8))",
    "<a href='javascript:alert(9)'>x</a>",
    "`<b>` <style>body{display:none}</style>",
    "&lt;script&gt;alert(10)&lt;/script&gt; {{ 7 * 7 }}",
)
EVIL = " ".join(CORPUS)
BAD_TAGS = {"script", "img", "svg", "iframe", "object", "embed"}


def hostile(sop: Sop) -> Sop:
    """The sample SOP with the whole corpus in every text field."""

    def step(s: Step, kind: str) -> Step:
        return s._replace(
            id=f"x-{s.id}<script>",
            title=EVIL,
            body=EVIL if kind != "task" else "restart_service",
            note=EVIL,
            section=EVIL,
            when=EVIL,
            capture=EVIL,
            on=(EVIL,),
            ask=(Input(name=EVIL, help=EVIL, default=EVIL),),
            args={EVIL: EVIL},
            with_inputs={EVIL: EVIL},
            kind=kind,
        )

    steps = tuple(
        step(s, k)
        for s, k in zip(sop.steps, ("prose", "run", "task", "script", "call"), strict=True)
    )
    return sop._replace(
        id="evil<script>",
        title=EVIL,
        summary=EVIL,
        owner=EVIL,
        phase=EVIL,
        tags=(EVIL,),
        alerts=(EVIL,),
        context=EVIL,
        impact=EVIL,
        links=(Link(EVIL, 'https://x.example/?q="><script>alert(1)</script>'), Link(EVIL, EVIL)),
        inputs=(
            Input(name=EVIL, help=EVIL, default=EVIL, pattern=EVIL, choices=(EVIL,), env=EVIL),
        ),
        steps=steps,
        rollback=(step(sop.rollback[0], "run"),),
    )


class Scan(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.bad: list[str] = []
        self.styles = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.styles += tag == "style"
        if tag in BAD_TAGS:
            self.bad.append(tag)
        for name, value in attrs:
            if name.startswith("on"):
                self.bad.append(f"{tag} {name}=")
            if name in ("href", "src") and "script:" in "".join((value or "").split()).lower():
                self.bad.append(f"{tag} {name}={value}")


def assert_inert(html: str, styles: int = 0) -> None:
    """No element or attribute that runs script; only the page's own style sheet(s)."""
    scan = Scan()
    scan.feed(html)
    assert scan.bad == []
    assert scan.styles == styles


@pytest.fixture(scope="module")
def evil(sample_sops: tuple[Sop, ...]) -> Sop:
    return hostile(sample_sops[0])


def test_the_scanner_finds_markup() -> None:
    with pytest.raises(AssertionError):
        assert_inert(EVIL)
    with pytest.raises(AssertionError):
        assert_inert(markdown.markdown("[click](javascript:alert(8))"))


def test_html_pages_keep_the_corpus_as_text(evil: Sop) -> None:
    files = render_files([evil], "html")
    assert set(files) == {"evil-script.html", "index.html"}
    for text in files.values():
        assert_inert(text, styles=1)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in files["evil-script.html"]
    assert "{{ 7 * 7 }}" in files["evil-script.html"]


def test_chromium_builds_no_element_from_the_corpus(evil: Sop, tmp_path: Path) -> None:
    render_library([evil], "html", tmp_path / "site")
    dom = browser.dump_dom(tmp_path / "site" / "evil-script.html", tmp_path / "profile")
    assert_inert(dom, styles=1)
    assert "<script>alert(1)</script>" not in dom


def test_confluence_pages_stay_well_formed_and_inert(evil: Sop) -> None:
    files = render_files([evil], "confluence")
    for name in ("evil-script.xml", "index.xml"):
        root = parse(files[name])
        assert not [e.tag for e in root.iter() if e.tag.split("}")[-1] in BAD_TAGS]
        assert not [a for e in root.iter() for a in e.attrib if a.startswith("on")]
        assert_inert(ET.tostring(root, encoding="unicode"))


def test_markdown_pages_are_inert_in_mkdocs_and_commonmark(evil: Sop) -> None:
    files = render_files([evil], "markdown")
    for text in files.values():
        assert_inert(markdown.markdown(text, extensions=["tables", "fenced_code", "toc"]))
        assert_inert(MarkdownIt("commonmark", {"html": True}).enable("table").render(text))


def test_confluence_text_with_control_characters_is_still_xml(evil: Sop) -> None:
    page = render_files([evil._replace(title="bell \x07 nul \x00")], "confluence")
    ET.fromstring(page["evil-script.xml"].join(("<p xmlns:ac='a' xmlns:ri='r'>", "</p>")))
