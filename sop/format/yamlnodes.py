"""Read a YAML file safely into nodes that remember where they came from.

This is the only module that imports PyYAML. We compose nodes from the parser's event stream
ourselves instead of using PyYAML's constructor, so that:

- no tag ever constructs a Python object (only plain YAML is accepted);
- a key given twice in one mapping is an error (PyYAML silently keeps the last one);
- plain scalars follow YAML 1.2 (``on``, ``yes`` and ``no`` stay strings: no Norway problem);
- aliases are expanded against a budget (no billion-laughs), nesting is bounded;
- every node keeps its 1-based line and column for error messages;
- no key, value or comment holds a control, bidirectional or invisible character (`sop.text`):
  written raw or as a YAML escape (`"\\e"`, `"\\u202e"`), it could make a terminal or a
  reviewer's editor show text other than what runs.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from sop.errors import Location, Problem, SopFileError
from sop.files import MIB, FileReadError, read_regular_file
from sop.text import Unsafe, first_unsafe, line_col, may_be_unsafe

try:  # the C parser keeps line/column marks and is several times faster
    _Loader: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _Loader = yaml.SafeLoader

MAX_BYTES = MIB
MAX_NODES = 50_000
MAX_DEPTH = 64
_CORE = "tag:yaml.org,2002:"
_INT = re.compile(r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+")
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_INF_NAN = {
    ".inf": float("inf"),
    "+.inf": float("inf"),
    "-.inf": float("-inf"),
    ".nan": float("nan"),
}


class Node(ABC):
    """A YAML node with its place. `size` counts the nodes below it, itself included.

    Plain classes with slots rather than dataclasses: one is made for every node of every file
    sop reads, and this module is imported by every command that loads an SOP."""

    __slots__ = ("size", "where")

    def __init__(self, where: Location, size: int = 1) -> None:
        self.where = where
        self.size = size

    @property
    @abstractmethod
    def kind(self) -> str:
        """What the node holds, as an error message names it ("list", "mapping", "string"...)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.where}, {self.kind})"


class Scalar(Node):
    __slots__ = ("plain", "text", "value")

    def __init__(
        self,
        where: Location,
        size: int = 1,
        value: object = None,
        text: str = "",
        plain: bool = True,
    ) -> None:
        self.where = where
        self.size = size
        self.value = value
        self.text = text
        self.plain = plain

    @property
    def kind(self) -> str:
        return type_name(self.value)


class Seq(Node):
    __slots__ = ("items",)

    def __init__(self, where: Location, size: int = 1, items: list[Node] | None = None) -> None:
        self.where = where
        self.size = size
        self.items: list[Node] = [] if items is None else items

    @property
    def kind(self) -> str:
        return "list"


class Map(Node):
    __slots__ = ("entries", "key_where")

    def __init__(
        self,
        where: Location,
        size: int = 1,
        entries: dict[str, Node] | None = None,
        key_where: dict[str, Location] | None = None,
    ) -> None:
        self.where = where
        self.size = size
        self.entries: dict[str, Node] = {} if entries is None else entries
        self.key_where: dict[str, Location] = {} if key_where is None else key_where

    @property
    def kind(self) -> str:
        return "mapping"


