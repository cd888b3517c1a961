"""Read a YAML file safely into nodes that remember where they came from.

This is the only module that imports PyYAML. We compose nodes from the parser's event stream
ourselves instead of using PyYAML's constructor, so that:

- no tag ever constructs a Python object (only plain YAML is accepted);
- a key given twice in one mapping is an error (PyYAML silently keeps the last one);
- plain scalars follow YAML 1.2 (``on``, ``yes`` and ``no`` stay strings: no Norway problem);
- aliases are expanded against a budget (no billion-laughs), nesting is bounded;
- every node keeps its 1-based line and column for error messages.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from sop.errors import Location, Problem, SopFileError

try:  # the C parser keeps line/column marks and is several times faster
    _Loader: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _Loader = yaml.SafeLoader

MAX_BYTES = 1024 * 1024
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


@dataclass(eq=False)
class Node:
    """A YAML node with its place. `size` counts the nodes below it, itself included."""

    where: Location
    size: int = 1

    @property
    def kind(self) -> str:
        raise NotImplementedError


@dataclass(eq=False)
class Scalar(Node):
    value: object = None
    text: str = ""
    plain: bool = True

    @property
    def kind(self) -> str:
        return type_name(self.value)


@dataclass(eq=False)
class Seq(Node):
    items: list[Node] = field(default_factory=list)

    @property
    def kind(self) -> str:
        return "list"


@dataclass(eq=False)
class Map(Node):
    entries: dict[str, Node] = field(default_factory=dict)
    key_where: dict[str, Location] = field(default_factory=dict)

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


def resolve_plain(text: str) -> object:
    """YAML 1.2 core schema resolution of a plain (unquoted) scalar."""
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
    """Read a YAML file's bytes, refusing huge files with a located error."""
    name = display or str(path)
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise _fail(
                Location(name, 1, 1),
                f"file is {size / 1e6:.1f} MB; sop reads YAML files up to 1 MiB",
            )
        data = path.read_bytes()
    except OSError as exc:
        raise _fail(Location(name), f"cannot read: {exc.strerror or exc}") from None
    return data


def decode(data: bytes, name: str) -> str:
    if len(data) > MAX_BYTES:
        raise _fail(
            Location(name, 1, 1),
            f"file is {len(data) / 1e6:.1f} MB; sop reads YAML files up to 1 MiB",
        )
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
    try:
        return _compose(_events(text), name)
    except yaml.MarkedYAMLError as exc:
        raise _syntax_error(exc, text, name) from None
    except yaml.YAMLError as exc:  # pragma: no cover - unmarked errors are rare
        raise _fail(Location(name, 1, 1), f"invalid YAML: {exc}") from None


def _events(text: str) -> Iterator[yaml.Event]:
    loader = _Loader(text)
    try:
        while loader.check_event():
            yield loader.get_event()
    finally:
        loader.dispose()


def _where(name: str, event: yaml.Event) -> Location:
    mark = event.start_mark
    return Location(name, mark.line + 1, mark.column + 1) if mark else Location(name, 1, 1)


def _compose(events: Iterator[yaml.Event], name: str) -> Node | None:
    anchors: dict[str, Node] = {}
    open_anchors: set[str] = set()
    stack: list[_Open] = []
    root: Node | None = None
    documents = 0
    total = 0  # nodes after expanding aliases

    def add(node: Node, count: int) -> None:
        nonlocal root, total
        total += count
        if total > MAX_NODES:
            raise _fail(
                node.where,
                f"the document expands to more than {MAX_NODES} nodes (an alias bomb?); "
                "SOP files are small",
            )
        if not stack:
            root = node
            return
        top = stack[-1]
        if isinstance(top.node, Map) and top.key is None:
            top.key = _take_key(top.node, node)
            return
        if isinstance(top.node, Map):
            top.node.entries[top.key or ""] = node
            top.key = None
        elif isinstance(top.node, Seq):
            top.node.items.append(node)
        top.node.size += node.size

    for event in events:
        if isinstance(event, yaml.DocumentStartEvent):
            documents += 1
            if documents > 1:
                raise _fail(
                    _where(name, event), "more than one YAML document; an SOP file holds one"
                )
        elif isinstance(event, yaml.AliasEvent):
            if event.anchor in open_anchors:
                raise _fail(_where(name, event), f"alias *{event.anchor} refers to itself")
            target = anchors[event.anchor or ""]
            add(target, target.size)
        elif isinstance(event, yaml.ScalarEvent):
            node = _scalar(event, name)
            if event.anchor:
                anchors[event.anchor] = node
            add(node, 1)
        elif isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            is_seq = isinstance(event, yaml.SequenceStartEvent)
            _check_tag(event, name, "seq" if is_seq else "map")
            if len(stack) >= MAX_DEPTH:
                raise _fail(_where(name, event), f"nested deeper than {MAX_DEPTH} levels")
            where = _where(name, event)
            if event.anchor:
                open_anchors.add(event.anchor)
            stack.append(_Open(Seq(where) if is_seq else Map(where), event.anchor))
            total += 1
        elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            closed = stack.pop()
            if closed.anchor:
                open_anchors.discard(closed.anchor)
                anchors[closed.anchor] = closed.node
            add(closed.node, 0)
    return root


@dataclass(eq=False)
class _Open:
    """A container being filled, with its anchor and the key waiting for its value."""

    node: Node
    anchor: str | None
    key: str | None = None


def _take_key(mapping: Map, key: Node) -> str:
    if not isinstance(key, Scalar):
        raise _fail(key.where, f"a mapping key must be a plain value, not a {key.kind}")
    if key.text in mapping.entries or key.text in mapping.key_where:
        first = mapping.key_where[key.text]
        raise _fail(
            key.where,
            f"duplicate key '{key.text}' (first given at line {first.line}); "
            "YAML would keep only the last one",
        )
    mapping.key_where[key.text] = key.where
    return key.text


def _check_tag(event: yaml.NodeEvent, name: str, kind: str) -> None:
    tag = getattr(event, "tag", None)
    if tag in (None, "!", _CORE + kind):
        return
    shown = "!!" + tag[len(_CORE) :] if tag.startswith(_CORE) else tag
    raise _fail(
        _where(name, event),
        f"unsupported tag '{shown}': sop reads plain YAML only (no tags that build objects)",
    )


def _scalar(event: yaml.ScalarEvent, name: str) -> Scalar:
    _check_tag(event, name, "str")
    plain = event.style in (None, "") and event.tag is None
    value = resolve_plain(event.value) if plain else event.value
    return Scalar(_where(name, event), value=value, text=event.value, plain=plain)


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
    return _fail(Location(name, line, col), f"invalid YAML: {problem}")


def _fail(where: Location, message: str) -> SopFileError:
    return SopFileError([Problem(where, "", message, code="yaml")])
