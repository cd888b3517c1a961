"""The facilitator's terminal for `sop tabletop`: the narrative, each inject with its clock, and
the three questions. Plain click output, so that it also works with answers piped in."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import click

from sop.format.scenario import Inject, TabletopScenario
from sop.model import Sop
from sop.tabletop.exercise import Exercise, clock_text, scenario_time


class TerminalFacilitator:
    def narrative(self, scenario: TabletopScenario) -> None:
        click.secho(f"Tabletop: {scenario.title}  ({scenario.id})", bold=True)
        click.echo(f"Phases at stake: {', '.join(scenario.phases)}")
        click.echo(f"{len(scenario.injects)} inject(s)\n")
        click.echo(scenario.narrative.rstrip() + "\n")

    def inject(self, inject: Inject, elapsed: float, candidates: Sequence[Sop]) -> None:
        click.secho(
            f"\n── Inject {inject.number} · {scenario_time(inject.at)} · "
            f"{clock_text(elapsed)} elapsed ──",
            bold=True,
        )
        click.echo(inject.text.rstrip())
        click.echo("SOPs: " + ", ".join(s.id for s in candidates))

    def ask(self, prompt: str) -> str:
        try:
            return str(click.prompt(prompt, default="", show_default=False))
        except click.Abort:
            raise KeyboardInterrupt from None

    def unknown(self, answer: str, known: Sequence[str]) -> None:
        click.secho(
            f"No SOP '{answer}' in the library; give one of the ids above, or nothing.",
            fg="yellow",
        )


def summary(exercise: Exercise, folder: Path) -> None:
    click.secho("\nExercise over.", bold=True)
    for reached in exercise.reached:
        if reached.inject is None or reached.elapsed is None:
            click.echo(f"  {reached.sop}: never reached")
        else:
            click.echo(
                f"  {reached.sop}: reached at inject {reached.inject} "
                f"({clock_text(reached.elapsed)} into the exercise)"
            )
    gaps = exercise.coverage.gaps
    if gaps:
        click.secho(f"  phases at stake with no SOP: {', '.join(gaps)}", fg="red")
    click.echo(f"report: {folder}/report.md")
