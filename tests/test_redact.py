"""The redactor masks a secret in every everyday encoding, at any offset, across chunk splits,
and leaves ordinary text alone."""

from __future__ import annotations

import base64
import html
import json
import re
import shlex
import textwrap
import urllib.parse

import pytest

from sop.redact import MASK, Redactor, SecretTooShortError

SECRET = "s3cr3t-$(id) 'q' \"dq\" &<x>/é😀"
PLAIN = "Hunter2Hunter2xyz"  # letters and digits only
LONG = "k" * 10 + "-" + "V3ryL0ngT0kenPart" * 6  # cut into pieces of 17 bytes


def _lower_escapes(text: str) -> str:
    return re.sub(r"%[0-9A-F]{2}", lambda m: m[0].lower(), text)


def encodings(secret: str) -> dict[str, str]:
    raw = secret.encode()
    return {
        "raw": secret,
        "shlex.quote": shlex.quote(secret),
        "bash -x quoting": "'" + secret.replace("'", "'\\''") + "'",
        "printf %q": "".join(c if c.isalnum() else "\\" + c for c in secret),
        "double quotes": '"' + re.sub(r'([$`"\\])', r"\\\1", secret) + '"',
        "json": json.dumps(secret),
        "json, not ascii": json.dumps(secret, ensure_ascii=False),
        "json, \\/ and \\u00xx": json.dumps(secret)
        .replace("/", "\\/")
        .replace("<", "\\u003c")
        .replace("&", "\\u0026"),
        "url": urllib.parse.quote(secret),
        "url, nothing safe": urllib.parse.quote(secret, safe=""),
        "url, lower case": _lower_escapes(urllib.parse.quote(secret, safe="")),
        "url, + for space": urllib.parse.quote_plus(secret),
        "html": html.escape(secret),
        "html, &#39;": html.escape(secret).replace("&#x27;", "&#39;"),
        "html, &#039;": html.escape(secret).replace("&#x27;", "&#039;"),
        "html, decimal": "".join(f"&#{ord(c)};" if not c.isalnum() else c for c in secret),
        "hex": raw.hex(),
        "HEX": raw.hex().upper(),
        "bytes repr": repr(raw),
    }


def base64_embeddings(secret: str) -> dict[str, str]:
    """The secret at each offset of a longer blob, both alphabets, padded or not, wrapped."""
    out = {}
    raw = secret.encode()
    for before in (b"", b"u", b"us", b"user:", b"prefix-bytes"):
        for after in (b"", b"!", b"!!", b"\nmore data"):
            blob = before + raw + after
            for name, encode in (("std", base64.b64encode), ("urlsafe", base64.urlsafe_b64encode)):
                encoded = encode(blob).decode()
                key = f"base64 {name}, {len(before)} bytes before, {len(after)} after"
                out[key] = encoded
                out[key + ", unpadded"] = encoded.rstrip("=")
    blob = b"A" * 70 + raw + b"B" * 90
    out["base64 MIME (76 columns)"] = base64.encodebytes(blob).decode()
    out["base64 MIME, CRLF"] = base64.encodebytes(blob).decode().replace("\n", "\r\n")
    out["PEM (64 columns)"] = "\n".join(textwrap.wrap(base64.b64encode(b"Q" + blob).decode(), 64))
    out["Basic auth"] = "Authorization: Basic " + base64.b64encode(b"admin:" + raw).decode()
    return out


def leaked(secret: str, text: str) -> list[str]:
    """The encodings of `secret` (or, for base64, of its middle at each alignment) of which
    twelve characters in a row are still in `text`."""
    spelled = dict(encodings(secret))
    for align in range(3):
        encoded = base64.b64encode(bytes(3 - align) + secret.encode()).decode()[4:-4]
        spelled[f"base64 at alignment {align}"] = encoded
        spelled[f"urlsafe base64 at alignment {align}"] = encoded.replace("+", "-").replace(
            "/", "_"
        )
    flat = text.replace("\r", "").replace("\n", "")
    return [
        name
        for name, form in spelled.items()
        if any(form[i : i + 12] in flat for i in range(len(form) - 11))
    ]


