"""Prose for Markdown pages: raw HTML and script links neutralised, blank lines squeezed, code
that both CommonMark and Python-Markdown (MkDocs) read as code kept as it is."""

from __future__ import annotations

import itertools
import random

import pytest
from markdown_it.token import Token

from sop.render import prose
from tests.render.test_xss import (
    assert_inert_in_mkdocs_and_commonmark,
    commonmark_html,
    mkdocs_html,
)

# separators that str.splitlines() ends a line at and Markdown parsers do not
LINE_SEPARATORS = ("\x0b", "\x0c", "\x1c", "\x85", "\u2028", "\u2029")


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
    text = "See the [runbook](https://example.com) and `<b>`, `{{ host }}`.\n"
    assert prose.neutralise(text) == text
    fenced = f"{text}\n```sh\ncurl '<b>' [a](javascript:x)\n```\n"
    assert prose.neutralise_top_level(fenced) == fenced


def test_fences_stay_code_only_at_the_top_level() -> None:
    """In a list item or a quote, Python-Markdown reads no fence: its lines are text there."""
    text = "Run:\n\n```sh\ncurl '<b>' [a](javascript:x)\n```\n"
    assert prose.neutralise(text) == "Run:\n\n```sh\ncurl '&lt;b>' \\[a](javascript:x)\n```\n"


def test_a_plain_fence_left_open_is_closed_at_the_end_of_the_prose() -> None:
    """Else it runs on through the page, to CommonMark, and can end a command's code block."""
    assert prose.neutralise_top_level("Run:\n\n~~~\n<b>") == "Run:\n\n~~~\n<b>\n~~~"
    assert prose.neutralise("```sh\n<b>\n") == "```sh\n&lt;b>\n```\n"


@pytest.mark.parametrize(
    ("text", "defused"),
    [
        ("~~~ two words\n<b>\n~~~", "&#126;&#126;&#126; two words\n&lt;b>\n&#126;&#126;&#126;"),
        ("```{.x}\n<b>\n```", "&#96;&#96;&#96;\\{.x\\}\n&lt;b>\n&#96;&#96;&#96;"),
        ("  ```\n<b>\n  ```", "  &#96;&#96;&#96;\n&lt;b>\n  &#96;&#96;&#96;"),
        ("```\n<b>\n````", "&#96;&#96;&#96;\n&lt;b>\n&#96;&#96;&#96;&#96;"),
        ("```sh\n<b>\n ```", "&#96;&#96;&#96;sh\n&lt;b>\n &#96;&#96;&#96;"),
    ],
)
def test_fences_the_parsers_read_differently_are_defused(text: str, defused: str) -> None:
    """Python-Markdown wants a fence at the start of a line, an info string of one plain word,
    and the very same fence to close it; and finds its fences anywhere on the page."""
    assert prose.neutralise_top_level(text) == defused
    assert "<pre>" not in mkdocs_html(defused) + commonmark_html(defused)


def test_code_blocks_in_list_items_are_escaped() -> None:
    """Code to CommonMark, but (at least in part) text to Python-Markdown."""
    text = "- a\n\n  ```\n  <b>\n  ```\n\n      <i>\n"
    assert prose.neutralise_top_level(text) == "- a\n\n  ```\n  &lt;b>\n  ```\n\n      &lt;i>\n"


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ("a `<b>` ``<i>` c``", "a `<b>` ``<i>` c``"),
        ("`<b>`\n\n`x", "`<b>`\n\n`x"),  # a stray backtick in another paragraph
        ("`<b>`\n`x", "`&lt;b>`\n`x"),  # in the same one: Python-Markdown could pair it
        ("``<b>`", "``&lt;b>`"),  # Python-Markdown would try a shorter run
        ("\\``<b>`", "\\``&lt;b>`"),
        ("`a\u2028<b>`", "`a\u2028&lt;b>`"),  # `indent` and `blockquote` cut the line there
        ("\\<b> \\\\<i>", "&lt;b> \\\\&lt;i>"),  # `\<` escapes nothing in Python-Markdown
        (
            "<mailto:a@b.example> <mailto:a/onmouseover=alert(1)>",
            "[a@b.example](mailto:a@b.example) &lt;mailto:a/onmouseover=alert(1)>",
        ),
    ],
)
def test_code_spans_are_kept_where_both_parsers_see_them(text: str, escaped: str) -> None:
    assert prose.neutralise(text) == escaped


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
SCHEMES += ("java\nscript", "`javascript`", "java&Tab;script", "`java`&#x73;cript")
COLONS = (":", "\\:", "\\\\:", "&#58;", "&colon;", "&#x3A;", "%3A", "")
LEADS = ("", " ", "\\", "&#32;", "\t", "x", "\n", "\xa0")
LINK_FORMS = ("[a]({})", "[a]: {}\n\n[a]", "x\n[a]: {}\n\n[a]", "[a](<{}>)", "<{}>")


