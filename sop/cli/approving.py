"""`sop approve`: the second person of the two-person rule answers a waiting step from their
own terminal (and account), seeing exactly what will run where."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from sop.cli import ui
from sop.cli.params import STATE_DIR, complete_run

if TYPE_CHECKING:
    from pathlib import Path

    from sop.errors import ExitCode


@click.command()
@click.argument("run_ref", metavar="RUN", shell_complete=complete_run)
@click.argument("step", required=False)
@click.option("--yes", is_flag=True, help="Approve without asking.")
@click.option("--refuse", "refusal", metavar="REASON", help="Refuse, for this reason.")
@click.option("--role", default="", metavar="ROLE", help="The role you answer as (ir-lead).")
@STATE_DIR
def approve(
    run_ref: str,
    step: str | None,
    yes: bool,
    refusal: str | None,
    role: str,
    state_dir: Path | None,
) -> ExitCode:
    """Approve (or refuse) a step of someone else's run that waits for you: shows its command,
    hosts and inputs, and asks. STEP: its id (needed when several steps wait)."""
    import time

    from sop.audit.approvals import answer, check_approver, choose_request, pending_requests
    from sop.audit.state import default_state_dir, find_run_dir
    from sop.errors import ExitCode, UsageError

    if yes and refusal is not None:
        raise UsageError("--yes approves and --refuse refuses: give one of them")
    run_dir = find_run_dir(state_dir or default_state_dir(), run_ref)
    request = choose_request(pending_requests(run_dir), run_dir.name, step)
    check_approver(request, role)
    out = ui.console()
    ui.approval_request(out, request)
    approved = refusal is None
    reason = refusal or ""
    if not yes and refusal is None:
        from sop.cli.prompter import TerminalPrompter

        prompter = TerminalPrompter(out)
        choice = prompter.choose(
            "Approve it?", [("a", "approve"), ("r", "refuse"), ("c", "cancel")]
        )
        if choice == "c":
            ui.echo("Nothing answered.")
            return ExitCode.OK
        approved = choice == "a"
        while not approved and not reason:
            reason = prompter.text("Why refuse?").strip()
    answer(run_dir, request, approved=approved, role=role, given=time.time(), reason=reason)
    verb = "Approved" if approved else "Refused"
    ui.echo(
        f"{verb} step {request.number} ({request.step_id}) of run {request.run_id}; the run "
        "sees it within a second (or when it is resumed)."
    )
    return ExitCode.OK