def type_name(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    return "string"


# the first characters of every plain scalar that is not a string: null, booleans, numbers
_SPECIAL_START = frozenset("~nNtTfF0123456789+-.")


def resolve_plain(text: str) -> object:
    """YAML 1.2 core schema resolution of a plain (unquoted) scalar."""
    if text and text[0] not in _SPECIAL_START:  # most text: it cannot be anything but a string
        return text
    if text in ("", "~", "null", "Null", "NULL"):
        return None
    if text in ("true", "True", "TRUE"):
        return True
    if text in ("false", "False", "FALSE"):
        return False
    if _INT.fullmatch(text):
        return int(text, 0) if text[:2] in ("0o", "0x") else int(text)
    if _FLOAT.fullmatch(text):
        return float(text)
    lowered = text.lower()
    if lowered in _INF_NAN:
        return _INF_NAN[lowered]
    return text


def read_bytes(path: Path, display: str | None = None) -> bytes:
    """Read a YAML file's bytes: a regular file of at most 1 MiB, else a located error."""
    try:
        return read_regular_file(path, MAX_BYTES, display, "YAML files")
    except FileReadError as exc:
        raise _fail(exc.where, exc.reason) from None


def decode(data: bytes, name: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        line = before.count(b"\n") + 1
        col = exc.start - (before.rfind(b"\n") + 1) + 1
        raise _fail(
            Location(name, line, col),
            f"not valid UTF-8: byte 0x{data[exc.start]:02x} cannot be decoded; save the file as UTF-8",
        ) from None


def parse(text: str, name: str) -> Node | None:
    """Compose the single document in `text` into nodes; None when the file holds none."""
    loader = _Loader(text)
    try:
        # the parser refuses raw C0 and C1 controls, so an ASCII file holds no unsafe character
        # but through an escape, in a double-quoted scalar
        raw_unsafe = not text.isascii() and may_be_unsafe(text)
        root = _compose(loader.get_event, name, raw_unsafe)
    except yaml.MarkedYAMLError as exc:
        raise _syntax_error(exc, text, name) from None
    except yaml.YAMLError as exc:  # pragma: no cover - unmarked errors are rare
        raise _fail(Location(name, 1, 1), f"invalid YAML: {exc}") from None
    finally:
        loader.dispose()
    found = first_unsafe(text) if raw_unsafe else None
    while found is not None:  # left after every scalar passed: in a comment
        if found.char != "\r":  # a line end to YAML
            raise _unsafe(Location(name, *line_col(text, found.at)), "", found)
        found = first_unsafe(text, found.at + 1)
    return root


def scalar_ends(text: str) -> dict[tuple[int, int], tuple[int, int]]:
    """Where each scalar of `text` ends (1-based line and column, just past it), by where it
    starts: for an edit that replaces one value and keeps the rest of a file (its comments,
    its quoting) as it is. `text` has been read by `parse` first."""
    ends: dict[tuple[int, int], tuple[int, int]] = {}
    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, yaml.ScalarEvent) and event.start_mark and event.end_mark:
            start, end = event.start_mark, event.end_mark
            ends[(start.line + 1, start.column + 1)] = (end.line + 1, end.column + 1)
    return ends


def _where(name: str, event: yaml.Event) -> Location:
    mark = event.start_mark
    return Location(name, mark.line + 1, mark.column + 1) if mark else Location(name, 1, 1)


_ScalarEvent = yaml.ScalarEvent
_MappingStartEvent = yaml.MappingStartEvent
_MappingEndEvent = yaml.MappingEndEvent
_SequenceStartEvent = yaml.SequenceStartEvent
_SequenceEndEvent = yaml.SequenceEndEvent
_AliasEvent = yaml.AliasEvent
_DocumentStartEvent = yaml.DocumentStartEvent
_StreamEndEvent = yaml.StreamEndEvent
_STR_TAG = _CORE + "str"
_PLAIN_STYLES = (None, "")
# builds a Location without the Python-level `__new__` of a named tuple (twice as fast)
_new_location = tuple.__new__


def _compose(get_event: Callable[[], Any], name: str, check_all: bool) -> Node | None:
    """One pass over the parser's events. This loop runs for every scalar of every file that
    sop reads, so it is written for speed: events are told apart by exact type, a mapping's
    keys are never resolved as values (only their text and place are kept), and the open
    container's parts are held in local variables.

    `stack` holds the open containers and `keys[i]` the key waiting for its value in
    `stack[i]` when that is a mapping (None: the next node is a key)."""
    anchors: dict[str, Node] = {}
    open_anchors: set[str] = set()
    stack: list[Any] = []
    stack_anchors: list[str | None] = []
    keys: list[str | None] = []
    root: Node | None = None
    documents = 0
    total = 0  # nodes after expanding aliases
    # the open container (stack[-1]) and its parts: a mapping's `key_where` and `entries`,
    # or a sequence's `items` (the other ones None)
    top: Any = None
    key_where: dict[str, Location] | None = None
    entries: dict[str, Node] | None = None
    items: list[Node] | None = None
    key: str | None = None  # keys[-1], kept out of the list while `top` is open
    node: Any
    unsafe = may_be_unsafe

    while True:
        event = get_event()
        cls = type(event)
        if cls is _ScalarEvent:
            tag = event.tag
            if tag is not None and tag != "!" and tag != _STR_TAG:
                _check_tag(event, name, "str")
            mark = event.start_mark
            where = _new_location(
                Location, (name, mark.line + 1, mark.column + 1) if mark else (name, 1, 1)
            )
            text = event.value
            anchor = event.anchor
            total += 1
            if (check_all or event.style == '"') and unsafe(text):
                _refuse_unsafe(where, text, stack, keys, key)
            if key is None and key_where is not None and not anchor:
                # a mapping key: only its text and place matter
                if total > MAX_NODES:
                    raise _too_many(where)
                if text in key_where:
                    raise _duplicate_key(text, where, key_where[text])
                key_where[text] = where
                key = text
                continue
            if tag is None and (event.style is None or event.style == ""):
                node = Scalar(where, 1, resolve_plain(text), text, True)
            else:
                node = Scalar(where, 1, text, text, False)
            if anchor:
                anchors[anchor] = node
            if total > MAX_NODES:
                raise _too_many(where)
            if entries is not None:
                if key is None:
                    key = _take_key(top, node)
                    continue
                entries[key] = node
                key = None
                top.size += 1
            elif items is not None:
                items.append(node)
                top.size += 1
            else:
                root = node
            continue
        if cls is _MappingStartEvent or cls is _SequenceStartEvent:
            is_seq = cls is _SequenceStartEvent
            if event.tag is not None:
                _check_tag(event, name, "seq" if is_seq else "map")
            if len(stack) >= MAX_DEPTH:
                raise _fail(_where(name, event), f"nested deeper than {MAX_DEPTH} levels")
            where = _where(name, event)
            anchor = event.anchor
            if anchor:
                open_anchors.add(anchor)
            if top is not None:
                keys.append(key)
            key = None
            if is_seq:
                top = Seq(where)
                items = top.items
                entries = key_where = None
            else:
                top = Map(where)
                entries = top.entries
                key_where = top.key_where
                items = None
            stack.append(top)
            stack_anchors.append(anchor)
            total += 1
            continue
        if cls is _MappingEndEvent or cls is _SequenceEndEvent:
            node = stack.pop()
            anchor = stack_anchors.pop()
            if anchor:
                open_anchors.discard(anchor)
                anchors[anchor] = node
            if stack:
                top = stack[-1]
                key = keys.pop()
                if type(top) is Map:
                    entries = top.entries
                    key_where = top.key_where
                    items = None
                else:
                    items = top.items
                    entries = key_where = None
            else:
                top = entries = key_where = items = None
        elif cls is _AliasEvent:
            if event.anchor in open_anchors:
                raise _fail(_where(name, event), f"alias *{event.anchor} refers to itself")
            found = anchors.get(event.anchor or "")
            if found is None:
                raise _fail(
                    _where(name, event),
                    f"alias *{event.anchor} has no anchor &{event.anchor} before it",
                )
            node = found
            total += node.size - 1  # the last one below, with the other nodes
        elif cls is _DocumentStartEvent:
            documents += 1
            if documents > 1:
                raise _fail(
                    _where(name, event), "more than one YAML document; an SOP file holds one"
                )
            continue
        elif cls is _StreamEndEvent or event is None:
            return root
        else:  # stream start, document end
            continue
        # a closed container, or an alias: add it to the open container, or make it the root
        total += 1 if cls is _AliasEvent else 0
        if total > MAX_NODES:
            raise _too_many(node.where)
        if entries is not None:
            if key is None:
                key = _take_key(top, node)
            else:
                entries[key] = node
                key = None
                top.size += node.size
        elif items is not None:
            items.append(node)
            top.size += node.size
        else:
            root = node


def _refuse_unsafe(
    where: Location, text: str, stack: list[Any], keys: list[str | None], key: str | None
) -> None:
    """Refuse a scalar holding an unsafe character, located by its key path (`steps[2].run`)."""
    found = first_unsafe(text)
    if found is None:
        return
    path = ""
    pending = [*keys, key]  # the key each open mapping waits to fill
    for container, waiting in zip(stack, pending, strict=True):
        if type(container) is Seq:
            path += f"[{len(container.items)}]"
        elif waiting is not None:
            path += f".{waiting}" if path else waiting
        else:  # the scalar is this mapping's key
            path += f".{text}" if path else text
    raise _unsafe(where, path, found)


def _unsafe(where: Location, path: str, found: Unsafe) -> SopFileError:
    return SopFileError(
        [
            Problem(
                where,
                path,
                f"{found.describe()} is not allowed in SOP files: it can make a terminal or "
                "an editor show text other than what runs",
                code="yaml",
            )
        ]
    )


def _too_many(where: Location) -> SopFileError:
    return _fail(
        where,
        f"the document expands to more than {MAX_NODES} nodes (an alias bomb?); "
        "SOP files are small",
    )


def _take_key(mapping: Map, key: Node) -> str:
    if not isinstance(key, Scalar):
        raise _fail(key.where, f"a mapping key must be a plain value, not a {key.kind}")
    return _take_key_text(mapping, key.text, key.where)


def _take_key_text(mapping: Map, text: str, where: Location) -> str:
    if text in mapping.key_where:
        raise _duplicate_key(text, where, mapping.key_where[text])
    mapping.key_where[text] = where
    return text


def _duplicate_key(text: str, where: Location, first: Location) -> SopFileError:
    return _fail(
        where,
        f"duplicate key '{text}' (first given at line {first.line}); "
        "YAML would keep only the last one",
    )


def _check_tag(event: yaml.NodeEvent, name: str, kind: str) -> None:
    tag = getattr(event, "tag", None)
    if tag in (None, "!", _CORE + kind):
        return
    shown = "!!" + tag[len(_CORE) :] if tag.startswith(_CORE) else tag
    raise _fail(
        _where(name, event),
        f"unsupported tag '{shown}': sop reads plain YAML only (no tags that build objects)",
    )


def _syntax_error(exc: yaml.MarkedYAMLError, text: str, name: str) -> SopFileError:
    mark = exc.problem_mark or exc.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    lines = text.splitlines()
    if 0 < line <= len(lines):
        source = lines[line - 1]
        indent = source[: len(source) - len(source.lstrip(" \t"))]
        if "\t" in indent:
            return _fail(
                Location(name, line, indent.index("\t") + 1),
                "tab character in indentation; YAML indents with spaces",
            )
    problem = exc.problem or "invalid YAML"
    if exc.context:
        problem = f"{problem} ({exc.context})"
    hint = _block_scalar_hint(lines, line) or _colon_hint(problem, lines, line)
    return _fail(Location(name, line, col), f"invalid YAML: {problem}" + hint)


# a key or list item whose value is a block scalar without an indentation indicator
_BLOCK_HEADER = re.compile(r"^( *)(?:- +)?(?:[^#\s][^#]*?:\s+)?[|>][+-]?\s*(?:#.*)?$")


def _colon_hint(problem: str, lines: list[str], line: int) -> str:
    """`prose: Check it: now` is a mapping in a mapping to YAML: say how to keep the text."""
    if "mapping values are not allowed" not in problem or not 0 < line <= len(lines):
        return ""
    return (
        "; a ': ' inside plain text starts a mapping: quote the text "
        '(prose: "Check it: now") or write it as a block scalar (`prose: |` and the text '
        "on the lines below, indented)"
    )


def _block_scalar_hint(lines: list[str], line: int) -> str:
    """A block scalar (`stdout: |`) takes its indentation from its first line: when that line
    begins with more spaces than a later one, the block ends early and the later line breaks
    the file. Name the block and the indentation indicator that keeps the spaces."""
    for header in range(min(line, len(lines)) - 1, 0, -1):
        match = _BLOCK_HEADER.match(lines[header - 1])
        if match is None:
            continue
        body = [n for n in range(header + 1, line + 1) if lines[n - 1].strip()]
        if len(body) < 2:
            return ""
        base = len(match[1])
        first = _indent(lines[body[0] - 1])
        shallower = next((n for n in body[1:] if base < _indent(lines[n - 1]) < first), None)
        if shallower is None:
            return ""
        usual = _indent(lines[shallower - 1]) - base
        return (
            f"; the block scalar of line {header} takes its indentation from its first line "
            f"({first} spaces), and line {shallower} has fewer. When the text begins with "
            f"spaces, say how far the block is indented with an indentation indicator: "
            f"`|{usual}` (the block's lines are indented {usual} spaces more than its key)"
        )
    return ""


def _indent(text: str) -> int:
    return len(text) - len(text.lstrip(" "))


def _fail(where: Location, message: str) -> SopFileError:
    return SopFileError([Problem(where, "", message, code="yaml")])
