"""One redactor for every sink: it masks each secret value and the forms it takes on the way,
including when streamed output splits a secret across chunks.

Each secret becomes a few patterns, each bounded in length:
- the text itself under any mix of everyday escapes, character by character: shell quoting
  (`'\\''`, `'"'"'`, backslashes), JSON (`\\"`, `\\/`, `\\u00xx`), URL encoding (`%2f`, `%2F`,
  `+` for a space), HTML (`&amp;`, `&#39;`, `&#x27;`, `&quot;`), C/Python `\\xNN`;
- base64 (standard and URL-safe alphabets, padded or not) at each of the three alignments a
  secret can have inside a longer blob (`Authorization: Basic base64(user:secret)`), with
  line breaks anywhere (MIME and `base64` wrap at 76 columns, PEM at 64);
- hex, in either case, bytes optionally separated by a space or colon or written `\\xNN`;
- each line of a multi-line secret (at least MIN_SECRET_LENGTH characters), in the same forms.

Masking is best effort: a command can always transform a secret beyond recognition (compress
it, encrypt it, print one character per line). docs/run.md says how to keep secrets off output.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Iterator

from sop.errors import SopError
from sop.records import dataclass

MASK = "********"
MIN_SECRET_LENGTH = 8

_B64_STD = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_B64_URL = _B64_STD[:62] + "-_"
_LINE_BREAK = r"(?:\r?\n)?"
_NAMED_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;"}
_SINGLE_QUOTE = ("'\\''", "'\"'\"'", '"\'"', "\\'")  # ' inside '...' (bash -x, shlex), "'", \'
_CONTROL_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_TO_URLSAFE = str.maketrans("+/", "-_")
_WRAP_MIN = 16  # base64 wrapped narrower than this may go unmasked (MIME: 76, PEM: 64)
_PIECE = 32  # longer secrets are masked piece by piece
_BLOCK = 8192  # a long text is masked block by block


class SecretTooShortError(SopError):
    """A secret shorter than MIN_SECRET_LENGTH cannot be masked without masking ordinary text."""


@dataclass(frozen=True)
class Form:
    """One way a secret can be spelled: a regular expression, the longest text it matches, and
    literals one of which every match contains (none: any text may hold a match).
    `parts` are the pattern's pieces in order (their concatenation), for a stream to tell
    whether a text could be the beginning of a match; `part_width` is the widest piece's."""

    pattern: str
    width: int
    anchors: tuple[str, ...] = ()
    parts: tuple[str, ...] = ()
    part_width: int = 1
    wrapped: bool = False  # base64: may break lines at any point (MIME, PEM)
    multiline: bool = False  # a secret with a line break in it


def _one_of(spellings: Iterable[tuple[str, int]]) -> Form:
    """A group matching any of `spellings` (pattern, width), the longest first."""
    unique = sorted(set(spellings), key=lambda s: (-s[1], s[0]))
    if len(unique) == 1:
        return Form(*unique[0])
    return Form("(?:" + "|".join(p for p, _ in unique) + ")", max(w for _, w in unique))


def _char(char: str) -> Form:
    """Every everyday escaped spelling of one character (letters and digits are never escaped)."""
    literal = re.escape(char)
    if char.isascii() and char.isalnum():
        return Form(literal, 1)
    code = ord(char)
    utf8 = char.encode("utf-8", "surrogatepass")
    spellings = [(literal, 1), (re.escape("\\" + char), 2)]  # shell \$, JSON \" \\ \/
    if char == "'":
        spellings += [(re.escape(s), len(s)) for s in _SINGLE_QUOTE]
    if char == " ":
        spellings.append((re.escape("+"), 1))
    if char in _CONTROL_ESCAPES:
        spellings.append((re.escape(_CONTROL_ESCAPES[char]), 2))
    if char in _NAMED_ENTITIES:
        entity = _NAMED_ENTITIES[char]
        spellings.append((f"&(?i:{entity[1:]})", len(entity)))
    units = (
        [code] if code <= 0xFFFF else [0xD800 + ((code - 0x10000) >> 10), 0xDC00 + (code & 0x3FF)]
    )
    spellings.append(("".join(r"\\u" + f"(?i:{u:04x})" for u in units), 6 * len(units)))
    spellings.append(("".join(f"%(?i:{b:02x})" for b in utf8), 3 * len(utf8)))
    spellings.append(("".join(r"\\x" + f"(?i:{b:02x})" for b in utf8), 4 * len(utf8)))
    spellings.append((f"&#0?{code};", len(str(code)) + 4))
    spellings.append((f"&#[xX](?i:0?{code:02x});", len(f"{code:02x}") + 5))
    return _one_of(spellings)


