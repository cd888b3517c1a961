"""One redactor for every sink: it masks each secret value and the forms it takes on the way
(shell-quoted, JSON, URL-encoded, base64, each line of a multi-line secret), including when
streamed output splits a secret across chunks."""

from __future__ import annotations

import base64
import json
import re
import shlex
import urllib.parse
from collections.abc import Iterable

from sop.errors import SopError

MASK = "********"
MIN_SECRET_LENGTH = 8


class SecretTooShortError(SopError):
    """A secret shorter than MIN_SECRET_LENGTH cannot be masked without masking ordinary text."""


def forms(secret: str) -> set[str]:
    """Every spelling of `secret` that could reach a sink."""
    out = {
        secret,
        shlex.quote(secret),
        json.dumps(secret)[1:-1],
        urllib.parse.quote(secret),
        urllib.parse.quote_plus(secret),
    }
    raw = secret.encode()
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        encoded = encode(raw).decode()
        out.add(encoded)
        out.add(encoded.rstrip("="))
    out |= {line for line in secret.splitlines() if len(line.strip()) >= MIN_SECRET_LENGTH}
    return {f for f in out if f}


class Redactor:
    """Masks secrets in text. `stream()` returns a per-stream masker for chunked output."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._forms: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str) -> None:
        if len(secret) < MIN_SECRET_LENGTH:
            raise SecretTooShortError(
                f"a secret must be at least {MIN_SECRET_LENGTH} characters long to be masked safely"
            )
        self._forms |= forms(secret)
        ordered = sorted(self._forms, key=len, reverse=True)
        self._pattern = re.compile("|".join(re.escape(f) for f in ordered))

    @property
    def longest(self) -> int:
        return max((len(f) for f in self._forms), default=0)

    def __call__(self, text: str) -> str:
        if self._pattern is None or not text:
            return text
        return self._pattern.sub(MASK, text)

    def stream(self) -> StreamRedactor:
        return StreamRedactor(self)


class StreamRedactor:
    """Masks a stream given in chunks: holds back a tail that could be the start of a secret."""

    def __init__(self, redactor: Redactor) -> None:
        self._redactor = redactor
        self._held = ""

    def feed(self, chunk: str) -> str:
        text = self._held + chunk
        keep = self._redactor.longest - 1
        if keep <= 0:
            return text
        masked = self._redactor(text)
        if masked != text:
            # a secret ended inside this text; hold back only what follows the last mask
            head, _, tail = masked.rpartition(MASK)
            tail_keep = tail[-keep:] if len(tail) > keep else tail
            # anything before tail_keep is safe to release
            release = head + MASK + tail[: len(tail) - len(tail_keep)]
            self._held = tail_keep
            return release
        if len(text) <= keep:
            self._held = text
            return ""
        self._held = text[-keep:]
        return text[:-keep]

    def flush(self) -> str:
        held, self._held = self._held, ""
        return self._redactor(held)


_SHARED = Redactor()


def shared() -> Redactor:
    """The process's redactor: every secret any run of this process knows. Error messages and
    tracebacks go through it before they are printed."""
    return _SHARED
