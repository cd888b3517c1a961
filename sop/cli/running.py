"""Commands that walk an SOP: run, resume, drill."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click

from sop.cli import ui
from sop.cli.params import (
    FILE,
    TRACE_ID,
    Settings,
    complete_run,
    complete_sop,
    format_option,
    path_option,
    to_path,
    walk_options,
)

if TYPE_CHECKING:
    from pathlib import Path

    from sop.errors import ExitCode
    from sop.events import Sink
    from sop.run.launch import Launched, RunRequest
    from sop.run.tracecontext import RunTrace


def _request(
    sop_ref: str,
    params: dict[str, Any],
    settings: Settings,
    *,
    dry_run: bool = False,
    inputs: tuple[str, ...] = (),
    on: tuple[str, ...] = (),
    incident: str | None = None,
    trace: RunTrace | None = None,
) -> RunRequest:
    """The run the command line asks for; `params` are the values of `walk_options` (their
    defaults from the team configuration), which also gives the notifications. `trace`: a new
    run's (`_trace`); a resumed run keeps its own."""
    from sop.run.inputs import parse_assignments
    from sop.run.launch import RunRequest
    from sop.run.options import PreflightMode, RunOptions, default_operator

    return RunRequest(
        sop=sop_ref,
        inputs=parse_assignments(inputs, "-i"),
        secret_files={
            k: to_path(v)
            for k, v in parse_assignments(params["secret_file"], "--secret-file").items()
        },
        inventory=params["inventory"],
        known_hosts=params["known_hosts"],
        ssh_config=params["ssh_config"],
        state_dir=params["state_dir"],
        notifiers=settings.config.notifiers if settings.config else (),
        options=RunOptions(
            yes=params["yes"],
            dry_run=dry_run,
            confirm=frozenset(params["confirm_ids"]),
            answers=parse_assignments(params["answers"], "-a"),
            on=on or None,
            incident=_incident(incident, settings),
            operator=default_operator(),
            trace_id=trace.trace_id if trace else "",
            span_id=trace.span_id if trace else "",
            parent_span_id=trace.parent_span_id if trace else "",
            preflight=PreflightMode(params["preflight"]),
            **_step_requests(params),
            roles=frozenset(params["roles"]),
            approval_timeout=params["approval_timeout"],
        ),
    )


def _incident(given: str | None, settings: Settings) -> str | None:
    """`--incident` as the run records it: a ticket id, with the team's `incident_prefix`."""
    from sop.model import incident_id

    return None if given is None else incident_id(given, settings.incident_prefix)


def _as_data(settings: Settings) -> tuple[Path, ...]:
    """An untrusted project's inventories (`TeamConfig.data_only`), for a simulated drill given
    no inventory: it connects to nothing and runs no inventory program (it makes up a dynamic
    one's hosts). A real run, and a dry run that shows what one would do, never take them: an
    untrusted file does not choose where a run connects."""
    from pathlib import Path

    setting = settings.config.data_only.get("inventory") if settings.config else None
    return tuple(Path(p) for p in setting.value) if setting else ()


def _trace(trace_id: str | None) -> RunTrace:
    """A new run's place in a trace: `--trace-id`, and the span in $TRACEPARENT it is a child
    of; an invalid TRACEPARENT is ignored, with a warning."""
    import os

    from sop.run.tracecontext import run_trace

    trace, warning = run_trace(trace_id or "", os.environ)
    if warning:
        ui.echo(f"warning: {warning}", err=True)
    return trace


def _step_requests(params: dict[str, Any]) -> dict[str, Any]:
    """--severity, --skip and --start-at, for the commands that have them."""
    from sop.run.unattended import step_reasons

    start = step_reasons((params["start_at"],), "--start-at") if params.get("start_at") else {}
    return {
        "severity": params.get("severity") or "",
        "skip": step_reasons(params.get("skips", ()), "--skip"),
        "start_at": next(iter(start), ""),
        "start_at_reason": next(iter(start.values()), ""),
    }


SKIP = click.option(
    "--skip",
    "skips",
    multiple=True,
    metavar="STEP=REASON",
    help="Skip this step of the SOP (repeatable), recorded as a deviation with the reason.",
)
START_AT = click.option(
    "--start-at",
    metavar="STEP=REASON",
    help="Start at this step of the SOP: each step before it is skipped, recorded as a "
    "deviation with the reason.",
)


