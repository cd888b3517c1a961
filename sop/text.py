"""What text may reach a terminal: the one filter for every string sop did not write itself.

SOP text, inventory names, inputs, answers, captured output, SSH banners and error messages
from a host can all carry characters that make a terminal show something other than what is
there: escape sequences (ESC, CSI, OSC, DCS; C1 controls such as 0x9b) that erase or rewrite a
line, set the window title, write the clipboard or hide a link; bidirectional controls that
reorder what a reviewer reads; zero-width and other invisible characters. `visible` replaces
each with a visible marker, so the responder sees that something is there and nothing acts:

- C0 controls (except newline and tab) and DEL as their control pictures: ESC as `␛`,
  carriage return as `␍`, BEL as `␇`, DEL as `␡`;
- everything else as its code point: `<U+202E>`, `<U+200B>`, `<U+009B>`.

The escape sequences are shown rather than dropped: with their introducer replaced, the rest
(`[2K`, `]0;title`) is inert text, and the responder sees what a host or an author tried.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from typing import NamedTuple

# every range below is unsafe in text shown to a responder; see the module docstring
_RANGES = (
    "\x00-\x08\x0b-\x1f\x7f",  # C0 controls but tab and newline; DEL
    "\x80-\x9f",  # C1 controls (0x9b is a one-byte CSI to many terminals)
    "\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u3164\uffa0",  # invisible
    "\u200b-\u200f",  # zero-width space, non-joiner, joiner; left-to-right, right-to-left marks
    "\u2028-\u202e",  # line and paragraph separators; bidi embeddings and overrides
    "\u2060-\u206f",  # word joiner, invisible operators, bidi isolates, deprecated format
    "\ufeff\ufff9-\ufffb",  # zero-width no-break space (BOM), interlinear annotations
    "\ud800-\udfff",  # surrogates: never text on their own
    "\U0001d173-\U0001d17a",  # musical format characters
    "\U000e0000-\U000e007f",  # tag characters
    "\U000e0100-\U000e01ef",  # variation selectors 17-256 (a way to hide bytes in text)
)
_VARIATION = "\ufe00-\ufe0f"
# one character class (a fast scan); `_hides` tells the variation selectors 1-16 apart
_CANDIDATE = re.compile(f"[{''.join(_RANGES)}{_VARIATION}]")
_PICTURES = {c: chr(0x2400 + c) for c in range(32)} | {0x7F: "\u2421"}


def _hides(text: str, at: int) -> bool:
    """Whether the candidate at `at` is unsafe. A variation selector 1-16 is fine right after a
    visible character (the emoji form of ✔); a run of them, or one after a space, a line end
    or nothing, hides data."""
    if not "\ufe00" <= text[at] <= "\ufe0f":
        return True
    return at == 0 or text[at - 1].isspace() or "\ufe00" <= text[at - 1] <= "\ufe0f"


def marker(char: str) -> str:
    """How one unsafe character is shown."""
    code = ord(char)
    return _PICTURES.get(code) or f"<U+{code:04X}>"


def visible(text: str) -> str:
    """`text` with every unsafe character replaced by its visible marker. Text without one
    (nearly all) is returned as itself after one scan."""
    if _CANDIDATE.search(text) is None:
        return text
    return _CANDIDATE.sub(
        lambda m: marker(m.group()) if _hides(text, m.start()) else m.group(), text
    )


def cell_width(text: str) -> int:
    """How many terminal cells `text` takes: East Asian wide and fullwidth characters take two,
    combining marks and format characters none (rich's `cell_len`, for output without rich)."""
    if text.isascii():
        return len(text)
    return sum(_char_width(c) for c in text)


def _char_width(char: str) -> int:
    if unicodedata.combining(char) or unicodedata.category(char) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def pad(text: str, width: int) -> str:
    """`text` and spaces to fill `width` terminal cells (`str.ljust` counts characters)."""
    return text + " " * (width - cell_width(text))


class Unsafe(NamedTuple):
    """The first unsafe character of a text: where it is, and what it is in words."""

    at: int
    char: str

    @property
    def kind(self) -> str:
        code = ord(self.char)
        if code < 0x20 or 0x7F <= code <= 0x9F:
            return "a control character"
        if code in (0x061C, 0x200E, 0x200F) or 0x202A <= code <= 0x202E or 0x2066 <= code <= 0x2069:
            return "a bidirectional control"
        if 0xD800 <= code <= 0xDFFF:
            return "a lone surrogate"
        return "an invisible character"

    def describe(self) -> str:
        return f"{self.kind} ({marker(self.char)})"


def first_unsafe(text: str, start: int = 0) -> Unsafe | None:
    """The first unsafe character at or after `start`."""
    for found in _CANDIDATE.finditer(text, start):
        if _hides(text, found.start()):
            return Unsafe(found.start(), found.group())
    return None


def may_be_unsafe(text: str) -> bool:
    """A fast first look: False means `text` holds no unsafe character."""
    return _CANDIDATE.search(text) is not None


def line_col(text: str, index: int) -> tuple[int, int]:
    """1-based line and column of `index` in `text`."""
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


# Markdown that quotes untrusted text: what would start markup inline is escaped, HTML's three
# characters become entities (a `<script>` stays text in every renderer), a line break is a
# space (a table cell, a list item)
_MARKDOWN_ACTIVE = re.compile(r"([\\`*_\[\]{}|~#!])")
_HTML = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})


class Markup(str):
    """Markdown that sop made itself (already quoted text, bold, `<code>`): the report helpers
    below keep it as it is, and quote everything else."""


def markdown_text(value: object) -> Markup:
    """`value` as literal text in Markdown (a table cell, a heading, a list item)."""
    if isinstance(value, Markup):
        return value
    text = " ".join(visible(str(value)).splitlines())
    return Markup(_MARKDOWN_ACTIVE.sub(r"\\\1", text.translate(_HTML)))


def markdown_code(value: object) -> Markup:
    """`value` as inline code that shows it exactly: `<code>` around literal Markdown text
    (a code span would keep a `<script>` raw in the file, for any renderer that forgets it
    is code)."""
    text = markdown_text(value)
    return Markup(f"<code>{text}</code>" if text else "")


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    """The lines of a Markdown table; every cell that is not `Markup` is quoted as text."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(markdown_text(c) for c in row) + " |" for row in rows]
    return lines


def markdown_list(
    items: Iterable[object], *, empty: str = "none", numbered: bool = False
) -> list[str]:
    """The lines of a Markdown list (`- empty` when there are no items); items that are not
    `Markup` are quoted as text."""
    mark = "1." if numbered else "-"
    return [f"{mark} {markdown_text(item)}" for item in items] or [f"- {empty}"]
