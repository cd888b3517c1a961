"""The kit for declaring a YAML format once: specs (`Str`, `Int`, `ListOf`, `Struct`, ...) that
validate YAML nodes, collecting every problem with its `file:line:col` and key path, and export
the JSON Schema editors use. The SOP and inventory formats are declared with it in
`sop.format.schema`; tabletop scenarios in `sop.format.scenario`."""

from __future__ import annotations

import datetime as dt
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sop.errors import Location, Problem
from sop.format.yamlnodes import Map, Node, Scalar, Seq

BAD: Any = object()  # what a check returns for a value that failed; problems say why
JsonSchema = dict[str, Any]


class Checked:
    """A validated mapping: plain values per key, where the mapping and each key stood."""

    __slots__ = ("locs", "values", "where")

    def __init__(self, values: dict[str, Any], where: Location, locs: dict[str, Location]) -> None:
        self.values = values
        self.where = where
        self.locs = locs

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)


class Spec(ABC):
    """A declaration of one kind of value. The kinds are plain classes rather than dataclasses
    (cheaper to create at import, which `sop list` pays)."""

    description = ""

    @abstractmethod
    def check(self, node: Node, path: str, problems: list[Problem]) -> Any:
        """The value of `node` if it is valid, else BAD with the reasons added to `problems`."""

    @abstractmethod
    def json(self) -> JsonSchema:
        """This spec as JSON Schema."""

    def described(self) -> JsonSchema:
        out = self.json()
        if self.description:
            out = {"description": self.description, **out}
        return out


def _bad(problems: list[Problem], node: Node, path: str, message: str) -> Any:
    problems.append(Problem(node.where, path, message))
    return BAD


def _expected(problems: list[Problem], node: Node, path: str, what: str) -> Any:
    return _bad(problems, node, path, f"expected {what}, got {_article(node.kind)}")


def _article(kind: str) -> str:
    return "null" if kind == "null" else ("an " if kind[0] in "aeiou" else "a ") + kind


class Str(Spec):
    def __init__(
        self,
        description: str = "",
        pattern: str | None = None,
        pattern_hint: str = "",
        choices: Sequence[str] = (),
        nonempty: bool = True,
    ) -> None:
        self.description = description
        self.pattern = pattern
        self._regex = re.compile(pattern) if pattern else None
        self.pattern_hint = pattern_hint
        self.choices = choices
        self.nonempty = nonempty

    def check(self, node: Node, path: str, problems: list[Problem]) -> Any:
        # a plain scalar counts as its text: `run: true` is the command `true`, not a boolean
        if not isinstance(node, Scalar) or node.value is None:
            return _expected(problems, node, path, "a string")
        text = node.text if node.plain else str(node.value)
        if self.nonempty and not text.strip():
            return _bad(problems, node, path, "must not be empty")
        if self.choices and text not in self.choices:
            return _bad(
                problems, node, path, f"expected one of {', '.join(self.choices)}; got '{text}'"
            )
        if self._regex is not None and not self._regex.fullmatch(text):
            hint = self.pattern_hint or f"must match {self.pattern}"
            return _bad(problems, node, path, f"'{text}': {hint}")
        return text

    def json(self) -> JsonSchema:
        out: JsonSchema = {"type": "string"}
        if self.choices:
            out["enum"] = list(self.choices)
        if self.pattern:
            out["pattern"] = f"^(?:{self.pattern})$"
        elif self.nonempty:
            out["minLength"] = 1
        return out


class Int(Spec):
    def __init__(
        self, description: str = "", minimum: int | None = None, maximum: int | None = None
    ) -> None:
        self.description = description
        self.minimum = minimum
        self.maximum = maximum

    def check(self, node: Node, path: str, problems: list[Problem]) -> Any:
        if (
            not isinstance(node, Scalar)
            or not isinstance(node.value, int)
            or isinstance(node.value, bool)
        ):
            return _expected(problems, node, path, "an integer")
        if self.minimum is not None and node.value < self.minimum:
            return _bad(problems, node, path, f"must be at least {self.minimum}")
        if self.maximum is not None and node.value > self.maximum:
            return _bad(problems, node, path, f"must be at most {self.maximum}")
        return node.value

    def json(self) -> JsonSchema:
        out: JsonSchema = {"type": "integer"}
        if self.minimum is not None:
            out["minimum"] = self.minimum
        if self.maximum is not None:
            out["maximum"] = self.maximum
        return out


