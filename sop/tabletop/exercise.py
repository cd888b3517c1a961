"""Tabletop exercises: the facilitator hands the team a scenario's injects one at a time and
records which SOP and action the team chose. The report lists the decisions, the time the team
took to reach each expected SOP, and the coverage of the phases at stake.

The exercise is given a facilitator (who sees the injects and answers the questions) and a
clock; it never prints or reads the time itself, so tests can drive it with fakes.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, Protocol

from sop.checks.coverage import Coverage, coverage_markdown, library_coverage
from sop.events import Clock
from sop.format.discovery import load_every_sop
from sop.format.scenario import Inject, TabletopScenario, find_scenario, load_scenario
from sop.model import Sop
from sop.records import dataclass
from sop.text import Markup, markdown_code, markdown_table, markdown_text

PICK = "Which SOP does the team pick?"
ACTION = "What action?"
NOTES = "Notes"


class Facilitator(Protocol):
    """The person running the exercise. Every method may raise KeyboardInterrupt."""

    def narrative(self, scenario: TabletopScenario) -> None: ...

    def inject(self, inject: Inject, elapsed: float, candidates: Sequence[Sop]) -> None: ...

    def ask(self, prompt: str) -> str: ...

    def unknown(self, answer: str, known: Sequence[str]) -> None: ...


@dataclass(frozen=True)
class Decision:
    inject: int  # the inject's number, from 1
    at: float  # the inject's scenario time, seconds
    shown: float  # seconds since the exercise started, when the inject was shown
    decided: float  # ... when the facilitator had recorded the decision
    sop: str  # "" when the team picked none yet
    action: str
    notes: str
    expects: tuple[str, ...] = ()

    @property
    def verdict(self) -> str:
        """right / wrong / none: the pick against the inject's `expects` ("" when it has none)."""
        if not self.expects:
            return ""
        if not self.sop:
            return "none"
        return "right" if self.sop in self.expects else "wrong"


@dataclass(frozen=True)
class Reached:
    sop: str
    inject: int | None  # the first inject at which the team picked it; None: never
    at: float | None  # that inject's scenario time
    elapsed: float | None  # seconds of exercise until the decision was recorded
    expected_from: int | None = None  # the first inject that expects it
    delay: float | None = None  # seconds from showing that inject to the team picking the SOP


@dataclass(frozen=True)
class Exercise:
    scenario: TabletopScenario
    started: float  # wall-clock time (epoch seconds)
    decisions: tuple[Decision, ...]
    coverage: Coverage

    @property
    def reached(self) -> tuple[Reached, ...]:
        out = []
        for sop_id in self.scenario.expected:
            first = next((d for d in self.decisions if d.sop == sop_id), None)
            cue = next((d for d in self.decisions if sop_id in d.expects), None)
            delay = None
            if first and cue and first.inject >= cue.inject:
                delay = round(first.decided - cue.shown, 3)
            out.append(
                Reached(
                    sop_id,
                    first.inject if first else None,
                    first.at if first else None,
                    first.decided if first else None,
                    cue.inject if cue else None,
                    delay,
                )
            )
        return tuple(out)


def candidates(scenario: TabletopScenario, library: Sequence[Sop]) -> list[Sop]:
    """The SOPs a team may pick, sorted by id. The scenario's expected SOPs are not singled
    out: that would give the answer away."""
    return sorted(library, key=lambda s: s.id)


def run_exercise(
    scenario: TabletopScenario, library: Sequence[Sop], facilitator: Facilitator, clock: Clock
) -> Exercise:
    known = sorted(s.id for s in library)
    options = candidates(scenario, library)
    started, start = clock.now(), clock.monotonic()
    facilitator.narrative(scenario)
    decisions: list[Decision] = []
    for inject in scenario.injects:
        shown = clock.monotonic() - start
        facilitator.inject(inject, shown, options)
        sop = _pick(facilitator, known)
        action = facilitator.ask(ACTION).strip()
        notes = facilitator.ask(NOTES).strip()
        decisions.append(
            Decision(
                inject=inject.number,
                at=inject.at,
                shown=round(shown, 3),
                decided=round(clock.monotonic() - start, 3),
                sop=sop,
                action=action,
                notes=notes,
                expects=inject.expects,
            )
        )
    coverage = library_coverage(library, scenario.phases, [d.sop for d in decisions if d.sop])
    return Exercise(scenario, started, tuple(decisions), coverage)


