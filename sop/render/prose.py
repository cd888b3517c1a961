"""SOP prose is CommonMark. This module turns it into safe HTML (markdown-it-py, raw HTML off)
and into safe Markdown (raw HTML neutralised), and escapes plain text for Markdown.

The only module of the renderers that imports markdown-it-py.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

from markdown_it import MarkdownIt
from markdown_it.token import Token

# `<` that could open raw HTML: a tag, closing tag, comment, declaration or processing instruction
_HTML_START = re.compile(r"<(?=[A-Za-z/!?])")
# autolinks are links, not HTML: both CommonMark and Python-Markdown (MkDocs) accept these
_AUTOLINK = re.compile(r"<(?:https?://|mailto:)[^\s<>\"'`]*>", re.IGNORECASE)
_BACKTICKS = re.compile(r"`+")
_CODE_BLOCKS = ("fence", "code_block")
_UNSAFE_SCHEMES = ("javascript:", "vbscript:", "data:", "file:")
# characters that mean something to Markdown inline (and to tables: `|`)
_INLINE_SPECIAL = re.compile(r"([\\`*_\[\]{}()#+!|])")


@functools.cache
def _html_parser() -> MarkdownIt:
    """CommonMark with tables; raw HTML in the source is shown as text, never passed on."""
    return MarkdownIt("commonmark", {"html": False}).enable("table")


@functools.cache
def _block_parser() -> MarkdownIt:
    """`_source_parser` without inline parsing: the same blocks (code blocks among them), for
    a fraction of the time. Blocks never depend on what is inside them."""
    return _source_parser_options().disable("inline")


@functools.cache
def _source_parser() -> MarkdownIt:
    """CommonMark that recognises raw HTML and accepts every link, to find both in the source."""
    return _source_parser_options()


def _source_parser_options() -> MarkdownIt:
    parser = MarkdownIt("commonmark", {"html": True}).enable("table")
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


def neutralise(text: str) -> str:
    """Prose for a Markdown page: the same Markdown, but raw HTML shows as text and no link
    can run script (MkDocs' Markdown does not filter `javascript:` links).

    Code (blocks and spans) is left alone. The result is parsed again; should anything still
    read as HTML, every `<` outside code blocks is escaped.

    Raw HTML and autolinks need a `<`, other links and images a `[`: text with neither is
    returned as it is, unparsed."""
    if "<" not in text and "[" not in text:
        return text
    tokens = _source_parser().parse(text)
    result = text
    if _has_raw_html(tokens):
        lines = text.splitlines(keepends=True)
        code = _code_lines(tokens)
        result = _outside_code_blocks(lines, code, _escape_outside_code_spans)
        if _has_raw_html(_source_parser().parse(result)):  # belt and braces
            result = _outside_code_blocks(lines, code, lambda t: t.replace("<", "&lt;"))
        tokens = _source_parser().parse(result)
    if _has_unsafe_link(tokens):
        # no link survives: every `[` outside code blocks is escaped
        lines = result.splitlines(keepends=True)
        code = _code_lines(tokens)
        result = _outside_code_blocks(lines, code, lambda t: t.replace("[", "\\["))
    return result


def _outside_code_blocks(lines: list[str], code: set[int], change: Callable[[str], str]) -> str:
    """Apply `change` to each run of lines that is not a code block."""
    out: list[str] = []
    chunk: list[str] = []
    for number, line in enumerate(lines):
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
    escaped = one_line.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _INLINE_SPECIAL.sub(r"\\\1", escaped)


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


def squeeze_blank_lines(text: str) -> str:
    """At most one blank line in a row, except inside code blocks (kept byte for byte).

    Only a blank line after a blank line can go, so text without two in a row is returned
    as it is; else the code blocks come from a parse of the blocks alone."""
    lines = text.splitlines(keepends=True)
    blank = False
    for line in lines:
        if line.strip():
            blank = False
        elif blank:
            break
        else:
            blank = True
    else:
        return text
    code = _code_lines(_block_parser().parse(text))
    out: list[str] = []
    blank = False
    for number, line in enumerate(lines):
        if number not in code and not line.strip():
            if blank:
                continue
            blank = True
        else:
            blank = False
        out.append(line)
    return "".join(out)
