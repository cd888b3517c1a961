"""Hostile text in every field of an SOP stays text in every format."""

from __future__ import annotations

import functools
import random
import re
import tempfile
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import markdown
import pytest
from markdown_it import MarkdownIt
from mkdocs.config import load_config

from sop.model import Input, Link, Sop, Step
from sop.render import render_files, render_library
from tests.render import browser
from tests.render.mkdocs import build_strict
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
VOID_TAGS = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source"}
VOID_TAGS |= {"track", "wbr"}
# prose that CommonMark (markdown-it, GitHub) and Python-Markdown (MkDocs) read differently: what
# one takes for code, or for no link, the other can take for markup
PARSER_DIFFERENCES = (
    "~~~\n<script>alert(11)</script>",  # a fence left open: code to CommonMark only
    "```\n<script>alert(12)</script>\n````",  # closed by a longer fence: CommonMark only
    "~~~ two words\n<script>alert(13)</script>\n~~~",  # an info string Python-Markdown refuses
    "  ```\n<script>alert(14)</script>\n  ```",  # an indented fence
    "~~~ a b\nx\n~~~\ny\n~~~\n<script>alert(15)</script>\n~~~",  # fences paired otherwise
    "```\n<script>alert(16)</script>\n\nx\n```",  # a fence indented into a list item, or quoted
    "> ```\n> <script>alert(17)</script>\n>\n> x\n> ```",  # a quoted fence
    "- x\n\n  ```\n  <script>alert(18)</script>\n\n  ```",  # a fence in a list item
    "- a\n\n      <img src=x onerror=alert(19)>",  # indented code in a list item
    "- a\n\n      \\<script>alert(20)</script>",
    "    <script>alert(21)</script>",  # indented code, indented once more into a list item
    "\\<img src=x onerror=alert(22)>",  # `\<` escapes nothing in Python-Markdown
    "`a\n- b` <script>alert(23)</script> `c`",  # Python-Markdown's code spans cross lines
    "``a` <img src=x onerror=alert(24)> `b`",  # and pair unmatched backticks shorter
    "`a\u2028<script>alert(25)</script>`",  # `indent` and `blockquote` cut lines there
    "<mailto:x/onmouseover=alert(26)>",  # no autolink to Python-Markdown without an `@`
    "[a](java\nscript:alert(27))",  # browsers drop the line break
    "[a](`javascript`:alert(28))",  # Python-Markdown puts the code span's text in the link
    "x\n[r]: javascript:alert(29)\n\n[r]",  # a reference definition inside a paragraph
)
C0_AND_SPACE = "".join(map(chr, range(0x21)))
PROSE_FIELDS = ("summary", "context", "impact", "body", "note", "doc")


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


def with_prose(sop: Sop, field: str, text: str, tasks: Path) -> Sop:
    """The sample SOP with `text` in one prose field: its summary, context or impact, the body
    of its prose step, the note of its task step, or that task's docstring (in `tasks`)."""
    if field in ("summary", "context", "impact"):
        return sop._replace(**{field: text})
    steps = list(sop.steps)
    assert (steps[0].kind, steps[2].kind, steps[2].body) == ("prose", "task", "restart_service")
    if field == "body":
        steps[0] = steps[0]._replace(body=text)
    elif field == "note":
        steps[2] = steps[2]._replace(note=text)
    else:
        tasks.write_text(f"@task\ndef restart_service(c):\n    {text!r}\n")
        sop = sop._replace(tasks=tasks)
    return sop._replace(steps=tuple(steps))


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
            if name in ("href", "src") and runs_script(value or ""):
                self.bad.append(f"{tag} {name}={value}")


def runs_script(url: str) -> bool:
    """Whether a browser reads `url` as a script: it drops tabs and line breaks anywhere, and
    controls and spaces at either end, before it reads the scheme."""
    plain = re.sub("[\t\n\r]", "", url).strip(C0_AND_SPACE).lower()
    return plain.startswith(("javascript:", "vbscript:"))


class MainScan(Scan):
    """`Scan` of what is inside the element with `role="main"` (MkDocs' own theme) or the
    `md-content__inner` article (Material) only: where the theme puts the page, away from the
    theme's own scripts."""

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0
        self.elements = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_startendtag(tag, attrs)
        page = ("role", "main") in attrs or ("class", "md-content__inner md-typeset") in attrs
        if (self.depth or page) and tag not in VOID_TAGS:
            self.depth += 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.depth:
            self.elements += 1
            super().handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        self.depth -= bool(self.depth)


def assert_inert(html: str, styles: int = 0) -> None:
    """No element or attribute that runs script; only the page's own style sheet(s)."""
    scan = Scan()
    scan.feed(html)
    assert scan.bad == []
    assert scan.styles == styles