def hold_exercise(
    scenario_ref: str,
    sop_paths: Sequence[Path],
    facilitator: Facilitator,
    clock: Clock,
    *,
    state_dir: Path,
    report_dir: Path | None = None,
) -> tuple[Exercise, Path]:
    """`sop tabletop`: run the scenario named `scenario_ref` with the SOPs under `sop_paths`
    (every one must load), and write its report into `report_dir`, by default a new folder
    under STATE_DIR/tabletops. Returns the exercise and the report's folder."""
    scenario = load_scenario(find_scenario(scenario_ref))
    exercise = run_exercise(scenario, load_every_sop(sop_paths), facilitator, clock)
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(exercise.started))
    folder = report_dir or state_dir / "tabletops" / f"{stamp}-{scenario.id}"
    write_tabletop_report(exercise, folder)
    return exercise, folder


def _pick(facilitator: Facilitator, known: Sequence[str]) -> str:
    while True:
        answer = facilitator.ask(PICK).strip()
        if not answer or answer in known:
            return answer
        facilitator.unknown(answer, known)


# -- the report ----------------------------------------------------------------------------


def clock_text(seconds: float) -> str:
    """Elapsed time as M:SS (H:MM:SS past an hour)."""
    whole = round(seconds)
    if whole >= 3600:
        return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"
    return f"{whole // 60}:{whole % 60:02d}"


def scenario_time(seconds: float) -> str:
    minutes = seconds / 60
    return f"T+{minutes:g} min"


def report_data(exercise: Exercise) -> dict[str, Any]:
    scenario = exercise.scenario
    return {
        "scenario": scenario.id,
        "title": scenario.title,
        "path": str(scenario.path),
        "started": dt.datetime.fromtimestamp(exercise.started, dt.UTC).isoformat(
            timespec="seconds"
        ),
        "phases": list(scenario.phases),
        "expected": list(scenario.expected),
        "decisions": [
            {**asdict(d), "expects": list(d.expects), "verdict": d.verdict}
            for d in exercise.decisions
        ],
        "reached": [asdict(r) for r in exercise.reached],
        "coverage": exercise.coverage.as_dict(),
    }


def write_tabletop_report(exercise: Exercise, folder: Path) -> None:
    """report.md and report.json of the exercise, in `folder` (created if needed)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.md").write_text(report_markdown(exercise))
    (folder / "report.json").write_text(report_json(exercise))


def report_json(exercise: Exercise) -> str:
    return json.dumps(report_data(exercise), indent=2) + "\n"


def _typed(text: str) -> str:
    """What the team typed, on one line."""
    return " ".join(text.split()) or "-"


def _decision_row(d: Decision) -> tuple[object, ...]:
    verdict = d.verdict + (f" (expected {', '.join(d.expects)})" if d.verdict == "wrong" else "")
    sop = _typed(d.sop) if d.sop else "none yet"
    return (
        d.inject,
        scenario_time(d.at),
        clock_text(d.decided),
        sop,
        verdict or "-",
        _typed(d.action),
        _typed(d.notes),
    )


def _reached_row(r: Reached) -> tuple[object, ...]:
    cue = str(r.expected_from or "-")
    if r.inject is None or r.at is None or r.elapsed is None:
        return (r.sop, cue, Markup("**never**"), "-", "-", "-")
    after = "-" if r.delay is None else clock_text(r.delay)
    if r.expected_from is not None and r.inject < r.expected_from:
        after = "before the cue"
    return (r.sop, cue, r.inject, scenario_time(r.at), clock_text(r.elapsed), after)


def report_markdown(exercise: Exercise) -> str:
    data = report_data(exercise)
    scenario = exercise.scenario
    lines = [
        f"# Tabletop: {markdown_text(scenario.title)}",
        "",
        f"Scenario {markdown_code(scenario.id)} ({markdown_text(scenario.path)}), "
        f"started {data['started']}. "
        f"Phases at stake: {', '.join(scenario.phases)}.",
        "",
        "## Decisions",
        "",
    ]
    lines += markdown_table(
        ("inject", "scenario time", "decided at", "SOP", "verdict", "action", "notes"),
        (_decision_row(d) for d in exercise.decisions),
    )
    lines += ["", "## Time to the right SOP", ""]
    lines += markdown_table(
        (
            "expected SOP",
            "expected from inject",
            "reached at inject",
            "scenario time",
            "exercise time",
            "after the cue",
        ),
        (_reached_row(r) for r in exercise.reached),
    )
    lines += ["", "## Coverage", "", coverage_markdown(exercise.coverage, scenario=True)]
    gaps = exercise.coverage.gaps
    lines.append(
        f"Phases at stake that no SOP covers: {', '.join(gaps)}."
        if gaps
        else "Every phase at stake has at least one SOP."
    )
    return "\n".join(lines) + "\n"
