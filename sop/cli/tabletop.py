"""`sop tabletop`: a tabletop exercise at the facilitator's terminal."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from sop.cli.params import ANY_PATH, STATE_DIR, path_option

if TYPE_CHECKING:
    from pathlib import Path


@click.command()
@click.argument("scenario_ref", metavar="SCENARIO")
@path_option(
    "--report",
    "Where to write report.md and report.json (default: STATE_DIR/tabletops/TIME-ID).",
    True,
)
@click.option(
    "--sops",
    "sop_paths",
    multiple=True,
    type=ANY_PATH,
    help="SOP files or folders the team may pick from (default: runbooks/ or $SOP_PATH).",
)
@STATE_DIR
def tabletop(
    scenario_ref: str, report: Path | None, sop_paths: tuple[Path, ...], state_dir: Path | None
) -> None:
    """Run a tabletop exercise: the narrative, then each inject with its clock; record the SOP
    and action the team chose. Writes a report with decisions, time to the right SOP and
    phase coverage. Reads answers from standard input, so they can be piped in."""
    from sop.audit.state import default_state_dir
    from sop.events import SystemClock
    from sop.tabletop.exercise import hold_exercise
    from sop.tabletop.terminal import TerminalFacilitator, summary

    exercise, folder = hold_exercise(
        scenario_ref,
        sop_paths,
        TerminalFacilitator(),
        SystemClock(),
        state_dir=state_dir or default_state_dir(),
        report_dir=report,
    )
    summary(exercise, folder)