def _text_form(text: str) -> Form:
    chars = [_char(c) for c in text]
    runs = re.findall(r"[A-Za-z0-9]{4,}", text)
    return Form(
        "".join(c.pattern for c in chars),
        sum(c.width for c in chars),
        (max(runs, key=len),) if runs else (),
        tuple(c.pattern for c in chars),
        max(c.width for c in chars),
        multiline="\n" in text or "\r" in text,
    )


def _b64_class(values: Iterable[int]) -> str:
    chars = sorted({_B64_STD[v] for v in values} | {_B64_URL[v] for v in values})
    return "[" + "".join(re.escape(c) for c in chars) + "]"


def _pieces(text: str, size: int) -> list[str]:
    """`text` cut into pieces of about `size` characters (at least two)."""
    count = max(2, len(text) // size)
    step = -(-len(text) // count)
    return [text[i : i + step] for i in range(0, len(text), step)]


def _base64_forms(raw: bytes) -> Iterator[Form]:
    """The secret inside a base64 blob, at each alignment: the characters made of the secret's
    bits alone, with the characters it shares with its neighbours (any of the few possible;
    optional, as the piece of a long secret next to it may have taken one).
    Its anchors are pieces of the former: line breaks at least _WRAP_MIN columns apart leave one
    of them whole."""
    for align in range(3):
        encoded = base64.b64encode(bytes(align) + raw).decode()
        values = [_B64_STD.index(c) for c in encoded.rstrip("=")]
        start, end = 8 * align, 8 * (align + len(raw))  # the secret's bits
        first, last = -(-start // 6), end // 6  # characters wholly the secret's: [first, last)
        parts: list[tuple[str, int]] = []
        if start % 6:  # the character before holds the secret's first bits (low ones)
            low = (1 << (6 * first - start)) - 1
            lead = _b64_class(v for v in range(64) if v & low == values[first - 1] & low)
            parts.append((lead + "?", 1))
        parts += [(_b64_class([v]), 1) for v in values[first:last]]
        if end % 6:  # the character after holds its last bits (high ones), then padding
            shift = 6 - (end - 6 * last)
            high = values[last] >> shift
            tail = _b64_class(v for v in range(64) if v >> shift == high)
            parts.append((f"(?:{tail}={{0,2}})?", 3))
        core = encoded[first:last]
        pieces = _pieces(core, _WRAP_MIN // 2)
        # a match begins with a character of the secret's own: one it shares with what comes
        # before is optional, so a stream need not hold it back
        steps = [p for p, _ in parts]
        if start % 6:
            steps[:2] = [steps[0] + _LINE_BREAK + steps[1]]
        yield Form(
            _LINE_BREAK.join(p for p, _ in parts),
            sum(w for _, w in parts) + 2 * (len(parts) - 1),
            tuple(sorted(set(pieces) | {p.translate(_TO_URLSAFE) for p in pieces})),
            (steps[0], *(x for step in steps[1:] for x in (_LINE_BREAK, step))),
            4,
            wrapped=True,
        )


def _hex_forms(raw: bytes) -> Iterator[Form]:
    for spelled in (raw.hex(), raw.hex().upper()):
        yield Form(spelled, len(spelled), (spelled,), tuple(spelled))


def _texts(secret: str) -> list[str]:
    """What to mask: the secret and each long line of it; a long one in pieces (masking every
    piece masks the whole, and keeps each pattern short)."""
    lines = [secret] if len(secret) <= _PIECE else secret.splitlines()
    if len(secret) <= _PIECE:
        lines += [line for line in secret.splitlines() if line != secret]
    texts: list[str] = []
    for line in lines:
        if len(line.strip()) < MIN_SECRET_LENGTH:
            continue
        texts += [line] if len(line) <= _PIECE else _pieces(line, _PIECE // 2)
    return texts


def _beginning(form: Form) -> str:
    """A pattern matching the text a match of `form` begins with: its first k parts, k >= 1."""
    out = ""
    for part in reversed(form.parts):
        out = f"{part}(?:{out})?" if out else part
    return out


def _beginnings(forms: Iterable[Form], margin: int) -> re.Pattern[str] | None:
    """Where a text ends in the beginning of a match of one of `forms` (and at most `margin`
    more characters: a part begun but not finished, such as `%2` of `%2f`)."""
    patterns = sorted({_beginning(f) for f in forms})
    if not patterns:
        return None
    alternatives = "|".join(patterns)
    return re.compile(rf"(?=[^\r\n])(?:{alternatives})[^\n]{{0,{margin}}}\Z")


def forms(secret: str) -> list[Form]:
    """Every spelling of `secret` (in the pieces `_texts` cuts) that could reach a sink."""
    out: list[Form] = []
    for text in _texts(secret):
        raw = text.encode("utf-8", "surrogatepass")
        out += [_text_form(text), *_base64_forms(raw), *_hex_forms(raw)]
    return out


class Redactor:
    """Masks secrets in text. `stream()` returns a per-stream masker for chunked output.

    Most text holds no secret: a text none of whose forms' anchors it contains is not scanned
    by the (slower) pattern at all."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._forms: dict[str, Form] = {}
        self._pattern: re.Pattern[str] | None = None
        self._anchors: tuple[str, ...] | None = ()  # None: every text must be scanned
        self.longest = 0  # the longest text any form matches
        self.margin = 0  # the widest part of a form, less one
        self._starts: re.Pattern[str] | None = None  # the beginning of any form
        self._wrapped_starts: re.Pattern[str] | None = None  # of base64 forms
        self._multiline_starts: re.Pattern[str] | None = None  # of multi-line secrets' forms
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str) -> None:
        if len(secret) < MIN_SECRET_LENGTH:
            raise SecretTooShortError(
                f"a secret must be at least {MIN_SECRET_LENGTH} characters long to be masked safely"
            )
        for form in forms(secret):
            self._forms.setdefault(form.pattern, form)
        ordered = sorted(self._forms.values(), key=lambda f: -f.width)
        self._pattern = re.compile("|".join(f.pattern for f in ordered))
        self.longest = ordered[0].width
        anchors = [f.anchors for f in ordered]
        self._anchors = None if () in anchors else tuple(sorted({a for a in sum(anchors, ())}))
        self.margin = max(f.part_width for f in ordered) - 1
        self._starts = _beginnings(ordered, self.margin)
        self._wrapped_starts = _beginnings((f for f in ordered if f.wrapped), self.margin)
        self._multiline_starts = _beginnings((f for f in ordered if f.multiline), self.margin)

    @property
    def empty(self) -> bool:
        """It holds no secret yet: it masks nothing."""
        return self._pattern is None

    def spans(self, text: str) -> Iterator[tuple[int, int]]:
        """Where secrets are in `text`, as (start, end), in order."""
        if self._suspect(text):
            assert self._pattern is not None
            for match in self._pattern.finditer(text):
                yield match.span()

    def release_point(self, text: str) -> int:
        """How much of `text` a stream may release now: all but the end that could be the
        beginning of a secret still being printed. In the last, unfinished line that is the
        beginning of any form (and the last `margin` characters); across a line break only that
        of a form which spans lines: a multi-line secret's, or base64 wrapped at _WRAP_MIN
        columns or more (its line ending in that many base64 characters)."""
        size = len(text)
        line_start = text.rfind("\n") + 1
        window = max(0, size - self.longest - self.margin)  # a beginning is no longer
        cut = max(line_start, size - self.margin)
        if self._starts is not None and line_start < size:
            match = self._starts.search(text, max(line_start, window))
            if match:
                cut = min(cut, match.start())
        if window >= line_start:
            return cut
        if self._multiline_starts is not None:
            match = self._multiline_starts.search(text, window)
            if match:
                cut = min(cut, match.start())
        if self._wrapped_starts is not None and _ends_wrapped_line(text, line_start - 1):
            start, end = window, min(cut, line_start)
            while start < end:
                match = self._wrapped_starts.search(text, start)
                if match is None or match.start() >= end:
                    break
                if _ends_wrapped_line(text, match.start()):
                    return match.start()
                start = match.start() + 1
        return cut

    def _suspect(self, text: str) -> bool:
        if self._pattern is None or not text:
            return False
        return self._anchors is None or any(a in text for a in self._anchors)

    def __call__(self, text: str) -> str:
        if not self._suspect(text):
            return text
        if len(text) > _BLOCK:  # scan only the blocks that hold an anchor
            stream = self.stream()
            blocks = [stream.feed(text[i : i + _BLOCK]) for i in range(0, len(text), _BLOCK)]
            return "".join(blocks) + stream.flush()
        assert self._pattern is not None
        return self._pattern.sub(MASK, text)

    def stream(self) -> StreamRedactor:
        return StreamRedactor(self)


def _ends_wrapped_line(text: str, position: int) -> bool:
    """Whether the line `position` is in ends in _WRAP_MIN base64 characters or more."""
    end = text.find("\n", position)
    line = text[text.rfind("\n", 0, position) + 1 : end].rstrip("\r")
    run = re.search(r"[A-Za-z0-9+/=_-]*\Z", line)
    return run is not None and len(run[0]) >= _WRAP_MIN


class StreamRedactor:
    """Masks a stream given in chunks, releasing as much as it can at once: every complete
    line, after masking, and of the unfinished last line all but the end that could be the
    beginning of a secret (`Redactor.release_point`). What it holds back it scans again with
    the next chunk; `flush` releases it, masked, at the end of the stream or when the stream has
    been idle for a while (a prompt without a newline: `Password: `).

    The trade-off: a secret whose spelling spans a line break (a multi-line secret of up to
    _PIECE characters, or wrapped base64) holds the lines it began on back until it is complete;
    each line of a longer multi-line secret is masked on its own (one shorter than
    MIN_SECRET_LENGTH is not). A secret printed with a pause longer than the idle time in its
    middle is released in two parts, and neither is masked."""

    def __init__(self, redactor: Redactor) -> None:
        self._redactor = redactor
        self._held = ""

    @property
    def holding(self) -> bool:
        return bool(self._held)

    def feed(self, chunk: str) -> str:
        text = self._held + chunk
        if self._redactor.longest == 0:
            return text
        cut = self._redactor.release_point(text)  # a match starting before it lies in `text`
        out: list[str] = []
        done = 0
        for start, end in self._redactor.spans(text):
            if start >= cut:
                break
            if end > cut:  # ends in the held tail: it may grow; scan it again with what follows
                cut = start
                break
            out += [text[done:start], MASK]
            done = end
        out.append(text[done:cut])
        self._held = text[cut:]
        return "".join(out)

    def flush(self) -> str:
        held, self._held = self._held, ""
        return self._redactor(held)


class _ProcessRedactor(Redactor):
    """Knows every secret in this process's memory: from the first, the process (and what it
    starts) dumps no core, as a core file would hold the secret."""

    def add(self, secret: str) -> None:
        import resource

        _, hard = resource.getrlimit(resource.RLIMIT_CORE)
        resource.setrlimit(resource.RLIMIT_CORE, (0, hard))
        super().add(secret)


_SHARED = _ProcessRedactor()


def shared() -> Redactor:
    """The process's redactor: every secret any run of this process knows. Error messages and
    tracebacks go through it before they are printed."""
    return _SHARED