@pytest.mark.parametrize("secret", [SECRET, PLAIN, LONG])
@pytest.mark.parametrize("how", ["whole", "streamed"])
def test_every_encoding_is_masked(secret: str, how: str) -> None:
    redactor = Redactor([secret])
    for name, form in (encodings(secret) | base64_embeddings(secret)).items():
        text = f"before {form} after"
        if how == "whole":
            masked = redactor(text)
        else:
            stream = redactor.stream()
            masked = "".join(stream.feed(text[i : i + 7]) for i in range(0, len(text), 7))
            masked += stream.flush()
        assert MASK in masked, name
        assert leaked(secret, masked) == [], name
        assert masked.startswith("before ") and masked.endswith(" after"), name


def test_a_stream_split_anywhere_masks_the_secret() -> None:
    redactor = Redactor([SECRET])
    text = "x" * 50 + json.dumps(SECRET) + " and " + base64.b64encode(SECRET.encode()).decode()
    for split in range(len(text) + 1):
        stream = redactor.stream()
        out = stream.feed(text[:split]) + stream.feed(text[split:]) + stream.flush()
        assert out == redactor(text) == "x" * 50 + f'"{MASK}" and {MASK}', split


def test_a_stream_releases_every_complete_line_at_once() -> None:
    stream = Redactor([SECRET, PLAIN, LONG]).stream()
    lines = [f"line {n}: {'y' * n} Hunter2 {SECRET}\n" for n in range(200)]
    for line in lines:
        assert stream.feed(line) == line.replace(SECRET, MASK)
    assert not stream.holding


def test_a_stream_holds_back_only_the_end_of_a_line_that_could_start_a_secret() -> None:
    redactor = Redactor([PLAIN])
    stream = redactor.stream()
    assert redactor.margin == 3  # a character base64 shares, a line break, the next
    assert stream.feed("y" * 1000) == "y" * 997
    assert stream.feed("y Hunt") == "yyyy "
    assert stream.feed("er2Hun") == ""
    assert stream.feed("ter2xyz! and more") == f"{MASK}! and m"
    assert stream.flush() == "ore"


def test_a_multi_line_secret_holds_back_the_lines_it_began_on_until_complete() -> None:
    secret = "first-line\nsecond"
    stream = Redactor([secret]).stream()
    assert stream.feed("ok\nfirst-line\n") == "ok\n"
    assert stream.feed("second\nafter\n") == f"{MASK}\nafter\n"


def test_wrapped_base64_holds_back_the_lines_a_secret_began_on_until_complete() -> None:
    blob = base64.encodebytes(b"A" * 50 + PLAIN.encode() + b"B" * 90).decode()
    stream = Redactor([PLAIN]).stream()
    released = "".join(stream.feed(line + "\n") for line in blob.splitlines())
    assert MASK in released
    assert leaked(PLAIN, released + stream.flush()) == []


def test_ordinary_text_is_left_alone() -> None:
    redactor = Redactor([SECRET, PLAIN, LONG])
    text = (
        "GET /api/v1/items?q=a%20b&x=%2F 200 OK\n"
        "Authorization: Basic dXNlcjpwYXNzd29yZA==\n"
        + base64.encodebytes(bytes(range(256)) * 4).decode()
        + bytes(range(256)).hex()
        + "\n&amp; &#39; \\u0041 'quoted' \"dq\" $(id) s3cr3 Hunter2\n"
    )
    assert redactor(text) == text
    stream = redactor.stream()
    assert "".join(stream.feed(c) for c in text) + stream.flush() == text


def test_a_long_secret_is_masked_piece_by_piece() -> None:
    redactor = Redactor([LONG])
    assert re.fullmatch(r"<(\*{8}){7}>", redactor(f"<{LONG}>"))
    assert redactor.longest < 200  # patterns stay short, and so does what a stream holds back


def test_each_long_line_of_a_multi_line_secret_is_masked() -> None:
    secret = "-----BEGIN KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nshort\n-----END KEY-----"
    masked = Redactor([secret])("key:\n" + secret.replace("\n", "\r\n"))
    assert masked == f"key:\n{MASK}\r\n{MASK}\r\nshort\r\n{MASK}"


def test_a_short_secret_is_refused() -> None:
    with pytest.raises(SecretTooShortError):
        Redactor(["short"])
