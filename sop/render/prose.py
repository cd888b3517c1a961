"""SOP prose is CommonMark. This module turns it into safe HTML (markdown-it-py, raw HTML off)
and into safe Markdown (raw HTML neutralised), and escapes plain text for Markdown.

Safe Markdown must stay safe in two parsers that disagree in places: CommonMark (GitHub) and
Python-Markdown (MkDocs). Only what both certainly read as code is left as it is; everything
else is escaped, code to one of them or not.

The only module of the renderers that imports markdown-it-py, and only when it parses: prose
without `<`, fences and links that could run script needs no parse for a Markdown page.
"""

from __future__ import annotations

import functools
import re
from html import unescape
from typing import TYPE_CHECKING, NamedTuple
from urllib.parse import quote

if TYPE_CHECKING:
    from markdown_it import MarkdownIt
    from markdown_it.rules_inline import StateInline
    from markdown_it.token import Token

# `<` that could open raw HTML: a tag, closing tag, comment, declaration or processing instruction
_HTML_START = re.compile(r"<(?=[A-Za-z/!?])")
# a footnote mark or a subscript: the one markup that prose may write as HTML, in every format,
# around plain text only (no tag, entity, brace, backtick or line break inside)
_SUP_SUB = re.compile(r"<(sup|sub)>([^<>&{}`\r\n]{1,40})</\1>")
_SUP_SUB_TAGS = {"<sup>", "</sup>", "<sub>", "</sub>"}
# autolinks that both CommonMark and Python-Markdown (MkDocs) make into links, never HTML: web
# addresses, and mail addresses with an `@` (Python-Markdown wants one)
_AUTOLINK = re.compile(
    r"<(?:https?://[^\s<>\"'`]*|mailto:[^\s<>\"'`!@]+@[^\s<>\"'`@]+)>", re.IGNORECASE
)
_BACKTICKS = re.compile(r"`+")
# a code span both readings agree on: one backtick each side, no backtick, line end or pipe
_PLAIN_SPAN = re.compile(r"(?<!`)`[^`\n\r|]+`(?!`)")
# what a link destination keeps as it is; anything that could end it or open HTML is encoded
URL_SAFE = "/:?#[]@!$&*+,;=%~-._"
# what escaping stops at: a backslash escape, a run of backticks, `<`, `[` and braces
_SPECIAL = re.compile(r"\\.|`+|[<\[{}]", re.DOTALL)
_ESCAPE_OR_BACKTICKS = re.compile(r"\\.|`+", re.DOTALL)
# where `str.splitlines` ends a line: Jinja's `indent` and `blockquote` cut prose there
_LINE_BREAK = re.compile("[\n\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
# a line that CommonMark could take for a fence (up to three spaces in)
_FENCE_LINE = re.compile(r" {0,3}(`{3,}|~{3,})")
# an opening fence that Python-Markdown takes as CommonMark does: at the very start of the line,
# with no info string or one plain word
_PLAIN_FENCE = re.compile(r"(`{3,}|~{3,}) *[A-Za-z0-9+.-]* *")
_FENCE_ENTITIES = {"`": "&#96;", "~": "&#126;"}
_CODE_BLOCKS = ("fence", "code_block")
_UNSAFE_SCHEMES = ("javascript:", "vbscript:", "data:", "file:")
# an unsafe scheme right after `](` (a link or an image) or `]:` (a reference definition)
_UNSAFE_DESTINATION = re.compile(r"\][(:](?:" + "|".join(_UNSAFE_SCHEMES) + ")", re.IGNORECASE)
# what can hide a scheme in a destination: controls and white space (browsers drop some of them,
# Python-Markdown strips the others), backslashes, angle brackets and backticks
_HIDING = str.maketrans(
    "",
    "",
    "".join(map(chr, range(0x21)))
    + "\\<>`\x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000"
    + "".join(map(chr, range(0x2000, 0x200B))),
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
_UNESCAPED_BRACE = re.compile(r"(?<!\\)((?:\\\\)*)([{}])")
_UNESCAPED_BRACKET = re.compile(r"(?<!\\)((?:\\\\)*)\[")
# a line as markdown-it numbers them in `Token.map`: it ends lines at `\n`, `\r\n` and `\r`
# only, never at the other separators of `str.splitlines` (`\x0c`, `\x85`, `\u2028`...)
_LETTER_FIRST = re.compile(r"[^\W\d_]")
_SOURCE_LINE = re.compile(r"[^\r\n]*(?:\r\n?|\n)|[^\r\n]+\Z")


@functools.cache
def _html_parser() -> MarkdownIt:
    """CommonMark with tables; raw HTML in the source is shown as text, never passed on, but
    for footnote marks (`<sup>1</sup>`, see `_SUP_SUB`)."""
    parser = _commonmark(html=False)
    parser.inline.ruler.before("html_inline", "sup_sub", _sup_sub)
    return parser


def _sup_sub(state: StateInline, silent: bool) -> bool:
    """`<sup>text</sup>` or `<sub>text</sub>` as that element around the text (escaped)."""
    found = _SUP_SUB.match(state.src, state.pos)
    if found is None:
        return False
    if not silent:
        tag, content = found.groups()
        state.push("html_inline", "", 0).content = f"<{tag}>"
        state.push("text", "", 0).content = content
        state.push("html_inline", "", 0).content = f"</{tag}>"
    state.pos = found.end()
    return True


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
        if token.type == "html_block" or (
            token.type == "html_inline" and token.content not in _SUP_SUB_TAGS
        ):
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


def _has_unsafe_destination(text: str) -> bool:
    """Whether a link, an image or a reference definition could lead to an unsafe scheme, to
    either parser: looked for with character references decoded, and without what could hide
    the scheme (`_HIDING`). Finds more than there is, never less."""
    return _UNSAFE_DESTINATION.search(unescape(text).translate(_HIDING)) is not None


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


def _span_end(text: str, run: re.Match[str]) -> int | None:
    """Where the code span that the backtick `run` opens ends, if it ends on the same line."""
    line_break = _LINE_BREAK.search(text, run.end())
    line_end = line_break.start() if line_break else len(text)
    for closing in _BACKTICKS.finditer(text, run.end(), line_end):
        if len(closing.group()) == len(run.group()):
            return closing.end()
    return None


def _spans_are_certain(paragraph: str) -> bool:
    """Whether both parsers find the code spans `_span_end` finds: so when every backtick of the
    paragraph opens or closes a span on one line. (Python-Markdown's spans run across lines,
    and it pairs a run that has no match with a shorter one.)"""
    position = 0
    while found := _ESCAPE_OR_BACKTICKS.search(paragraph, position):
        if found.group() == "\\`":
            return False
        end = found.end() if found.group()[0] == "\\" else _span_end(paragraph, found)
        if end is None:
            return False
        position = end
    return True


def _escape_at(
    text: str, found: re.Match[str], spans: bool, brackets: bool
) -> tuple[str | None, int]:
    """What replaces the special text `found` (None: nothing), and where to look on."""
    token, start, end = found.group(), found.start(), found.end()
    if token[0] == "`":
        span_end = _span_end(text, found) if spans else None
        return None, end if span_end is None else span_end
    if token == "[":
        return ("\\[" if brackets else None), end
    if token in "{}":  # an expression to MDX
        return "\\" + token, end
    if token[0] == "\\":  # to Python-Markdown `\<` is a backslash and a `<`
        html_start = token == "\\<" and _HTML_START.match(text, start + 1)
        return ("&lt;" if html_start else None), end
    mark = _SUP_SUB.match(text, start)
    if mark:  # a footnote mark stays markup (a JSX element to MDX)
        return None, mark.end()
    link = _AUTOLINK.match(text, start)
    if link:  # MDX has no autolinks: `<https://...>` is a tag to it
        address = link.group()[1:-1]
        shown = address[7:] if address.lower().startswith("mailto:") else address
        return f"[{escape_inline(shown)}]({quote(address, safe=URL_SAFE)})", link.end()
    return "&lt;", end  # MDX reads `<b`, `<=`, `<2` as a tag


def _escape_paragraph(paragraph: str, brackets: bool) -> str:
    """Every `<` that could open raw HTML as `&lt;` (autolinks excepted), and with `brackets`
    every unescaped `[` as `\\[`; code spans are left alone when both parsers see them."""
    spans = _spans_are_certain(paragraph)
    out: list[str] = []
    copied = position = 0
    while found := _SPECIAL.search(paragraph, position):
        replacement, position = _escape_at(paragraph, found, spans, brackets)
        if replacement is not None:
            out += (paragraph[copied : found.start()], replacement)
            copied = position
    out.append(paragraph[copied:])
    return "".join(out)


def _defuse_fence(line: str) -> str:
    """A line that could open or close a fence, with the fence's characters as entities: read
    as the same characters, and a fence to neither parser."""
    fence = _FENCE_LINE.match(line)
    if fence is None:
        return line
    entities = _FENCE_ENTITIES[fence.group(1)[0]] * len(fence.group(1))
    return line[: fence.start(1)] + entities + line[fence.end(1) :]


def _escape_lines(lines: list[str], brackets: bool) -> str:
    """Lines that are no code to both parsers, each paragraph escaped on its own (a code span
    never runs across a blank line)."""
    out: list[str] = []
    paragraph: list[str] = []
    for line in lines:
        if _is_blank(line):
            out += (_escape_paragraph("".join(paragraph), brackets), line)
            paragraph = []
        else:
            paragraph.append(line)
    out.append(_escape_paragraph("".join(paragraph), brackets))
    return "".join(out)


def _escape_outside(text: str, code: set[int], fence_lines: set[int]) -> str:
    """`text` escaped except on the lines `code` (0-based), and every line that could be a fence
    defused except the lines `fence_lines`."""
    lines = _source_lines(text)
    prose = [line for number, line in enumerate(lines) if number not in code]
    brackets = _has_unsafe_destination("".join(prose))
    out: list[str] = []
    run: list[str] = []
    for number, line in enumerate(lines):
        if number in code:
            out += (_escape_lines(run, brackets), line)
            run = []
        else:
            run.append(line if number in fence_lines else _defuse_fence(line))
    out.append(_escape_lines(run, brackets))
    return "".join(out)


def _escape_every_lt(text: str) -> str:
    return _UNESCAPED_BRACE.sub(r"\1\\\2", text.replace("<", "&lt;"))


def _escape_brackets(text: str) -> str:
    return _UNESCAPED_BRACKET.sub(r"\1\\[", text)


def _checked(text: str) -> str:
    """`text`, unless CommonMark still finds raw HTML or an unsafe link in it (a pipe in a code
    span splits a table cell...): then with every `<` and `[` escaped, code included. Without
    a `<` outside plain code spans there is no raw HTML nor autolink, and a link with a safe
    scheme is no risk: such text is returned unparsed."""
    if "<" not in _outside_plain_spans(text) and (
        "[" not in text or not _has_unsafe_destination(text)
    ):
        return text
    tokens = _source_parser().parse(text)
    if _has_raw_html(tokens) or _has_unsafe_link(tokens):
        return _escape_brackets(_escape_every_lt(text))
    return text


def _outside_plain_spans(text: str) -> str:
    """`text` without its plain code spans (one backtick each side, on one line, no pipe
    inside), when every backtick of `text` is in one and none is escaped: CommonMark pairs
    those backticks the same way and reads no tag in them (a code span is taken before a tag
    that would start inside it). Otherwise `text` as it is: whether its backticks make spans is
    for the parser to say."""
    if "`" not in text or "\\`" in text:
        return text
    rest = _PLAIN_SPAN.sub("", text)
    return text if "`" in rest else rest


def _is_inert(text: str) -> bool:
    """Whether no parser could find raw HTML, a fence, an unsafe link or (MDX) an expression in
    `text`: raw HTML, JSX and autolinks need a `<`, expressions a brace, fences three backticks
    or tildes, other links and images a `[`."""
    return (
        "<" not in text
        and "{" not in text
        and "}" not in text
        and "```" not in text
        and "~~~" not in text
        and ("[" not in text or not _has_unsafe_destination(text))
    )


def neutralise(text: str) -> str:
    """Prose for a Markdown page, safe anywhere on it (indented into a list item, quoted...):
    the same Markdown, but raw HTML shows as text and no link can run script (MkDocs' Markdown
    does not filter `javascript:` links). It is MDX too (Docusaurus): outside code, every `<` is
    `&lt;`, braces are backslash-escaped and autolinks are written as links.

    Only code spans that both parsers see are left alone. Code blocks are escaped too, since
    the parsers disagree on them (Python-Markdown reads no fence in a list item or a quote);
    fences stay fences where they cannot run on past the prose or pair with a fence outside it
    (see `_Fences`), the others are defused. Prose that cannot hold anything unsafe is returned
    as it is, unparsed."""
    if _is_inert(text):
        return text
    fences = _fences(text)
    return _checked(_escape_outside(fences.text, set(), fences.plain | fences.nested))


def neutralise_top_level(text: str) -> str:
    """`neutralise` for prose at the top level of a page (not in a list item or a quote), where
    the plain fenced code blocks are code to both parsers, and stay as they are."""
    if _is_inert(text):
        return text
    fences = _fences(text)
    return _checked(_escape_outside(fences.text, fences.plain, fences.nested))


class _Fences(NamedTuple):
    """The fenced code blocks of prose that stay fences, by their lines (0-based).

    `plain` ones are outside any list item or quote, opened at the start of a line by a plain
    fence (no info string, or one word of letters, digits, `+`, `-` and `.`) and closed by the
    very same fence: both parsers read them alike. A plain fence left open is closed at the end
    of `text`: it would run on through the page. `nested` ones, in a list item or a quote, end
    with it, and are no fences to Python-Markdown."""

    text: str
    plain: set[int]
    nested: set[int]


def _fences(text: str) -> _Fences:
    """The fences of `text` that stay fences, from a parse of its blocks."""
    if "```" not in text and "~~~" not in text:
        return _Fences(text, set(), set())
    lines = _source_lines(text)
    plain: set[int] = set()
    nested: set[int] = set()
    for token in _block_parser().parse(text):
        if token.type != "fence" or token.map is None:
            continue
        start, end = token.map
        if token.level > 0:
            nested.update(range(start, end))
            continue
        opening = _PLAIN_FENCE.fullmatch(lines[start].rstrip("\r\n"))
        if opening is None:
            continue
        fence = opening.group(1)
        if end - start > 1 and _closes_to_commonmark(lines[end - 1], fence):
            if _closes_exactly(lines[end - 1], fence):
                plain.update(range(start, end))
        elif end == len(lines):  # left open, to the end of the text
            return _Fences(_closed(text, fence), plain | set(range(start, end + 1)), nested)
    return _Fences(text, plain, nested)


def _closes_to_commonmark(line: str, fence: str) -> bool:
    """Up to three spaces, as many of the fence's character or more, spaces and tabs."""
    marker = line.rstrip("\r\n").rstrip(" \t")
    run = marker.lstrip(" ")
    return len(marker) - len(run) <= 3 and len(run) >= len(fence) and not run.strip(fence[0])


def _closes_exactly(line: str, fence: str) -> bool:
    """The very same fence, then spaces: closing to Python-Markdown too."""
    return line.rstrip("\r\n").rstrip(" ") == fence


def _closed(text: str, fence: str) -> str:
    return f"{text}{fence}\n" if text.endswith(("\n", "\r")) else f"{text}\n{fence}"


def opens_with_paragraph(text: str) -> bool:
    """Whether prose starts with a paragraph, so that it can follow a task item's `- [ ] ` on
    the same line. Prose that starts with a list, a heading, a quote, a table or code cannot:
    `- [ ] - a` is no nested list to either parser (and a `#` there is a heading to
    Python-Markdown). One line that starts with a letter needs no parse."""
    if _LETTER_FIRST.match(text) and not _LINE_BREAK.search(text):
        return True
    if text.lstrip(" ").startswith("#"):
        return False
    tokens = _source_parser().parse(text)
    return bool(tokens) and tokens[0].type == "paragraph_open"


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
