"""Commands that read runs back: runs, audit verify, audit show, report."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from sop.cli import ui
from sop.cli.params import STATE_DIR, complete_run, format_option, path_option

if TYPE_CHECKING:
    from pathlib import Path

    from sop.cli.params import Settings
    from sop.errors import ExitCode

RUN_OR_FILE = click.argument("ref", metavar="RUN|FILE", shell_complete=complete_run)


@click.command()
@STATE_DIR
@click.option("--sop", "sop_id", help="Only runs of this SOP.")
@click.option(
    "--incident",
    metavar="ID",
    help="Only runs of this incident (as `sop run --incident` records it: with incident_prefix).",
)
@format_option("text", "json")
@click.pass_obj
def runs(
    settings: Settings, state_dir: Path | None, sop_id: str | None, incident: str | None, fmt: str
) -> None:
    """List runs: SOP, start, operator, incident, kind (run or drill), status (live, paused,
    stopped, crashed, aborted, finished)."""
    import json

    from sop.audit.runs import list_runs
    from sop.audit.state import default_state_dir
    from sop.model import incident_id

    incidents = {incident, incident_id(incident, settings.incident_prefix)} if incident else set()
    found = [
        r
        for r in list_runs(state_dir or default_state_dir())
        if sop_id in (None, r.sop_id) and (not incidents or r.incident in incidents)
    ]
    headers = ("run", "sop", "started", "operator", "incident", "kind", "status")
    if fmt == "json":
        ui.echo(json.dumps([dict(zip(headers, r.as_row(), strict=True)) for r in found], indent=2))
    elif found:
        ui.echo(ui.table(headers, [r.as_row() for r in found]))
    else:
        ui.echo("no runs", err=True)


@click.group()
def audit() -> None:
    """Check and read audit logs."""


@audit.command()
@RUN_OR_FILE
@click.option(
    "--anchor", metavar="SEQ:HASH", help="The head printed at the end of the run (from the ticket)."
)
@path_option("--key", "The run's verification key (default: ~/.config/sop/audit-keys/RUN.key).")
@STATE_DIR
@format_option("text", "json")
def verify(
    ref: str, anchor: str | None, key: Path | None, state_dir: Path | None, fmt: str
) -> ExitCode:
    """Check a run's audit log: chain, seals, the head the key folder kept, anchor. Exit 0 when
    a seal that verifies with the run's key covers every record, 3 when the chain holds but
    something is not proven (no key, or records after the last seal), 1 on a finding."""
    from sop.audit.state import audit_log_path
    from sop.audit.trust import status_of, summary, verify_run_log
    from sop.errors import ExitCode

    path = audit_log_path(ref, state_dir)
    result = verify_run_log(path, anchor=anchor, key=key)
    if fmt == "json":
        import json

        from sop.audit.trust import verification_dict

        ui.echo(json.dumps({"log": str(path), **verification_dict(result)}, indent=2))
    elif not result.ok:
        ui.echo(f"{path}: {result.findings[0]}")
        for finding in result.findings[1:]:
            ui.echo(f"{path}: {finding}", err=True)
    else:
        ui.echo(summary(result))
        for note in result.notes:
            ui.echo(f"note: {note}", err=True)
    status = status_of(result)
    if status == "failed":
        return ExitCode.FAILED
    return ExitCode.OK if status == "verified" else ExitCode.UNPROVEN


@audit.command("show")
@RUN_OR_FILE
@STATE_DIR
def show(ref: str, state_dir: Path | None) -> None:
    """Print a run's audit records as a table."""
    from sop.audit.reader import read_entries
    from sop.audit.report import table
    from sop.audit.state import audit_log_path

    rows = table(read_entries(audit_log_path(ref, state_dir)))
    ui.echo(ui.table(("seq", "time", "action", "step", "host", "outcome", "command"), rows))


@audit.command("export-otlp")
@RUN_OR_FILE
@STATE_DIR
def export_otlp(ref: str, state_dir: Path | None) -> None:
    """Send a run's spans (the run, each step attempt, each host's command) to the tracing
    backend OTEL_EXPORTER_OTLP_ENDPOINT names, over OTLP/HTTP (needs sop-runbooks[otel])."""
    import os

    from sop.audit.otlp import export_run_log
    from sop.audit.state import audit_log_path

    spans = export_run_log(audit_log_path(ref, state_dir), os.environ)
    ui.echo(f"exported {len(spans)} span(s) of trace {spans[0].trace_id}")


@click.command()
@RUN_OR_FILE
@format_option("markdown", "json")
@path_option("--key", "The run's verification key.")
@STATE_DIR
def report(ref: str, fmt: str, key: Path | None, state_dir: Path | None) -> None:
    """A postmortem-ready timeline of a run, with the audit log's verification status."""
    from sop.audit.report import run_report
    from sop.audit.state import audit_log_path

    ui.echo(run_report(audit_log_path(ref, state_dir), fmt, key))
