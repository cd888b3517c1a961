"""A run's spans exported over OTLP/HTTP to a local receiver that decodes them: the ids are the
audit log's, run -> step -> host, a child of the incoming TRACEPARENT; no secret in the payload;
an export that fails or hangs costs one warning line, never the run."""

from __future__ import annotations

import datetime as dt
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from sop.audit.actions import Action
from sop.audit.reader import AuditEntry, read_entries, read_run
from sop.audit.spans import run_spans
from sop.cli import cli
from tests.audit.otlpreceiver import Receiver, otlp_receiver
from tests.conftest import REPO

TRACE, PARENT = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
SECRET = "hunter2-correct-horse"
SOP = f"""\
sop: 1
id: traced
title: Traced
owner: team
reviewed: {dt.date.today()}
inputs:
  token: {{secret: true, env: TRACED_TOKEN}}
steps:
  - id: record
    run: printf '%s' "$TRACEPARENT" > traceparent.txt; printf 'token %s\\n' "$SOP_SECRET_TOKEN"
  - id: second
    run: exit 3
    ok_exit: [3]
"""


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    with otlp_receiver() as found:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", found.url)
        yield found


@pytest.fixture
def traced(write: Callable[..., Path], monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TRACED_TOKEN", SECRET)
    for name in ("TRACEPARENT", "OTEL_SDK_DISABLED", "OTEL_EXPORTER_OTLP_PROTOCOL"):
        monkeypatch.delenv(name, raising=False)
    return write(SOP)


def sop(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def run_log(state: Path) -> tuple[AuditEntry, ...]:
    (run_dir,) = (state / "runs").iterdir()
    return read_run(run_dir)


def spans_of(entries: tuple[AuditEntry, ...], action: str) -> dict[str, str]:
    """span id -> parent span id of the records of `action`."""
    return {e.span_id: e.parent_span_id for e in entries if e.action == action}


def test_a_run_exports_its_spans_with_the_ids_its_audit_log_records(
    traced: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRACEPARENT", f"00-{TRACE}-{PARENT}-01")
    code, _, err = sop("run", str(traced), "--yes", "--state-dir", "state")

    assert (code, err) == (0, "")
    entries = run_log(Path("state"))
    assert {e.trace_id for e in entries} == {TRACE}
    (run_span,) = spans_of(entries, Action.RUN_STARTED)
    steps = spans_of(entries, Action.STEP_FINISHED)
    hosts = spans_of(entries, Action.HOST_FINISHED)
    assert spans_of(entries, Action.STEP_STARTED) == steps
    assert spans_of(entries, Action.COMMAND_STARTED) == hosts
    assert len(steps) == len(hosts) == 2 and len({run_span, *steps, *hosts}) == 5

    assert receiver.paths == ["/v1/traces"]
    assert SECRET.encode() not in receiver.bodies[0]
    received = {s.span_id: s for s in receiver.spans}
    assert {s.trace_id for s in received.values()} == {TRACE}
    assert {s.service for s in received.values()} == {"sop"}
    assert {i: s.parent_span_id for i, s in received.items()} == {
        run_span: PARENT,
        **steps,
        **hosts,
    }
    assert set(steps.values()) == {run_span} and set(hosts.values()) == set(steps)
    run = received[run_span]
    assert (run.name, run.status, run.attributes["sop.id"]) == ("sop run traced", "ok", "traced")
    by_name = {s.name: s for s in received.values()}
    assert by_name["step second"].attributes["sop.outcome"] == "success"
    assert by_name["second on local"].attributes["process.exit.code"] == 3
    assert by_name["record on local"].attributes["sop.target.name"] == "local"
    assert all(run.start_ns <= s.start_ns <= s.end_ns <= run.end_ns for s in received.values())

    # the command's own TRACEPARENT is its host span: its tracing joins sop's trace there
    record = next(e for e in entries if e.action == Action.HOST_FINISHED and e.step_id == "record")
    assert Path("traceparent.txt").read_text() == f"00-{TRACE}-{record.span_id}-01"


def test_an_invalid_traceparent_is_ignored_with_a_warning(
    traced: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRACEPARENT", f"00-{TRACE.upper()}-{PARENT}-01")
    code, _, err = sop("run", str(traced), "--yes", "--state-dir", "state")

    assert (code, err) == (
        0,
        "warning: TRACEPARENT ignored (the trace id is not 32 lowercase hex digits, not all "
        "zero): the run starts a new trace\n",
    )
    entries = run_log(Path("state"))
    (trace,) = {e.trace_id for e in entries}
    assert trace != TRACE and len(trace) == 32
    (run_span,) = spans_of(entries, Action.RUN_STARTED)
    assert spans_of(entries, Action.RUN_STARTED) == {run_span: ""}
    assert Path("traceparent.txt").read_text().startswith(f"00-{trace}-")


def test_trace_id_wins_over_traceparent_and_drops_a_parent_of_another_trace(
    traced: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    given = "0af7651916cd43dd8448eb211c80319c"
    monkeypatch.setenv("TRACEPARENT", f"00-{TRACE}-{PARENT}-01")
    code, _, err = sop("run", str(traced), "--yes", "--state-dir", "s", "--trace-id", given)

    assert (code, err) == (0, "")
    entries = run_log(Path("s"))
    assert {e.trace_id for e in entries} == {given}
    assert set(spans_of(entries, Action.RUN_STARTED).values()) == {""}
    code, _, err = sop("run", str(traced), "--yes", "--trace-id", "0" * 32)
    assert code == 2 and f"'{'0' * 32}' is not a trace id: 32 hex digits, not all zero" in err


def test_a_paused_run_exports_its_steps_and_the_resumed_run_its_run_span(
    write: Callable[..., Path], traced: Path, receiver: Receiver
) -> None:
    write(SOP.replace("    ok_exit: [3]\n", "    ok_exit: [3]\n    confirm: always\n"))
    code, _, err = sop("run", str(traced), "--yes", "--state-dir", "state")
    (run_dir,) = Path("state/runs").iterdir()
    assert code == 1 and f"sop resume {run_dir.name} --yes --confirm second" in err  # paused
    first = receiver.spans
    assert [s.name for s in first] == ["record on local", "step record"]  # no run span yet

    code, _, err = sop(
        "resume", run_dir.name, "--yes", "--confirm", "second", "--state-dir", "state"
    )
    assert (code, err) == (0, "")
    second = receiver.spans[len(first) :]
    assert [s.name for s in second] == ["second on local", "step second", "sop run traced"]
    run = second[-1]
    assert {s.trace_id for s in first + second} == {run.trace_id}
    assert {s.parent_span_id for s in first + second if s.name.startswith("step")} == {run.span_id}
    assert run.span_id == next(iter(spans_of(read_run(run_dir), Action.RUN_RESUMED)))


def test_an_export_that_fails_is_one_warning_and_the_run_goes_on(
    traced: Path, receiver: Receiver
) -> None:
    receiver.status = 400
    code, out, err = sop("run", str(traced), "--yes", "--state-dir", "state")

    assert code == 0 and "Run success" in out
    assert err.startswith("warning: OTLP export failed: ") and err.count("\n") == 1, err


def test_an_export_that_hangs_is_given_up_after_the_timeout(
    traced: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    receiver.delay = 5.0
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "1")
    began = time.monotonic()
    code, _, err = sop("run", str(traced), "--yes", "--state-dir", "state")

    assert code == 0 and time.monotonic() - began < 4.5
    assert err.startswith("warning: OTLP export failed: ") and err.count("\n") == 1, err


def test_without_the_otel_extra_one_warning_says_what_to_install(
    traced: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry.exporter.otlp.proto.http.trace_exporter", None)
    code, _, err = sop("run", str(traced), "--yes", "--state-dir", "state")

    assert (code, err) == (
        0,
        "warning: OTLP export failed: the OpenTelemetry packages are not installed: pip install "
        "'sop-runbooks[otel]' (opentelemetry-sdk and opentelemetry-exporter-otlp-proto-http)\n",
    )
    assert receiver.bodies == []


def test_no_endpoint_no_export_and_a_grpc_protocol_is_refused(
    traced: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    assert sop("run", str(traced), "--yes", "--state-dir", "a")[::2] == (0, "")
    monkeypatch.delenv("OTEL_SDK_DISABLED")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    assert sop("run", str(traced), "--yes", "--state-dir", "b")[::2] == (
        0,
        "warning: OTLP export failed: protocol 'grpc' is not supported: sop exports "
        "http/protobuf\n",
    )
    assert receiver.paths == []


def test_audit_export_otlp_sends_a_past_run(traced: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert sop("run", str(traced), "--yes", "--state-dir", "state")[::2] == (0, "")
    (run_dir,) = Path("state/runs").iterdir()
    code, _, err = sop("audit", "export-otlp", run_dir.name, "--state-dir", "state")
    assert (code, err) == (
        2,
        "sop: error: no OTLP endpoint to export to: set OTEL_EXPORTER_OTLP_ENDPOINT (or "
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)\n",
    )
    with otlp_receiver() as receiver:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", f"{receiver.url}/custom")
        code, out, err = sop("audit", "export-otlp", run_dir.name, "--state-dir", "state")

    entries = read_run(run_dir)
    (trace,) = {e.trace_id for e in entries}
    assert (code, out, err) == (0, f"exported 5 span(s) of trace {trace}\n", "")
    assert receiver.paths == ["/custom"]
    recorded = {
        e.span_id for e in entries if e.action in ("run-finished", "step-finished", "host-finished")
    }
    assert {s.span_id for s in receiver.spans} == recorded


def test_a_log_written_before_spans_has_none() -> None:
    """tests/data/audit-v1: read as before, with no span ids, so nothing to export."""
    entries = read_entries(REPO / "tests/data/audit-v1/run.jsonl")
    assert entries and {e.span_id for e in entries} == {""} and run_spans(entries) == []


def test_the_test_extra_holds_the_otel_extra_as_it_is() -> None:
    """The lock (made from the test extra) pins what `sop-runbooks[otel]` installs."""
    import tomllib

    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    assert set(extras["otel"]) <= set(extras["test"])
