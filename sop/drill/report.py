"""The drill report: time per step against the SOP's target, deviations, injected failures and
what the responder chose, where they hesitated."""

from __future__ import annotations

import dataclasses
import json
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import field
from pathlib import Path

from sop.audit.actions import Action
from sop.audit.reader import AuditEntry, read_run
from sop.events import Outcome
from sop.records import dataclass
from sop.text import markdown_code, markdown_list, markdown_table, markdown_text


@dataclass(frozen=True)
class StepRow:
    number: str
    id: str
    title: str
    kind: str
    outcome: str  # "" for a step that never finished
    seconds: float  # over all its attempts
    hesitation: float  # the longest wait between showing the step and the responder's answer
    attempts: int


@dataclass(frozen=True)
class FailureRow:
    step: str
    title: str
    host: str
    exit_code: int | None
    error: str
    choice: str  # what the responder chose at the failure menu


@dataclass(frozen=True)
class DeviationRow:
    step: str
    title: str
    kind: str
    reason: str


@dataclass(frozen=True)
class StatusRow:
    """A status update the drill asked for: its time, the step it came at, and its text, or
    how none was given ("declined", "unattended")."""

    time: str
    step: str
    text: str
    how: str
    due: str


@dataclass(frozen=True)
class Hesitation:
    step: str
    title: str
    seconds: float


@dataclass(frozen=True)
class DrillReport:
    """A drill's report. Its fields, and theirs, are the members of report.json."""

    sop: str
    title: str
    run_id: str
    operator: str
    started: str
    scenario: str
    outcome: str  # the run's outcome, or "unfinished"
    total_seconds: float
    target_minutes: int | None
    within_target: bool | None
    steps: tuple[StepRow, ...]
    skipped: tuple[str, ...]  # step numbers
    partial: Mapping[str, tuple[str, ...]]  # step number -> the hosts it did not succeed on
    deviations: tuple[DeviationRow, ...]
    failures: tuple[FailureRow, ...]
    answers: Mapping[str, str]
    hesitations: tuple[Hesitation, ...]  # the three longest, longest first
    median_step_seconds: float
    status_updates: tuple[StatusRow, ...] = ()


@dataclass
class _Step:
    """A step's figures while the entries are walked."""

    first: AuditEntry
    outcome: str = ""
    seconds: float = 0.0
    hesitation: float = 0.0
    attempts: int = 0
    shown: float | None = None  # when it was shown and not yet answered

    def row(self) -> StepRow:
        e = self.first
        return StepRow(
            e.number,
            e.step_id,
            e.step_title,
            e.step_kind,
            self.outcome,
            round(self.seconds, 3),
            self.hesitation,
            self.attempts,
        )


@dataclass
class _Walk:
    steps: dict[str, _Step] = field(default_factory=dict)  # by number, in order of appearance
    failures: list[FailureRow] = field(default_factory=list)
    deviations: list[DeviationRow] = field(default_factory=list)
    answers: dict[str, str] = field(default_factory=dict)
    partial: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def add(self, e: AuditEntry) -> None:
        step = self.steps.setdefault(e.number, _Step(e))
        title = step.first.step_title
        if e.action == Action.STEP_SHOWN and step.shown is None:
            step.shown = e.at
        elif e.action in _ANSWERS and step.shown is not None:
            step.hesitation = max(step.hesitation, round(e.at - step.shown, 3))
            step.shown = None
        if e.action == Action.STEP_FINISHED:
            step.outcome = e.outcome
            step.seconds += e.seconds or 0.0
            step.attempts = max(step.attempts, e.attempt or 1)
            if e.outcome == Outcome.PARTIAL:
                failed = tuple(r.host for r in e.results if r.outcome != Outcome.SUCCESS)
                self.partial[e.number] = failed
            else:
                self.partial.pop(e.number, None)
        elif e.action == Action.HOST_FINISHED and e.outcome != Outcome.SUCCESS:
            self.failures.append(FailureRow(e.number, title, e.host, e.exit_code, e.error, ""))
        elif (
            e.action == Action.MENU_CHOICE
            and e.choice not in _CANARY
            and self.failures
            and self.failures[-1].step == e.number
        ):
            self.failures[-1] = dataclasses.replace(self.failures[-1], choice=e.choice)
        elif e.action == Action.DEVIATION:
            self.deviations.append(DeviationRow(e.number, title, e.deviation_kind, e.reason))
        elif e.action == Action.HOST_EXCLUDED:
            self.deviations.append(DeviationRow(e.number, title, f"excluded {e.host}", e.reason))
        elif e.action == Action.ANSWERED:
            self.answers[e.answer_name] = e.answer_value


_ANSWERS = (Action.STEP_CONFIRMED, Action.DEVIATION, Action.MENU_CHOICE)
_CANARY = ("canary-go", "canary-stop")  # the canary's question, not the failure menu


