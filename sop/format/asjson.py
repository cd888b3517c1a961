"""A loaded SOP as JSON data (`sop show --format json`): every field of its records, by the
names the model gives them, with each record's place in the file as `line` and `col`.

What the loader derived is there too (step numbers, key paths, the section each step is in,
the heading notes each step carries), so a tool reads what sop will walk, not the YAML text."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sop.errors import Location
from sop.model import Sop

SCHEMA_VERSION = 1  # of this JSON view: bumped when a field changes meaning or goes away


def sop_as_json(sop: Sop) -> dict[str, Any]:
    data = _value(sop)
    return {"sop_json": SCHEMA_VERSION, **data}


def _value(value: object) -> Any:
    if isinstance(value, Location):
        return {"file": value.file, "line": value.line, "col": value.col}
    if isinstance(value, tuple) and hasattr(value, "_fields"):  # a model record
        return _record(value)
    if isinstance(value, (list, tuple)):
        return [_value(item) for item in value]
    if isinstance(value, Mapping):
        return {str(key): _value(item) for key, item in value.items()}
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _record(record: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for name in record._fields:
        if name == "locs":  # where each key stood: the editor's business, not the reader's
            continue
        item = getattr(record, name)
        if name == "where" and isinstance(item, Location):
            fields["line"], fields["col"] = item.line, item.col
            continue
        fields[name] = _value(item)
    return fields