def _severity(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A severity of the format (checked here: `sop --help` does not load the model)."""
    from sop.model import SEVERITIES

    if value is not None and value not in SEVERITIES:
        raise click.BadParameter(f"{value!r} is not one of {', '.join(SEVERITIES)}")
    return value


SEVERITY = click.option(
    "--severity",
    metavar="SEV",
    callback=_severity,
    help="The incident's severity, sev1 to sev5: how often the SOP's status_updates ask for an "
    "update (default: the SOP's severity).",
)


class _Terminal:
    """The terminal a walk uses: where it prints, who confirms steps (None with --yes or
    --dry-run), who answers a missing input (None without a terminal). With `--format json`
    the walk goes to stderr, and stdout gets one JSON object when it ends."""

    def __init__(self, interactive: bool, settings: Settings, fmt: str = "text") -> None:
        from sop.errors import UsageError

        if interactive and not sys.stdin.isatty():
            raise UsageError(
                "sop asks you at every step: run it in a terminal, or pass --yes (or --dry-run)"
            )
        from sop.cli.output import Outlets
        from sop.cli.prompter import TerminalPrompter

        self.json = fmt == "json"
        self.outlets = Outlets()
        self.stdout, self.stderr = self.outlets.wrap(sys.stdout), self.outlets.wrap(sys.stderr)
        self.out = ui.console(file=self.stderr if self.json else self.stdout)
        self.prompter = TerminalPrompter(self.out) if interactive else None
        self.asker = TerminalPrompter(self.out) if sys.stdin.isatty() else None
        self.ui = ui.TerminalUI(self.out, debug=settings.debug)
        self.sinks: list[Sink] = [self.ui]

    def __enter__(self) -> _Terminal:
        """While the walk goes on, every write to stdout and stderr goes through `outlets`, and
        a hang-up of the terminal closes them (the run pauses at its next write: output.py)."""
        import contextlib

        self._using = contextlib.ExitStack()
        self._using.enter_context(self.outlets.in_use(self.stdout, self.stderr))
        return self

    def __exit__(self, *exc: object) -> None:
        """However the walk ended (an error to print, too), no progress line is left behind."""
        with self._using:
            self.ui.close()

    def finish(self, launched: Launched, **extra: Any) -> ExitCode:
        """The audit log's head for the ticket (and, with --format json, the walk's result
        with `extra`); the run's exit code. If its output could not be written, the run paused
        and stderr (if it is elsewhere: `sop run --yes demo | head`) says how to resume it."""
        from sop.events import PauseHow

        if launched.result.paused is PauseHow.OUTPUT_CLOSED and not self.json:
            import contextlib

            run_id = launched.result.run_id
            with contextlib.suppress(OSError):  # stderr went to the same closed pipe
                ui.echo(
                    f"sop: run {run_id} paused: its output could not be written; "
                    f"resume with: sop resume {run_id}",
                    err=True,
                )
        if launched.head and launched.run_dir is not None:
            ui.audit_footer(self.out, launched.run_dir, launched.head, launched.result.outcome)
        if self.json:
            import json

            ui.echo(json.dumps({**launched.as_json(), **extra}, indent=2))
        return launched.result.exit_code


@click.command()
@click.argument("sop_ref", metavar="[SOP]", required=False, shell_complete=complete_sop)
@click.option(
    "-i",
    "--input",
    "inputs",
    multiple=True,
    metavar="NAME=VALUE",
    help="An input value (not for secrets).",
)
@click.option(
    "--inputs",
    "inputs_file",
    type=FILE,
    metavar="FILE",
    help="A JSON or YAML mapping of input names to values (not for secrets).",
)
@path_option(
    "--alert",
    "An Alertmanager or PagerDuty webhook payload (JSON): its labels fill the inputs; "
    "without SOP, the SOP that answers the alert runs.",
)
@click.option(
    "--on",
    "on",
    multiple=True,
    metavar="TARGET",
    help="Run on this host or group instead of the SOP's default.",
)
@click.option(
    "--incident",
    metavar="ID",
    help="The incident this run belongs to (ticket id; incident_prefix in sop.toml is put "
    "before a bare number).",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Show every step with its command and hosts; run and connect to nothing.",
)
@TRACE_ID
@SEVERITY
@SKIP
@START_AT
@walk_options
@format_option("text", "json")
@click.pass_obj
def run(
    settings: Settings,
    /,
    sop_ref: str | None,
    inputs: tuple[str, ...],
    inputs_file: Path | None,
    alert: Path | None,
    on: tuple[str, ...],
    incident: str | None,
    dry_run: bool,
    fmt: str,
    trace_id: str | None,
    **params: Any,
) -> ExitCode:
    """Walk through an SOP, step by step, running its commands after you confirm them.

    Input values come from -i (first), --inputs, then --alert; `sop run --alert PAYLOAD` finds
    the SOP that answers the alert."""
    import dataclasses

    from sop.events import SystemClock
    from sop.run.launch import context_inputs, run_or_resume

    if sop_ref is None and alert is None:
        raise click.UsageError("give the SOP to run, or --alert PAYLOAD to find it")
    terminal = _Terminal(not params["yes"] and not dry_run, settings, fmt)
    sop_ref, given, sources = context_inputs(sop_ref, inputs_file, alert)
    request = _request(
        sop_ref,
        params,
        settings,
        dry_run=dry_run,
        inputs=inputs,
        on=on,
        incident=incident,
        trace=_trace(trace_id),
    )
    from_context = {k: v for k, v in given.items() if k not in request.inputs}
    request = dataclasses.replace(
        request,
        inputs={**from_context, **request.inputs},
        input_sources={k: sources[k] for k in from_context},
    )
    with terminal:
        launched = run_or_resume(
            request,
            prompter=terminal.prompter,
            asker=terminal.asker,
            sinks=terminal.sinks,
            clock=SystemClock(),
        )
    return terminal.finish(launched)


@click.command()
@click.argument("run_ref", metavar="RUN", shell_complete=complete_run)
@click.option(
    "--sop-changed",
    "changed_reason",
    metavar="REASON",
    help="Go on although the SOP file changed, for this reason (logged).",
)
@SKIP
@walk_options
@format_option("text", "json")
@click.pass_obj
def resume(
    settings: Settings, /, run_ref: str, changed_reason: str | None, fmt: str, **params: Any
) -> ExitCode:
    """Continue an interrupted run: done steps stay done, steps in doubt are yours to decide."""
    from sop.drill.guard import forbid_side_effects
    from sop.events import SystemClock
    from sop.run.launch import resume as resume_run

    terminal = _Terminal(not params["yes"], settings, fmt)
    with terminal:
        launched = resume_run(
            run_ref,
            _request("", params, settings),
            prompter=terminal.prompter,
            asker=terminal.asker,
            sinks=terminal.sinks,
            clock=SystemClock(),
            changed_reason=changed_reason,
            guard_factory=forbid_side_effects,  # installed only when resuming a simulated drill
        )
    return terminal.finish(launched)


@click.command()
@click.argument("sop_ref", metavar="SOP", shell_complete=complete_sop)
@click.option(
    "--scenario", default="", help="A drill scenario of the SOP: injected failures to rehearse."
)
@click.option(
    "--pace",
    type=click.FloatRange(min=0),
    default=1.0,
    show_default=True,
    help="How much of each simulated delay to wait (0: none, for CI).",
)
@path_option(
    "--sandbox",
    "Run the commands for real against this staging inventory (still recorded as a drill).",
)
@path_option(
    "--report", "Where to write report.md and report.json (default: the run's folder).", True
)
@click.option(
    "-i",
    "--input",
    "inputs",
    multiple=True,
    metavar="NAME=VALUE",
    help="An input value (default: its drill value).",
)
@TRACE_ID
@SEVERITY
@SKIP
@START_AT
@walk_options
@format_option("text", "json")
@click.pass_obj
def drill(
    settings: Settings,
    /,
    sop_ref: str,
    scenario: str,
    pace: float,
    sandbox: Path | None,
    report: Path | None,
    inputs: tuple[str, ...],
    fmt: str,
    trace_id: str | None,
    **params: Any,
) -> ExitCode:
    """Rehearse an SOP: the same walk-through as `sop run`, with simulated results; nothing
    touches a host (unless --sandbox). Writes a drill report."""
    import dataclasses

    from sop.drill.rehearsal import rehearse
    from sop.events import SystemClock
    from sop.run.options import DrillOptions

    terminal = _Terminal(not params["yes"], settings, fmt)
    request = _request(
        sop_ref,
        {
            **params,
            "inventory": (sandbox,) if sandbox else params["inventory"] or _as_data(settings),
        },
        settings,
        inputs=inputs,
        trace=_trace(trace_id),
    )
    drill_options = DrillOptions(simulate=sandbox is None, scenario=scenario, pace=pace)
    request = dataclasses.replace(
        request, options=dataclasses.replace(request.options, drill=drill_options)
    )
    with terminal:
        rehearsal = rehearse(
            request,
            prompter=terminal.prompter,
            asker=terminal.asker,
            sinks=terminal.sinks,
            clock=SystemClock(),
            report_dir=report,
        )
    ui.drill_summary(terminal.out, rehearsal.report, rehearsal.folder)
    report_files = {"markdown": str(rehearsal.folder / "report.md")}
    report_files["json"] = str(rehearsal.folder / "report.json")
    return terminal.finish(rehearsal.launched, drill={"report": report_files})
