"""Prose for Markdown pages: raw HTML and script links neutralised, blank lines squeezed, code
kept as it is."""

from __future__ import annotations

import itertools
import random

import markdown
import pytest
from markdown_it import MarkdownIt
from markdown_it.token import Token

from sop.render import prose
from tests.render.test_xss import assert_inert

# separators that str.splitlines() ends a line at and Markdown parsers do not
LINE_SEPARATORS = ("\x0b", "\x0c", "\x1c", "\x85", "\u2028", "\u2029")


def assert_inert_in_mkdocs_and_commonmark(text: str) -> None:
    assert_inert(markdown.markdown(text, extensions=["tables", "fenced_code", "toc"]))
    assert_inert(MarkdownIt("commonmark", {"html": True}).enable("table").render(text))


@pytest.mark.parametrize("separator", LINE_SEPARATORS)
def test_line_separators_do_not_shift_which_lines_are_code(separator: str) -> None:
    text = f"a{separator}b{separator}c\n<img src=x onerror=alert(1)>\n\n    code\n    code\n"
    assert_inert_in_mkdocs_and_commonmark(prose.neutralise(text))


@pytest.mark.parametrize(
    "text",
    [
        "<!-- x -->\n    <img src=x onerror=alert(1)>\n",
        "<?php x ?>\n    <img src=x onerror=alert(2)>\n",
        "[a](javascript:alert(3))\n\n<!-- x -->\n    [b](javascript:alert(4))\n",
    ],
)
def test_an_escape_that_turns_code_into_text_escapes_that_text_too(text: str) -> None:
    assert_inert_in_mkdocs_and_commonmark(prose.neutralise(text))


def test_escaping_brackets_never_unescapes_one() -> None:
    links = ("[a](javascript:1)", "\\[b](javascript:2)", "\\\\[c](javascript:3)")
    result = prose.neutralise(" ".join(links))
    assert result == "\\[a](javascript:1) \\[b](javascript:2) \\\\\\[c](javascript:3)"
    assert_inert_in_mkdocs_and_commonmark(result)


def test_safe_prose_comes_back_unchanged() -> None:
    text = "See the [runbook](https://example.com) and `<b>`.\n\n```\n<b>x</b>\n```\n"
    assert prose.neutralise(text) == text


@pytest.mark.parametrize(
    ("text", "squeezed"),
    [
        ("a\n\nb\n", "a\n\nb\n"),
        ("a\n\n\n\nb\n", "a\n\nb\n"),
        ("a\n \n\t\nb", "a\n \nb"),
        ("\n\na", "\na"),
        ("a\n\n ", "a\n\n"),
        ("a\r\n\r\n\r\nb", "a\r\n\r\nb"),
        ("a\r\rb", "a\r\rb"),
        ("a\n\x0c\n\x0c\nb", "a\n\x0c\n\x0c\nb"),  # a form feed is no blank line to Markdown
        ("```\nx\n\n\n\ny\n```\n\n\n\nz", "```\nx\n\n\n\ny\n```\n\nz"),
        ("    x\n\n\n    y\n\n\nz", "    x\n\n\n    y\n\nz"),
    ],
)
def test_at_most_one_blank_line_in_a_row_outside_code(text: str, squeezed: str) -> None:
    assert prose.squeeze_blank_lines(text) == squeezed


@pytest.mark.parametrize("separator", LINE_SEPARATORS)
def test_squeezing_keeps_code_after_a_line_separator(separator: str) -> None:
    code = "```\nx\n\n\n\ny\n```\n"
    text = f"a{separator}b{separator}c\n\n{code}\n\nz\n"
    assert prose.squeeze_blank_lines(text) == f"a{separator}b{separator}c\n\n{code}\nz\n"


def two_blank_lines_in_a_row(text: str) -> bool:
    """Lines as Markdown sees them: ended by `\n`, `\r\n` or `\r`, blank when only spaces and
    tabs."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if lines[-1] == "":  # the text ends with a line end, or is empty
        lines.pop()
    blank = [not line.strip(" \t") for line in lines]
    return any(a and b for a, b in itertools.pairwise(blank))


def test_squeezing_parses_exactly_the_text_with_two_blank_lines_in_a_row(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    parsed: list[str] = []
    parser = prose._block_parser()

    class Spy:
        def parse(self, text: str) -> list[Token]:
            parsed.append(text)
            return parser.parse(text)

    monkeypatch.setattr(prose, "_block_parser", Spy)
    rng = random.Random(7)
    for _ in range(3000):
        text = "".join(rng.choice(("a", " ", "\t", "\n", "\r", "\r\n")) for _ in range(8))
        parsed.clear()
        prose.squeeze_blank_lines(text)
        assert bool(parsed) == two_blank_lines_in_a_row(text), repr(text)


SCHEMES = ("javascript", "JaVaScRiPt", "vbscript", "data", "file", "https", "java\\script")
SCHEMES += ("java script", "java\tscript", "&#106;avascript", "java&#x73;cript", "jav&#97;script")
COLONS = (":", "\\:", "\\\\:", "&#58;", "&colon;", "&#x3A;", "%3A", "")
LEADS = ("", " ", "\\", "&#32;", "\t", "x")
LINK_FORMS = ("[a]({})", "![i]({})", "[a]: {}\n\n[a]", "[a](<{}>)", "<{}>")


def test_prose_that_is_not_parsed_holds_nothing_unsafe(monkeypatch: pytest.MonkeyPatch) -> None:
    parser = prose._source_parser()
    parsed: list[str] = []

    class Spy:
        def parse(self, text: str) -> list[Token]:
            parsed.append(text)
            return parser.parse(text)

    monkeypatch.setattr(prose, "_source_parser", Spy)
    rng = random.Random(11)
    unsafe = 0
    for _ in range(5000):
        parts = (LEADS, SCHEMES, COLONS)
        destination = "".join(rng.choice(choices) for choices in parts) + "alert(1)"
        text = rng.choice(LINK_FORMS).format(destination)
        tokens = parser.parse(text)
        if prose._has_unsafe_link(tokens) or prose._has_raw_html(tokens):
            unsafe += 1
            parsed.clear()
            prose.neutralise(text)
            assert parsed, repr(text)
    assert unsafe > 500  # the texts do try


def test_prose_with_only_safe_links_is_not_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_parser() -> None:
        raise AssertionError("parsed")

    monkeypatch.setattr(prose, "_source_parser", no_parser)
    text = "See the [dashboard](https://grafana.example.com/d/1) and [notes][n].\n\n[n]: ./n.md\n"
    assert prose.neutralise(text) == text
