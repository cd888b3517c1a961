"""SOP prose is CommonMark. This module turns it into safe HTML (markdown-it-py, raw HTML off)
and into safe Markdown (raw HTML neutralised), and escapes plain text for Markdown.

The only module of the renderers that imports markdown-it-py, and only when it parses: prose
without `<` and without links that could run script needs no parse for a Markdown page.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from markdown_it import MarkdownIt
    from markdown_it.token import Token

    Finder = Callable[[list[Token]], bool]
    Escape = Callable[[str], str]

# `<` that could open raw HTML: a tag, closing tag, comment, declaration or processing instruction
_HTML_START = re.compile(r"<(?=[A-Za-z/!?])")
# autolinks are links, not HTML: both CommonMark and Python-Markdown (MkDocs) accept these
_AUTOLINK = re.compile(r"<(?:https?://|mailto:)[^\s<>\"'`]*>", re.IGNORECASE)
_BACKTICKS = re.compile(r"`+")
_CODE_BLOCKS = ("fence", "code_block")
_UNSAFE_SCHEMES = ("javascript:", "vbscript:", "data:", "file:")
# where an unsafe link may be: a scheme of _UNSAFE_SCHEMES spelt out (its colon perhaps escaped
# with a backslash) or any entity reference (`&#106;avascript:`)
_UNSAFE_LINK_HINT = re.compile(
    "|".join([*(re.escape(s[:-1]) + r"\\*:" for s in _UNSAFE_SCHEMES), "&"]), re.IGNORECASE
)
# characters that mean something to Markdown inline (and to tables: `|`), backslash-escaped, and
# the characters of HTML as entities (MkDocs does not treat `\<` as an escape)
_INLINE_ESCAPES = str.maketrans(
    {**{c: "\\" + c for c in "\\`*_[]{}()#+!|"}, "&": "&amp;", "<": "&lt;", ">": "&gt;"}
)
_INLINE_SPECIAL = re.compile(r"[\\`*_\[\]{}()#+!|&<>]")
# two blank lines in a row, in text whose every line (the first too) comes after a `\n`
_TWO_BLANK_LINES = re.compile(r"\n[ \t]*\n[ \t]*(?:\n|[ \t]\Z)")
# `[` not escaped by a backslash (after any escaped backslashes)
_UNESCAPED_BRACKET = re.compile(r"(?<!\\)((?:\\\\)*)\[")
# a line as markdown-it numbers them in `Token.map`: it ends lines at `\n`, `\r\n` and `\r`
# only, never at the other separators of `str.splitlines` (`\x0c`, `\x85`, `\u2028`...)
_SOURCE_LINE = re.compile(r"[^\r\n]*(?:\r\n?|\n)|[^\r\n]+\Z")


@functools.cache
def _html_parser() -> MarkdownIt:
    """CommonMark with tables; raw HTML in the source is shown as text, never passed on."""
    return _commonmark(html=False)


@functools.cache
def _block_parser() -> MarkdownIt:
    """`_source_parser` without inline parsing: the same blocks (code blocks among them), for
    a fraction of the time. Blocks never depend on what is inside them."""
    return _source_parser_options().disable("inline")


@functools.cache
def _source_parser() -> MarkdownIt:
    """CommonMark that recognises raw HTML and accepts every link, to find both in the source."""
    return _source_parser_options()


def _commonmark(html: bool) -> MarkdownIt:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": html}).enable("table")


def _source_parser_options() -> MarkdownIt:
    parser = _commonmark(html=True)
    parser.validateLink = lambda url: True  # type: ignore[method-assign]
    return parser


def to_html(text: str) -> str:
    """Prose -> HTML (also well-formed XHTML). Raw HTML comes out escaped; `javascript:` and
    other unsafe links are not made into links."""
    return _html_parser().render(text).strip() + "\n" if text.strip() else ""


def _has_raw_html(tokens: list[Token]) -> bool:
    for token in tokens:
        if token.type in ("html_block", "html_inline"):
            return True
        if token.children and _has_raw_html(token.children):
            return True
    return False


def _is_unsafe_url(url: str) -> bool:
    plain = "".join(c for c in url if c > " ").lower()
    return plain.startswith(_UNSAFE_SCHEMES)


def _has_unsafe_link(tokens: list[Token]) -> bool:
    for token in tokens:
        url = token.attrGet("href") if token.type == "link_open" else token.attrGet("src")
        if isinstance(url, str) and _is_unsafe_url(url):
            return True
        if token.children and _has_unsafe_link(token.children):
            return True
    return False


def _source_lines(text: str) -> list[str]:
    """`text` cut into lines (with their ends) numbered as `_code_lines` numbers them."""
    return _SOURCE_LINE.findall(text)


def _code_lines(tokens: list[Token]) -> set[int]:
    """Line numbers (0-based) of fenced and indented code blocks: their text is shown as is."""
    lines: set[int] = set()
    for token in tokens:
        if token.type in _CODE_BLOCKS and token.map:
            lines.update(range(*token.map))
    return lines


def _escape_outside_code_spans(text: str) -> str:
    """Entity-escape every `<` that could start raw HTML, except inside code spans (where
    both CommonMark and MkDocs show text literally) and autolinks."""
    out: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == "\\":
            out.append(text[i : i + 2])
            i += 2
            continue
        if char == "`":
            run = _BACKTICKS.match(text, i)
            assert run is not None
            closing = re.compile(rf"(?<!`){re.escape(run.group())}(?!`)")
            end = closing.search(text, run.end())
            if end is None:  # an unmatched run is literal backticks
                out.append(run.group())
                i = run.end()
            else:
                out.append(text[i : end.end()])
                i = end.end()
            continue
        if char == "<":
            link = _AUTOLINK.match(text, i)
            if link:
                out.append(link.group())
                i = link.end()
                continue
            if _HTML_START.match(text, i):
                out.append("&lt;")
                i += 1
                continue
        out.append(char)
        i += 1
    return "".join(out)


def _escape_every_lt(text: str) -> str:
    return text.replace("<", "&lt;")


def _escape_brackets(text: str) -> str:
    return _UNESCAPED_BRACKET.sub(r"\1\\[", text)


# each unsafe construct, with the escapes that remove it, mildest first
_NEUTRALISERS: tuple[tuple[Finder, tuple[Escape, ...]], ...] = (
    (_has_raw_html, (_escape_outside_code_spans, _escape_every_lt)),
    (_has_unsafe_link, (_escape_brackets,)),
)


def neutralise(text: str) -> str:
    """Prose for a Markdown page: the same Markdown, but raw HTML shows as text and no link
    can run script (MkDocs' Markdown does not filter `javascript:` links).

    Code (blocks and spans) is left alone. Escaping can change which lines are code (an
    escaped HTML comment no longer ends before an indented line...), so the result is parsed
    again after each escape, and the next, stronger one runs while anything unsafe is left.
    Should the last still leave something, every `<` and `[` is escaped, code included.

    Raw HTML and autolinks need a `<`; other links and images need a `[`, and to run script a
    destination that spells an unsafe scheme or hides one in entity references: text without
    these is returned as it is, unparsed."""
    if "<" not in text and ("[" not in text or not _UNSAFE_LINK_HINT.search(text)):
        return text
    result = text
    tokens = _source_parser().parse(result)
    for unsafe, escapes in _NEUTRALISERS:
        for escape in escapes:
            if not unsafe(tokens):
                break
            result = _outside_code_blocks(result, tokens, escape)
            tokens = _source_parser().parse(result)
    if _has_raw_html(tokens) or _has_unsafe_link(tokens):
        return _escape_brackets(_escape_every_lt(result))
    return result


def _outside_code_blocks(text: str, tokens: list[Token], change: Callable[[str], str]) -> str:
    """Apply `change` to each run of lines of `text` that `tokens` (its parse) show as no
    code block."""
    code = _code_lines(tokens)
    out: list[str] = []
    chunk: list[str] = []
    for number, line in enumerate(_source_lines(text)):
        if number in code:
            out.append(change("".join(chunk)))
            chunk = []
            out.append(line)
        else:
            chunk.append(line)
    out.append(change("".join(chunk)))
    return "".join(out)


def escape_inline(text: str) -> str:
    """Plain text (a title, an owner, a help text) for a Markdown line or table cell: one line,
    Markdown punctuation backslash-escaped, `<` and `&` as entities (MkDocs does not treat
    `\\<` as an escape)."""
    one_line = " ".join(text.split())
    return one_line.translate(_INLINE_ESCAPES) if _INLINE_SPECIAL.search(one_line) else one_line


def code_span(text: str) -> str:
    """Text as an inline code span, with enough backticks to hold any run inside it. Raw
    HTML cannot start in a code span."""
    one_line = " ".join(text.split())
    longest = max((len(m) for m in _BACKTICKS.findall(one_line)), default=0)
    ticks = "`" * (longest + 1)
    pad = " " if one_line.startswith("`") or one_line.endswith("`") else ""
    return f"{ticks}{pad}{one_line}{pad}{ticks}"


def fence(text: str, language: str = "bash") -> str:
    """A fenced code block that no line of `text` can close early."""
    longest = max((len(m) for m in _BACKTICKS.findall(text)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}{language}\n{text.rstrip()}\n{ticks}"


def _is_blank(line: str) -> bool:
    """A blank line as CommonMark defines it: nothing but spaces and tabs."""
    return not line.strip(" \t\r\n")


def _has_two_blank_lines_in_a_row(text: str) -> bool:
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _TWO_BLANK_LINES.search("\n" + text) is not None


def squeeze_blank_lines(text: str) -> str:
    """At most one blank line in a row, except inside code blocks (kept byte for byte).

    Only a blank line after a blank line can go, so text without two in a row is returned
    as it is, unparsed; else the code blocks come from a parse of the blocks alone."""
    if not _has_two_blank_lines_in_a_row(text):
        return text
    code = _code_lines(_block_parser().parse(text))
    out: list[str] = []
    blank = False
    for number, line in enumerate(_source_lines(text)):
        if number not in code and _is_blank(line):
            if blank:
                continue
            blank = True
        else:
            blank = False
        out.append(line)
    return "".join(out)