class Bool(Spec):
    def __init__(self, description: str = "") -> None:
        self.description = description

    def check(self, node: Node, path: str, problems: list[Problem]) -> Any:
        if not isinstance(node, Scalar) or not isinstance(node.value, bool):
            return _expected(problems, node, path, "true or false")
        return node.value

    def json(self) -> JsonSchema:
        return {"type": "boolean"}


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


class Duration(Spec):
    """Seconds as a number, or a string such as `500ms`, `10s`, `5m`, `1h`. `positive`: zero is
    an error too."""

    def __init__(self, description: str = "", *, positive: bool = False) -> None:
        self.description = description
        self.positive = positive

    def check(self, node: Node, path: str, problems: list[Problem]) -> Any:
        if isinstance(node, Scalar) and not isinstance(node.value, bool):
            seconds: float | None = None
            if isinstance(node.value, (int, float)) and node.value >= 0:
                seconds = float(node.value)
            elif match := _DURATION.fullmatch(str(node.value).strip()):
                seconds = float(match[1]) * _UNITS[match[2]]
            if seconds is not None and not (self.positive and seconds == 0):
                return seconds
            if seconds is not None:
                return _bad(problems, node, path, "expected a duration longer than 0")
        return _bad(problems, node, path, "expected a duration such as 30, 500ms, 10s, 5m or 1h")

    def json(self) -> JsonSchema:
        number: JsonSchema = {"type": "number", "minimum": 0}
        if self.positive:
            number = {"type": "number", "exclusiveMinimum": 0}
        return {
            "anyOf": [
                number,
                {"type": "string", "pattern": r"^\d+(\.\d+)?(ms|s|m|h)$"},
            ]
        }


class Date(Spec):
    def __init__(self, description: str = "") -> None:
        self.description = description

    def check(self, node: Node, path: str, problems: list[Problem]) -> Any:
        if isinstance(node, Scalar) and isinstance(node.value, str):
            try:
                return dt.date.fromisoformat(node.value)
            except ValueError:
                pass
        return _bad(problems, node, path, "expected a date as YYYY-MM-DD")

    def json(self) -> JsonSchema:
        return {"type": "string", "format": "date", "pattern": r"^\d{4}-\d{2}-\d{2}$"}


class Value(Spec):
    """A plain scalar value (string, number or boolean), kept as text for templates."""

    def __init__(self, description: str = "") -> None:
        self.description = description

    def check(self, node: Node, path: str, problems: list[Problem]) -> Any:
        if not isinstance(node, Scalar) or node.value is None:
            return _expected(problems, node, path, "a string, number or boolean")
        if isinstance(node.value, bool):
            return "true" if node.value else "false"
        return node.text if node.plain else str(node.value)

    def json(self) -> JsonSchema:
        return {"type": ["string", "number", "boolean"]}


class Data(Spec):
    """Any plain data (for task arguments): scalars, lists and mappings of them."""

    def __init__(self, description: str = "") -> None:
        self.description = description

    def check(self, node: Node, path: str, problems: list[Problem]) -> Any:
        if isinstance(node, Scalar):
            return node.value
        if isinstance(node, Seq):
            return [self.check(item, f"{path}[{i}]", problems) for i, item in enumerate(node.items)]
        assert isinstance(node, Map)
        return {k: self.check(v, f"{path}.{k}", problems) for k, v in node.entries.items()}

    def json(self) -> JsonSchema:
        return {}


