"""The YAML text of an imported SOP, written for people: text of several lines as literal block
scalars (`|`), short mappings in flow style, comments where the importer needs the author to
decide. Only the few shapes an SOP holds are written (mappings, lists, strings, integers,
booleans), so this is a writer, not a YAML library; the result is read back by sop's loader in
the tests."""

from __future__ import annotations

import json
import re
from typing import Union

from sop.records import dataclass

Value = Union[str, int, bool, "Mapping", "Sequence", "Commented"]
Mapping = dict[str, Value]
Sequence = list[Value]


@dataclass(frozen=True)
class Commented:
    """A list item with comment lines above it."""

    comments: tuple[str, ...]
    value: Value


_PLAIN = re.compile(r"[A-Za-z_/.][A-Za-z0-9 _./()'+-]*[A-Za-z0-9_/.)]|[A-Za-z]")
_FLOW_PLAIN = re.compile(r"[A-Za-z_/.][A-Za-z0-9 _./'+-]*[A-Za-z0-9_/.]|[A-Za-z]")
_KEYWORDS = frozenset({"true", "false", "null", "yes", "no", "on", "off", "y", "n"})
_FLOW_WIDTH = 100


def dump(document: Mapping, header: tuple[str, ...] = ()) -> str:
    lines = [f"# {line}".rstrip() for line in header]
    _mapping(document, 0, lines)
    return "\n".join(lines) + "\n"


def scalar(value: str | int | bool, *, flow: bool = False) -> str:
    """A one-line scalar: plain where YAML reads it back as the same string, else quoted."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    plain = _FLOW_PLAIN if flow else _PLAIN
    if plain.fullmatch(value) and value.lower() not in _KEYWORDS and "  " not in value:
        return value
    if "'" not in value and value.isprintable():
        return f"'{value}'"
    return json.dumps(value, ensure_ascii=False)


def _needs_block(value: str) -> bool:
    """A one-line string that would need escapes in quotes (both quotes, backslashes) reads
    better as a block scalar."""
    return "'" in value and ('"' in value or "\\" in value) and value.isprintable()


def _is_multiline(value: Value) -> bool:
    return isinstance(value, str) and ("\n" in value.rstrip("\n") or _needs_block(value))


def _flow(mapping: Mapping) -> str | None:
    """`{a: 1, b: x}` when every value is a short one-line scalar."""
    parts = []
    for key, value in mapping.items():
        if isinstance(value, (dict, list, Commented)) or _is_multiline(value):
            return None
        if isinstance(value, str):
            value = value.rstrip("\n")
        parts.append(f"{key}: {scalar(value, flow=True)}")
    text = "{" + ", ".join(parts) + "}"
    return text if len(text) <= _FLOW_WIDTH else None


def _block_scalar(text: str, indent: int) -> list[str]:
    body = [line.rstrip() for line in text.strip("\n").split("\n")]
    first = next(line for line in body if line)
    indicator = "2" if first.startswith(" ") else ""
    if "\n" not in text.strip("\n"):
        indicator += "-"  # one line: no line end of its own
    pad = " " * (indent + 2)
    return [f"|{indicator}"] + [pad + line if line else "" for line in body]


def _mapping(mapping: Mapping, indent: int, lines: list[str], first_prefix: str = "") -> None:
    pad = " " * indent
    for n, (key, value) in enumerate(mapping.items()):
        prefix = first_prefix if n == 0 and first_prefix else pad
        _entry(f"{prefix}{key}:", value, indent, lines)


def _entry(head: str, value: Value, indent: int, lines: list[str]) -> None:
    if isinstance(value, dict):
        flow = _flow(value) if value else "{}"
        if flow is not None:
            lines.append(f"{head} {flow}")
        else:
            lines.append(head)
            _mapping(value, indent + 2, lines)
    elif isinstance(value, list):
        if not value:
            lines.append(f"{head} []")
        elif all(isinstance(v, str) and not _is_multiline(v) for v in value):
            lines.append(f"{head} [{', '.join(scalar(v, flow=True) for v in value)}]")  # type: ignore[arg-type]
        else:
            lines.append(head)
            _sequence(value, indent + 2, lines)
    elif isinstance(value, Commented):
        raise TypeError("a comment goes on a list item")
    elif isinstance(value, str) and _is_multiline(value):
        block = _block_scalar(value, indent)
        lines.append(f"{head} {block[0]}")
        lines.extend(block[1:])
    else:
        lines.append(f"{head} {scalar(value.rstrip(chr(10)) if isinstance(value, str) else value)}")


def _sequence(items: Sequence, indent: int, lines: list[str]) -> None:
    pad = " " * indent
    for item in items:
        if isinstance(item, Commented):
            lines.extend(f"{pad}# {c}".rstrip() for c in item.comments)
            item = item.value
        if isinstance(item, dict):
            _mapping(item, indent + 2, lines, first_prefix=f"{pad}- ")
        elif isinstance(item, (list, Commented)):
            raise TypeError("a list in a list is not part of an SOP")
        elif isinstance(item, str) and _is_multiline(item):
            block = _block_scalar(item, indent)
            lines.append(f"{pad}- {block[0]}")
            lines.extend(block[1:])
        else:
            lines.append(f"{pad}- {scalar(item)}")
