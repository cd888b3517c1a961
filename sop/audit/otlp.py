"""Export a run's spans (spans.py) to a tracing backend over OTLP/HTTP, through the OpenTelemetry
SDK and its OTLP exporter: the optional extra `sop-runbooks[otel]`. The one module that imports
OpenTelemetry, and only when an export is due (`sop --help`, `list`, `lint` never load it).

The exporter reads the standard OTEL_EXPORTER_OTLP_* variables itself (endpoint, headers,
compression, certificates); sop decides whether to export (an endpoint is set), the protocol
(http/protobuf) and how long to wait. An export never raises: it returns what went wrong, in
one line."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sop import __version__
from sop.audit.reader import read_entries, read_run
from sop.audit.spans import SpanRecord, last_segment, run_spans
from sop.errors import SopError, UsageError
from sop.text import visible

ENDPOINTS = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
DEFAULT_TIMEOUT = 5.0  # seconds (the exporter's own is 10: a responder waits at the end of a run)
MAX_TIMEOUT = 30.0  # however long OTEL_EXPORTER_OTLP_TIMEOUT says, a run waits no longer
MISSING = (
    "the OpenTelemetry packages are not installed: pip install 'sop-runbooks[otel]' "
    "(opentelemetry-sdk and opentelemetry-exporter-otlp-proto-http)"
)


def otlp_configured(environ: Mapping[str, str]) -> bool:
    """Whether spans are to be exported: an OTLP endpoint is set, and the SDK not disabled."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    return any(environ.get(name, "").strip() for name in ENDPOINTS)


def export_timeout(environ: Mapping[str, str]) -> float:
    """OTEL_EXPORTER_OTLP_TRACES_TIMEOUT or OTEL_EXPORTER_OTLP_TIMEOUT (seconds, as the Python
    exporter reads them), at most MAX_TIMEOUT; DEFAULT_TIMEOUT when unset or not a number."""
    for name in ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT"):
        try:
            value = float(environ.get(name, ""))
        except ValueError:
            continue
        if value > 0:
            return min(value, MAX_TIMEOUT)
    return DEFAULT_TIMEOUT


def export_last_segment(run_dir: Path, environ: Mapping[str, str]) -> str:
    """At the end of a run (finished, paused, aborted): export the spans that ended since it
    was (re)started. What went wrong, in one line; "" when all went well or nothing is due."""
    if not otlp_configured(environ):
        return ""
    try:
        entries = read_run(run_dir)
    except Exception as exc:  # never a reason to fail a run that is over
        return f"OTLP export failed: {exc}"
    spans = run_spans(entries, since=last_segment(entries))
    problem = export_spans(spans, environ) if spans else ""
    return f"OTLP export failed: {problem}" if problem else ""


class ExportError(SopError):
    """`sop audit export-otlp` exported nothing: the log does not verify, holds no spans, or
    the receiver did not take them."""


def export_run_log(path: Path, environ: Mapping[str, str]) -> list[SpanRecord]:
    """`sop audit export-otlp`: every span of a past run's log, once the log verifies (a log
    with a finding is not sent on); the spans sent."""
    from sop.audit.trust import verify_run_log

    if not otlp_configured(environ):
        raise UsageError(
            "no OTLP endpoint to export to: set OTEL_EXPORTER_OTLP_ENDPOINT "
            "(or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)"
        )
    verification = verify_run_log(path)
    if not verification.ok:
        raise ExportError(f"{path}: {verification.findings[0]}; nothing exported")
    spans = run_spans(read_entries(path))
    if not spans:
        raise ExportError(f"{path}: no span has ended in this log (or an older sop wrote it)")
    problem = export_spans(spans, environ)
    if problem:
        raise ExportError(f"OTLP export failed: {problem}")
    return spans


def export_spans(spans: Sequence[SpanRecord], environ: Mapping[str, str]) -> str:
    """Send `spans` in one request; what went wrong ("" when the receiver took them)."""
    protocol = next(
        (
            value.strip()
            for name in ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL")
            if (value := environ.get(name, "")).strip()
        ),
        "http/protobuf",
    )
    if protocol != "http/protobuf":
        return f"protocol {protocol!r} is not supported: sop exports http/protobuf"
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.trace.export import SpanExportResult
    except ImportError:
        return MISSING
    timeout = export_timeout(environ)
    heard = _Heard()
    _quiet(heard)
    try:
        readable = _readable(spans)
    except ValueError as exc:  # an id that is no hex number: a log sop did not write
        return f"the audit log holds an invalid span id ({exc})"
    outcome: list[Any] = []

    def send() -> None:
        exporter = OTLPSpanExporter(timeout=timeout)
        try:
            outcome.append(exporter.export(readable))
        except Exception as exc:  # a bug or an unexpected failure in the library
            heard.last = f"{type(exc).__name__}: {exc}"
        finally:
            exporter.shutdown()  # type: ignore[no-untyped-call]

    thread = threading.Thread(target=send, name="sop-otlp", daemon=True)
    thread.start()
    thread.join(timeout + 1.0)  # the exporter keeps to its deadline; this bounds it anyway
    if thread.is_alive():
        return f"no answer within {timeout:g}s"
    if outcome and outcome[0] == SpanExportResult.SUCCESS:
        return ""
    return visible(heard.last.splitlines()[0] if heard.last else "the receiver refused the spans")


class _Heard(logging.Handler):
    """What the exporter logged last (it reports failures by logging, not raising)."""

    last = ""

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.WARNING:
            self.last = record.getMessage()


def _quiet(heard: _Heard) -> None:
    """OpenTelemetry's log lines reach no terminal: `heard` keeps the last, sop says it once."""
    logger = logging.getLogger("opentelemetry")
    logger.handlers = [heard]
    logger.propagate = False


def _readable(spans: Sequence[SpanRecord]) -> list[Any]:
    """The SDK's ReadableSpan of each span, with the ids the audit log recorded."""
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.sdk.util.instrumentation import InstrumentationScope
    from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

    resource = Resource.create({"service.version": __version__})  # + OTEL_RESOURCE_ATTRIBUTES
    if str(resource.attributes.get("service.name", "")).startswith("unknown_service"):
        resource = resource.merge(Resource({"service.name": "sop"}))  # OTEL_SERVICE_NAME wins
    scope = InstrumentationScope("sop", __version__)
    sampled = TraceFlags(TraceFlags.SAMPLED)
    status = {
        "success": Status(StatusCode.OK),
        "unknown": Status(StatusCode.UNSET),
    }

    def context(trace_id: str, span_id: str, remote: bool = False) -> SpanContext:
        return SpanContext(int(trace_id, 16), int(span_id, 16), remote, sampled)

    out = []
    for span in spans:
        parent = span.parent_span_id
        out.append(
            ReadableSpan(
                name=span.name,
                context=context(span.trace_id, span.span_id),
                parent=context(span.trace_id, parent, True) if parent else None,
                resource=resource,
                attributes=dict(span.attributes),
                kind=SpanKind.INTERNAL,
                status=status.get(span.ecs_outcome, Status(StatusCode.ERROR, span.outcome)),
                start_time=int(span.start * 1e9),
                end_time=int(span.end * 1e9),
                instrumentation_scope=scope,
            )
        )
    return out
