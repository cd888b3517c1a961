"""W3C trace context (https://www.w3.org/TR/trace-context/) as a run uses it: the `TRACEPARENT`
sop was started with makes the run a child of that span (OpenTelemetry's environment carrier),
and each command gets the `TRACEPARENT` of its own host span. Ids are random, never derived
from anything the run knows."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

from sop.records import dataclass

_HEX = re.compile(r"[0-9a-f]+")
ZERO_TRACE = "0" * 32
ZERO_SPAN = "0" * 16


@dataclass(frozen=True)
class RunTrace:
    """Where a run sits in a trace: its trace id, its own span, and the span it is a child of
    ("" when it starts a trace)."""

    trace_id: str
    span_id: str
    parent_span_id: str = ""


class TraceParentError(ValueError):
    """A TRACEPARENT that the W3C rules refuse; the message says why."""


def new_trace_id() -> str:
    while (trace_id := os.urandom(16).hex()) == ZERO_TRACE:
        continue
    return trace_id


def new_span_id() -> str:
    while (span_id := os.urandom(8).hex()) == ZERO_SPAN:
        continue
    return span_id


def traceparent(trace_id: str, span_id: str) -> str:
    """The `TRACEPARENT` of a span sop records: version 00, sampled."""
    return f"00-{trace_id}-{span_id}-01"


def _hex(text: str, length: int) -> bool:
    return len(text) == length and _HEX.fullmatch(text) is not None


def parse_traceparent(value: str) -> tuple[str, str]:
    """The trace id and parent span id of a `traceparent` value. Version 00 is exactly
    `00-TRACE-PARENT-FLAGS`; a higher version may have more after a `-`, and its first four
    fields are read as version 00's (the spec's rule for a version this code does not know)."""
    version, trace_id, parent, flags = value[:2], value[3:35], value[36:52], value[53:55]
    dashes = (value[2:3], value[35:36], value[52:53])
    if not _hex(version, 2) or version == "ff":
        raise TraceParentError(f"version {version!r} is not two lowercase hex digits below ff")
    if dashes != ("-", "-", "-") or not (
        len(value) == 55 or (version != "00" and value[55:56] == "-")
    ):
        raise TraceParentError("expected VERSION-TRACE_ID-PARENT_ID-FLAGS (2-32-16-2 hex digits)")
    if not _hex(trace_id, 32) or trace_id == ZERO_TRACE:
        raise TraceParentError("the trace id is not 32 lowercase hex digits, not all zero")
    if not _hex(parent, 16) or parent == ZERO_SPAN:
        raise TraceParentError("the parent id is not 16 lowercase hex digits, not all zero")
    if not _hex(flags, 2):
        raise TraceParentError("the flags are not two lowercase hex digits")
    return trace_id, parent


def check_trace_id(value: str) -> str:
    """A trace id as `--trace-id` gives it: 32 hex digits, not all zero (lower-cased)."""
    trace_id = value.strip().lower()
    if not _hex(trace_id, 32) or trace_id == ZERO_TRACE:
        raise TraceParentError(f"{value!r} is not a trace id: 32 hex digits, not all zero")
    return trace_id


def run_trace(trace_id: str, environ: Mapping[str, str]) -> tuple[RunTrace, str]:
    """A new run's place in a trace, and a warning ("" when none): a valid `TRACEPARENT` in
    `environ` makes it a child of that span; `trace_id` (`--trace-id`) wins for the trace id,
    and then the parent is kept only when it is of that trace. An invalid one is ignored."""
    incoming, parent, warning = "", "", ""
    value = environ.get("TRACEPARENT", "").strip()
    if value:
        try:
            incoming, parent = parse_traceparent(value)
        except TraceParentError as exc:
            warning = f"TRACEPARENT ignored ({exc}): the run starts a new trace"
    if trace_id and trace_id != incoming:
        return RunTrace(trace_id, new_span_id()), warning
    return RunTrace(incoming or new_trace_id(), new_span_id(), parent), warning