class ListOf(Spec):
    def __init__(
        self,
        item: Spec,
        description: str = "",
        min_items: int = 0,
        single_ok: bool = False,  # a lone value stands for a list of one
    ) -> None:
        self.item = item
        self.description = description
        self.min_items = min_items
        self.single_ok = single_ok

    def check(self, node: Node, path: str, problems: list[Problem]) -> Any:
        if self.single_ok and not isinstance(node, Seq):
            value = self.item.check(node, path, problems)
            return BAD if value is BAD else [value]
        if not isinstance(node, Seq):
            return _expected(problems, node, path, "a list")
        if len(node.items) < self.min_items:
            return _bad(problems, node, path, f"needs at least {self.min_items} item(s)")
        values = [
            self.item.check(item, f"{path}[{i}]", problems) for i, item in enumerate(node.items)
        ]
        return BAD if any(v is BAD for v in values) else values

    def json(self) -> JsonSchema:
        out: JsonSchema = {"type": "array", "items": self.item.described()}
        if self.min_items:
            out["minItems"] = self.min_items
        if self.single_ok:
            return {"anyOf": [self.item.described(), out]}
        return out


class Keyed(dict[str, Any]):
    """The values of a checked `MapOf`, and where each key stands (`key_where`): a check
    after the schema's (lint) can point at the key it is about."""

    __slots__ = ("key_where",)

    def __init__(self) -> None:
        super().__init__()
        self.key_where: dict[str, Location] = {}


class MapOf(Spec):
    def __init__(
        self,
        value: Spec,
        description: str = "",
        key_pattern: str | None = None,
        key_hint: str = "",
    ) -> None:
        self.value = value
        self.description = description
        self.key_pattern = key_pattern
        self.key_hint = key_hint

    def check(self, node: Node, path: str, problems: list[Problem]) -> Any:
        if not isinstance(node, Map):
            return _expected(problems, node, path, "a mapping")
        out = Keyed()
        for key, child in node.entries.items():
            if self.key_pattern and not re.fullmatch(self.key_pattern, key):
                problems.append(
                    Problem(node.key_where[key], f"{path}.{key}", self.key_hint or "bad name")
                )
                continue
            out[key] = self.value.check(child, f"{path}.{key}", problems)
            out.key_where[key] = node.key_where[key]
        return out

    def json(self) -> JsonSchema:
        out: JsonSchema = {"type": "object", "additionalProperties": self.value.described()}
        if self.key_pattern:
            out["propertyNames"] = {"pattern": f"^(?:{self.key_pattern})$"}
        return out


