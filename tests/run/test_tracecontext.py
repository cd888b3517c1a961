"""An incoming TRACEPARENT read as the W3C trace context spec says, and --trace-id over it."""

from __future__ import annotations

import pytest

from sop.run.tracecontext import (
    TraceParentError,
    check_trace_id,
    new_span_id,
    parse_traceparent,
    run_trace,
    traceparent,
)

TRACE, PARENT = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"


@pytest.mark.parametrize(
    "value",
    [
        f"00-{TRACE}-{PARENT}-01",
        f"00-{TRACE}-{PARENT}-00",  # not sampled: still the parent
        f"01-{TRACE}-{PARENT}-09",  # a later version: its first four fields
        f"cc-{TRACE}-{PARENT}-01-what-comes-next",
    ],
)
def test_a_valid_traceparent_gives_its_trace_and_parent(value: str) -> None:
    assert parse_traceparent(value) == (TRACE, PARENT)


@pytest.mark.parametrize(
    ("value", "why"),
    [
        (f"ff-{TRACE}-{PARENT}-01", "version 'ff' is not two lowercase hex digits below ff"),
        (f"0-{TRACE}-{PARENT}-01", "version '0-' is not two lowercase hex digits below ff"),
        (f"00-{TRACE}-{PARENT}-01-x", "expected VERSION-TRACE_ID-PARENT_ID-FLAGS (2-32-16-2 hex digits)"),
        (f"01-{TRACE}-{PARENT}-01x", "expected VERSION-TRACE_ID-PARENT_ID-FLAGS (2-32-16-2 hex digits)"),
        (f"00_{TRACE}_{PARENT}_01", "expected VERSION-TRACE_ID-PARENT_ID-FLAGS (2-32-16-2 hex digits)"),
        (f"00-{TRACE.upper()}-{PARENT}-01", "the trace id is not 32 lowercase hex digits, not all zero"),
        (f"00-{'0' * 32}-{PARENT}-01", "the trace id is not 32 lowercase hex digits, not all zero"),
        (f"00-{TRACE}-{'0' * 16}-01", "the parent id is not 16 lowercase hex digits, not all zero"),
        (f"00-{TRACE}-{PARENT}-0g", "the flags are not two lowercase hex digits"),
        ("", "version '' is not two lowercase hex digits below ff"),
    ],
)  # fmt: skip
def test_an_invalid_traceparent_says_why(value: str, why: str) -> None:
    with pytest.raises(TraceParentError) as raised:
        parse_traceparent(value)
    assert str(raised.value) == why


def test_the_run_is_a_child_of_the_incoming_span() -> None:
    trace, warning = run_trace("", {"TRACEPARENT": f"00-{TRACE}-{PARENT}-01"})
    assert (trace.trace_id, trace.parent_span_id, warning) == (TRACE, PARENT, "")
    assert len(trace.span_id) == 16 and trace.span_id != PARENT


def test_trace_id_wins_and_keeps_a_parent_of_its_own_trace_only() -> None:
    other = "0af7651916cd43dd8448eb211c80319c"
    incoming = {"TRACEPARENT": f"00-{TRACE}-{PARENT}-01"}
    assert run_trace(other, incoming)[0].parent_span_id == ""
    assert run_trace(other, incoming)[0].trace_id == other
    assert run_trace(TRACE, incoming)[0].parent_span_id == PARENT


def test_an_invalid_traceparent_starts_a_new_trace_with_a_warning() -> None:
    trace, warning = run_trace("", {"TRACEPARENT": "garbage"})
    assert warning == (
        "TRACEPARENT ignored (version 'ga' is not two lowercase hex digits below ff): "
        "the run starts a new trace"
    )
    assert (len(trace.trace_id), trace.parent_span_id) == (32, "")


def test_ids_and_the_traceparent_sop_gives_commands() -> None:
    assert check_trace_id(f" {TRACE.upper()} ") == TRACE
    with pytest.raises(TraceParentError):
        check_trace_id("abc")
    span = new_span_id()
    assert parse_traceparent(traceparent(TRACE, span)) == (TRACE, span)