def build_report(entries: Sequence[AuditEntry], target_minutes: int | None) -> DrillReport:
    """The drill report, from the run's audit entries."""
    first = entries[0]
    walk = _Walk()
    for e in entries:
        if e.number:
            walk.add(e)
    finished = next((e for e in reversed(entries) if e.action == Action.RUN_FINISHED), None)
    rows = tuple(step.row() for step in walk.steps.values())
    total = (finished.seconds or 0.0) if finished else entries[-1].at - first.at
    longest = sorted((s for s in rows if s.hesitation > 0), key=lambda s: -s.hesitation)[:3]
    return DrillReport(
        sop=first.sop_id,
        title=first.sop_title,
        run_id=first.run_id,
        operator=first.operator,
        started=first.time,
        scenario=first.scenario,
        outcome=finished.outcome if finished else "unfinished",
        total_seconds=round(total, 3),
        target_minutes=target_minutes,
        within_target=None if target_minutes is None else total <= target_minutes * 60,
        steps=rows,
        skipped=tuple(s.number for s in rows if s.outcome == Outcome.SKIPPED),
        partial=walk.partial,
        deviations=tuple(walk.deviations),
        failures=tuple(walk.failures),
        answers=walk.answers,
        hesitations=tuple(Hesitation(s.number, s.title, s.hesitation) for s in longest),
        median_step_seconds=round(statistics.median([s.seconds for s in rows]), 3) if rows else 0.0,
        status_updates=tuple(
            StatusRow(e.time, e.number, e.status_text, e.status_how, e.status_due)
            for e in entries
            if e.action in (Action.STATUS_UPDATE, Action.STATUS_UPDATE_MISSED)
        ),
    )


def report_json(report: DrillReport) -> str:
    return (
        json.dumps(dataclasses.asdict(report), indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    )


def write_drill_report(
    run_dir: Path, target_minutes: int | None, folder: Path | None = None
) -> DrillReport:
    """Build the report of the drill run in `run_dir` from its audit log and write report.md
    and report.json into `folder` (default: the run's folder); returns the report."""
    report = build_report(read_run(run_dir), target_minutes)
    folder = folder or run_dir
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.md").write_text(report_markdown(report))
    (folder / "report.json").write_text(report_json(report))
    return report


def report_markdown(report: DrillReport) -> str:
    """The drill report as Markdown; every value from the log is quoted as text or code."""
    target = report.target_minutes
    verdict = (
        ""
        if target is None
        else (" (within" if report.within_target else " (OVER") + f" the {target} min target)"
    )
    lines = [
        f"# Drill report: {markdown_text(report.title)}",
        "",
        f"- SOP {markdown_code(report.sop)}, run {markdown_code(report.run_id)}, "
        f"by {markdown_text(report.operator)}, {markdown_text(report.started)}",
        f"- Scenario: {markdown_text(report.scenario) or 'the SOP as written'}",
        f"- Outcome: **{markdown_text(report.outcome)}** in {report.total_seconds:.1f}s{verdict}",
        "",
        "## Steps",
        "",
        *markdown_table(
            ("step", "title", "outcome", "attempts", "time", "hesitation"),
            (
                (
                    s.number,
                    s.title,
                    s.outcome,
                    s.attempts or "",
                    f"{s.seconds:.1f}s",
                    f"{s.hesitation:.1f}s",
                )
                for s in report.steps
            ),
        ),
        "",
        "## Where the responder hesitated longest (the retro's agenda)",
        "",
        *markdown_list(
            (f"Step {h.step} {h.title}: {h.seconds:.1f}s" for h in report.hesitations),
            empty="nowhere",
            numbered=True,
        ),
        "",
        "## Failures and what the responder chose",
        "",
        *markdown_list(
            f"Step {f.step} on {f.host}: "
            + (f"exit {f.exit_code}" if f.exit_code is not None else f.error)
            + (f" → {f.choice}" if f.choice else "")
            for f in report.failures
        ),
        "",
        "## Skipped steps and deviations",
        "",
        *markdown_list(
            [
                *(
                    f"Step {number}: partial, not done on {', '.join(hosts) or 'no host'}"
                    for number, hosts in report.partial.items()
                ),
                *(f"Step {d.step} {d.title}: {d.kind}: {d.reason}" for d in report.deviations),
            ]
        ),
        "",
        "## Status updates",
        "",
        *markdown_list(
            f"{u.time}"
            + (f" (at step {u.step})" if u.step else "")
            + ": "
            + (u.text if u.how == "given" else f"due {u.due}, none given ({u.how})")
            for u in report.status_updates
        ),
        "",
        "## Answers",
        "",
        *markdown_list(f"{k} = {v}" for k, v in report.answers.items()),
    ]
    return "\n".join(lines) + "\n"