class Struct(Spec):
    """A mapping with known keys; any other key is an error with a 'did you mean' hint."""

    def __init__(
        self,
        name: str,
        fields: Mapping[str, Spec],
        description: str = "",
        required: Sequence[str] = (),
        exactly_one: Sequence[str] = (),  # the keys that say what kind of record this is
        # key -> the kind key(s) it goes with: `timeout` means nothing on a prose step
        only_with: Mapping[str, str | tuple[str, ...]] | None = None,
        custom: Callable[[Checked, list[Problem], str], None] | None = None,
    ) -> None:
        self.name = name
        self.fields = fields
        self.description = description
        self.required = required
        self.exactly_one = exactly_one
        self.only_with: Mapping[str, tuple[str, ...]] = {
            key: (kinds,) if isinstance(kinds, str) else kinds
            for key, kinds in (only_with or {}).items()
        }
        self.custom = custom

    def check(self, node: Node, path: str, problems: list[Problem]) -> Any:
        if not isinstance(node, Map):
            return _expected(problems, node, path, "a mapping")
        checked = Checked({}, node.where, dict(node.key_where))
        ok = True
        for key, child in node.entries.items():
            key_path = f"{path}.{key}" if path else key
            spec = self.fields.get(key)
            if spec is None:
                problems.append(
                    Problem(node.key_where[key], key_path, _unknown_key(key, self.fields))
                )
                ok = False
                continue
            value = spec.check(child, key_path, problems)
            ok &= value is not BAD
            checked.values[key] = value
        for key in self.required:
            if key not in node.entries:
                problems.append(Problem(node.where, path, f"missing required key '{key}'"))
                ok = False
        ok &= self._check_kind(node, path, problems)
        if self.custom and ok:
            self.custom(checked, problems, path)
        return checked if ok else BAD

    def _check_kind(self, node: Map, path: str, problems: list[Problem]) -> bool:
        if not self.exactly_one:
            return True
        kinds = [k for k in node.entries if k in self.exactly_one]
        if not kinds:
            names = ", ".join(self.exactly_one)
            problems.append(Problem(node.where, path, f"a {self.name} needs one of: {names}"))
            return False
        if len(kinds) > 1:
            problems.append(
                Problem(
                    node.key_where[kinds[1]],
                    f"{path}.{kinds[1]}",
                    f"a {self.name} has one kind; it already has '{kinds[0]}'",
                )
            )
            return False
        ok = True
        for key, needs in self.only_with.items():
            if key in node.entries and kinds[0] not in needs:
                problems.append(
                    Problem(
                        node.key_where[key],
                        f"{path}.{key}",
                        f"'{key}' goes only with {_names(needs)} steps",
                    )
                )
                ok = False
        return ok

    def json(self) -> JsonSchema:
        return {"$ref": f"#/$defs/{self.name}"}

    def definition(self) -> JsonSchema:
        out: JsonSchema = {
            "type": "object",
            "properties": {k: v.described() for k, v in self.fields.items()},
            "additionalProperties": False,
        }
        if self.description:
            out = {"description": self.description, **out}
        if self.required:
            out["required"] = list(self.required)
        if self.exactly_one:
            out["oneOf"] = [{"required": [k]} for k in self.exactly_one]
        rules = self._kind_rules()
        if rules:
            out["allOf"] = rules
        return out

    def _kind_rules(self) -> list[JsonSchema]:
        """`only_with` as one if/then per kind: a step with `prose` has no `timeout`. An
        editor then marks the key that does not belong, as `sop lint` does."""
        rules: list[JsonSchema] = []
        for kind in self.exactly_one:
            refused = [k for k, needs in self.only_with.items() if kind not in needs]
            if refused:
                rules.append(
                    {
                        "if": {"required": [kind]},
                        "then": {"properties": dict.fromkeys(refused, False)},
                    }
                )
        return rules


class Either(Spec):
    """One of several records, chosen by a key that only one of them has."""

    def __init__(
        self, by_key: Mapping[str, Struct], default: Struct, description: str = ""
    ) -> None:
        self.by_key = by_key
        self.default = default
        self.description = description

    def check(self, node: Node, path: str, problems: list[Problem]) -> Any:
        if isinstance(node, Map):
            for key, record in self.by_key.items():
                if key in node.entries:
                    return record.check(node, path, problems)
        return self.default.check(node, path, problems)

    def json(self) -> JsonSchema:
        return {"anyOf": [r.json() for r in (*self.by_key.values(), self.default)]}


class ScalarOr(Spec):
    """A scalar, or a mapping that says more (`confirm: typed` or `confirm: {type: WORD}`,
    `status_updates: 30m` or `{sev1: 15m}`)."""

    def __init__(self, scalar: Spec, record: Struct | MapOf, description: str = "") -> None:
        self.scalar = scalar
        self.record = record
        self.description = description

    def check(self, node: Node, path: str, problems: list[Problem]) -> Any:
        if isinstance(node, Map):
            return self.record.check(node, path, problems)
        return self.scalar.check(node, path, problems)

    def json(self) -> JsonSchema:
        return {"anyOf": [self.scalar.json(), self.record.json()]}


def _names(keys: Sequence[str]) -> str:
    """'run', 'script' and 'task'."""
    quoted = [f"'{k}'" for k in keys]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]


def _unknown_key(key: str, known: Mapping[str, Spec]) -> str:
    import difflib  # only for a key that is wrong

    close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.6)
    if close:
        return f"unknown key; did you mean '{close[0]}'?"
    return "unknown key; expected one of " + ", ".join(sorted(known))


def document_schema(root: Struct, structs: Sequence[Struct], name: str, title: str) -> JsonSchema:
    """A JSON Schema (2020-12) document whose top level is `root`; `structs` are every struct
    it refers to (`$defs`)."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://sop.invalid/schema/{name}.json",
        "title": title,
        **root.definition(),
        "$defs": {r.name: r.definition() for r in structs},
    }