def test_links_that_could_run_script_come_back_inert() -> None:
    rng = random.Random(11)
    unsafe = 0
    for _ in range(2000):
        parts = (LEADS, SCHEMES, COLONS)
        destination = "".join(rng.choice(choices) for choices in parts) + "alert(1)"
        text = rng.choice(LINK_FORMS).format(destination)
        result = prose.neutralise(text)
        assert_inert_in_mkdocs_and_commonmark(result)
        tokens = prose._source_parser().parse(text)
        if prose._has_unsafe_link(tokens) or prose._has_raw_html(tokens):
            unsafe += 1
            assert result != text
    assert unsafe > 200  # the texts do try


@pytest.mark.parametrize(
    "text",
    [
        "[a](java\nscript:1)",  # browsers drop line breaks and tabs from addresses
        "[a](`javascript`:1)",  # Python-Markdown puts the code span's text in the link
        "x\n[r]: javascript:1",  # a reference definition inside a paragraph
        "[a] (javascript:1)",
        "[a](&#x6A;avascript&colon;1)",
        "[a](<javascript:1>)",
        "![i](data:image/svg+xml,1)",
    ],
)
def test_destinations_that_could_run_script_are_found(text: str) -> None:
    assert prose._has_unsafe_destination(text)
    assert prose.neutralise(text).count("\\[") == text.count("[")


def test_every_space_and_control_character_is_taken_for_hiding_a_scheme() -> None:
    hiding = [chr(c) for c in range(0x110000) if c < 0x21 or chr(c).isspace()]
    for char in hiding:
        assert prose._has_unsafe_destination(f"[a](j{char}avascript:1)"), hex(ord(char))


def test_prose_with_only_safe_links_is_not_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_parser() -> None:
        raise AssertionError("parsed")

    monkeypatch.setattr(prose, "_source_parser", no_parser)
    text = "See the [dashboard](https://grafana.example.com/d/1) and [notes][n].\n\n[n]: ./n.md\n"
    assert prose.neutralise(text) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{{ host }} and `{{ host }}`", "\\{\\{ host \\}\\} and `{{ host }}`"),
        ("already \\{ escaped", "already \\{ escaped"),
        ("a <= b, 1 <2, a < b", "a &lt;= b, 1 &lt;2, a &lt; b"),
        (
            "see <https://x.example/a_(b)>",
            "see [https://x.example/a\\_\\(b\\)](https://x.example/a_%28b%29)",
        ),
    ],
)
def test_prose_is_mdx_outside_code(text: str, expected: str) -> None:
    """MDX reads braces as expressions, `<` before a letter, `=` or digit as a tag, and has no
    autolinks; the escapes read the same to CommonMark and Python-Markdown."""
    assert prose.neutralise(text) == expected


SPAN_PIECES = ("`", "``", "<b>", "<", "x", " ", "|", "\n", "\\", "\\`", "<b x='`'>", "&lt;")


def test_prose_is_left_unparsed_only_where_commonmark_reads_no_raw_html() -> None:
    """The check skips the parse when every `<` is in a plain code span: for random mixes of
    backticks, tags, pipes, escapes and line ends, it never skips one that holds raw HTML, and it
    does skip the plain ones."""
    rng = random.Random(5)
    skipped = 0
    for _ in range(4000):
        text = "".join(rng.choice(SPAN_PIECES) for _ in range(rng.randint(1, 9)))
        if "<" in prose._outside_plain_spans(text):
            continue
        skipped += "<" in text
        tokens = prose._source_parser().parse(text)
        assert not prose._has_raw_html(tokens), repr(text)
        assert prose._checked(text) == text
    assert skipped > 20  # the texts do reach the fast path with a `<` in them


def test_placeholders_in_code_spans_are_not_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_parse() -> None:
        raise AssertionError("parsed")

    monkeypatch.setattr(prose, "_source_parser", no_parse)
    text = "`<service>` on `<host>` fails; see [the board](https://example.com/1)."
    assert prose.neutralise(text) == text
