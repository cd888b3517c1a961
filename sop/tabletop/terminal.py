"""The facilitator's terminal for `sop tabletop`: the narrative, each inject with its clock, and
the three questions. Plain click output, so that it also works with answers piped in; every
line passes `sop.text.visible` (scenario text and answers are not sop's own)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import click

from sop.format.scenario import Inject, TabletopScenario
from sop.model import Sop
from sop.tabletop.exercise import Exercise, clock_text, scenario_time
from sop.text import visible


def _echo(message: str, **style: object) -> None:
    click.secho(visible(message), **style)  # type: ignore[arg-type]


class TerminalFacilitator:
    def narrative(self, scenario: TabletopScenario) -> None:
        _echo(f"Tabletop: {scenario.title}  ({scenario.id})", bold=True)
        _echo(f"Phases at stake: {', '.join(scenario.phases)}")
        _echo(f"{len(scenario.injects)} inject(s)\n")
        _echo(scenario.narrative.rstrip() + "\n")

    def inject(self, inject: Inject, elapsed: float, candidates: Sequence[Sop]) -> None:
        _echo(
            f"\n── Inject {inject.number} · {scenario_time(inject.at)} · "
            f"{clock_text(elapsed)} elapsed ──",
            bold=True,
        )
        _echo(inject.text.rstrip())
        _echo("SOPs: " + ", ".join(s.id for s in candidates))

    def ask(self, prompt: str) -> str:
        try:
            return str(click.prompt(visible(prompt), default="", show_default=False))
        except click.Abort:
            raise KeyboardInterrupt from None

    def unknown(self, answer: str, known: Sequence[str]) -> None:
        _echo(
            f"No SOP '{answer}' in the library; give one of the ids above, or nothing.",
            fg="yellow",
        )


def summary(exercise: Exercise, folder: Path) -> None:
    _echo("\nExercise over.", bold=True)
    for reached in exercise.reached:
        if reached.inject is None or reached.elapsed is None:
            _echo(f"  {reached.sop}: never reached")
        else:
            _echo(
                f"  {reached.sop}: reached at inject {reached.inject} "
                f"({clock_text(reached.elapsed)} into the exercise)"
            )
    gaps = exercise.coverage.gaps
    if gaps:
        _echo(f"  phases at stake with no SOP: {', '.join(gaps)}", fg="red")
    _echo(f"report: {folder}/report.md")