@functools.cache
def _mkdocs_markdown() -> markdown.Markdown:
    """Python-Markdown with the extensions and settings MkDocs reads from the generated
    `mkdocs.yml` (MkDocs' defaults: that file names none)."""
    with tempfile.TemporaryDirectory() as folder:
        for name, text in render_files([], "markdown", mkdocs=True).items():
            (Path(folder) / name).parent.mkdir(parents=True, exist_ok=True)
            (Path(folder) / name).write_text(text)
        config = load_config(str(Path(folder) / "mkdocs.yml"))
    return markdown.Markdown(
        extensions=config.markdown_extensions, extension_configs=config.mdx_configs
    )


def mkdocs_html(page: str) -> str:
    return _mkdocs_markdown().reset().convert(page)


@functools.cache
def _commonmark() -> MarkdownIt:
    """CommonMark with raw HTML passed on, as GitHub parses a page before sanitising it."""
    return MarkdownIt("commonmark", {"html": True}).enable("table")


def commonmark_html(page: str) -> str:
    return _commonmark().render(page)


def assert_inert_in_mkdocs_and_commonmark(page: str) -> None:
    assert_inert(mkdocs_html(page))
    assert_inert(commonmark_html(page))


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


def test_mkdocs_and_chromium_build_no_element_from_prose_the_parsers_read_differently(
    sample_sops: tuple[Sop, ...], tmp_path: Path
) -> None:
    """The whole way: `mkdocs build --strict`, then the page in a real browser."""
    sop = sample_sops[0]
    fields = ("summary", "body", "note", "context")
    texts = (PARSER_DIFFERENCES[0], PARSER_DIFFERENCES[8], *PARSER_DIFFERENCES[11:13])
    for field, text in zip(fields, texts, strict=True):
        sop = with_prose(sop, field, text, tmp_path / "tasks.py")
    render_library([sop], "markdown", tmp_path / "wiki", mkdocs=True)
    build_strict(tmp_path / "wiki")
    page = tmp_path / "wiki" / "site" / "restart-api" / "index.html"
    dom = browser.dump_dom(page, tmp_path / "profile")
    scan = MainScan()
    scan.feed(dom)
    assert scan.elements > 50
    assert (scan.bad, scan.styles) == ([], 0)
    assert "&lt;script&gt;alert(11)&lt;/script&gt;" in dom  # the fence, closed, is code
    assert all(f"alert({n})" in dom for n in (19, 22, 23))  # and the rest text


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
        assert_inert_in_mkdocs_and_commonmark(text)


@pytest.mark.parametrize("field", PROSE_FIELDS)
@pytest.mark.parametrize("text", PARSER_DIFFERENCES)
def test_prose_the_parsers_read_differently_is_inert_in_both(
    sample_sops: tuple[Sop, ...], field: str, text: str, tmp_path: Path
) -> None:
    sop = with_prose(sample_sops[0], field, text, tmp_path / "tasks.py")
    page = render_files([sop], "markdown")["restart-api.md"]
    assert "alert(" in page
    assert_inert_in_mkdocs_and_commonmark(page)


def test_a_fence_left_open_in_prose_does_not_end_a_command_block(
    sample_sops: tuple[Sop, ...],
) -> None:
    """An open `~~~` in the summary ran on to a `~~~` line inside a command's code block, in
    both parsers, and ended that block there: the rest of the command was markup."""
    sop = sample_sops[0]
    steps = list(sop.steps)
    steps[1] = steps[1]._replace(body="cat <<EOF\n~~~\n<img src=x onerror=alert(30)>\nEOF")
    sop = sop._replace(summary="~~~", steps=tuple(steps))
    assert_inert_in_mkdocs_and_commonmark(render_files([sop], "markdown")["restart-api.md"])


# pieces of Markdown the two parsers read differently, for random prose
PIECES = (
    *("```", "~~~", "````", "~~~ a b", "```{.x}", "```sh\n", "`", "``", "\\`", "\\", "- ", "> "),
    *("1. ", "    ", "  ", "\n", "\n\n", "\r", "\u2028", "\x85", "<img src=x onerror=alert(1)>"),
    *("`<img src=x onerror=alert(2)>`", "<script>", "</script>", "\\<svg/onload=alert(3)>", "<!--"),
    *("-->", "[a](", "javascript:alert(4))", "&#106;", "&colon;", "[r]: ", "[r]", "|", "word"),
    *("| a | b |\n| - | - |\n", "<https://x.example>", "<mailto:", "@", " "),
)


def test_random_prose_in_every_field_is_inert_in_both_parsers(
    sample_sops: tuple[Sop, ...], tmp_path: Path
) -> None:
    rng = random.Random(3)
    for number in range(200):
        sop = sample_sops[0]
        for field in PROSE_FIELDS:
            text = "".join(rng.choice(PIECES) for _ in range(rng.randint(1, 12)))
            sop = with_prose(sop, field, text, tmp_path / f"tasks{number}.py")
        assert_inert_in_mkdocs_and_commonmark(render_files([sop], "markdown")["restart-api.md"])


def test_confluence_text_with_control_characters_is_still_xml(evil: Sop) -> None:
    page = render_files([evil._replace(title="bell \x07 nul \x00")], "confluence")
    ET.fromstring(page["evil-script.xml"].join(("<p xmlns:ac='a' xmlns:ri='r'>", "</p>")))
