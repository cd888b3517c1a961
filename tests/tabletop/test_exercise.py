"""A tabletop exercise with a fake facilitator and a fake clock: the decisions, the time to
the right SOP, and the coverage of the phases at stake."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from sop.checks.coverage import library_coverage
from sop.format.scenario import Inject, TabletopScenario
from sop.model import Sop
from sop.tabletop.exercise import (
    ACTION,
    NOTES,
    PICK,
    hold_exercise,
    report_json,
    report_markdown,
    run_exercise,
)
from tests.conftest import REPO


def sop(sop_id: str, phase: str | None) -> Sop:
    return Sop(id=sop_id, title=sop_id, path=Path(f"{sop_id}.yaml"), sha256="", phase=phase)


LIBRARY = [sop("exfil", "respond"), sop("evidence", "respond"), sop("rollback", "recover")]
SCENARIO = TabletopScenario(
    id="drill",
    title="A drill",
    path=Path("scenarios/drill.yaml"),
    narrative="Once upon a time.",
    phases=("detect", "respond"),
    expected=("exfil", "evidence"),
    injects=(
        Inject(1, 0.0, "Alert."),
        Inject(2, 300.0, "Traffic.", ("exfil",)),
        Inject(3, 900.0, "Process found.", ("evidence",)),
    ),
)


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def now(self) -> float:
        return 1_800_000_000.0 + self.t

    def monotonic(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += seconds


class Facilitator:
    """Answers from a script; every answer takes 10 seconds of the fake clock."""

    def __init__(self, clock: FakeClock, answers: list[str]) -> None:
        self.clock = clock
        self.answers = answers
        self.seen: list[str] = []

    def narrative(self, scenario: TabletopScenario) -> None:
        self.seen.append(f"narrative {scenario.id}")

    def inject(self, inject: Inject, elapsed: float, candidates: Sequence[Sop]) -> None:
        self.seen.append(f"inject {inject.number} at {elapsed:g}s of {len(candidates)} SOPs")

    def ask(self, prompt: str) -> str:
        self.clock.sleep(10)
        answer = self.answers.pop(0)
        self.seen.append(f"{prompt} {answer}")
        return answer

    def unknown(self, answer: str, known: Sequence[str]) -> None:
        self.seen.append(f"unknown {answer}")


def exercise(answers: list[str]) -> tuple[Facilitator, object]:
    clock = FakeClock()
    facilitator = Facilitator(clock, answers)
    return facilitator, run_exercise(SCENARIO, LIBRARY, facilitator, clock)


def test_the_facilitator_sees_each_inject_with_the_clock_and_records_decisions() -> None:
    facilitator, result = exercise(
        ["", "wait", "", "exfl", "exfil", "block it", "fast", "exfil", "", ""]
    )
    assert facilitator.seen == [
        "narrative drill",
        "inject 1 at 0s of 3 SOPs",
        f"{PICK} ",
        f"{ACTION} wait",
        f"{NOTES} ",
        "inject 2 at 30s of 3 SOPs",
        f"{PICK} exfl",
        "unknown exfl",
        f"{PICK} exfil",
        f"{ACTION} block it",
        f"{NOTES} fast",
        "inject 3 at 70s of 3 SOPs",
        f"{PICK} exfil",
        f"{ACTION} ",
        f"{NOTES} ",
    ]
    data = json.loads(report_json(result))  # type: ignore[arg-type]
    assert [(d["inject"], d["sop"], d["verdict"], d["decided"]) for d in data["decisions"]] == [
        (1, "", "", 30.0),
        (2, "exfil", "right", 70.0),
        (3, "exfil", "wrong", 100.0),
    ]
    assert data["reached"] == [
        {
            "sop": "exfil",
            "inject": 2,
            "at": 300.0,
            "elapsed": 70.0,
            "expected_from": 2,
            "delay": 40.0,
        },
        {
            "sop": "evidence",
            "inject": None,
            "at": None,
            "elapsed": None,
            "expected_from": 3,
            "delay": None,
        },
    ]
    assert data["started"] == "2027-01-15T08:00:00+00:00"


def test_the_report_shows_decisions_time_to_the_right_sop_and_the_gaps() -> None:
    _, result = exercise(["", "", "", "exfil", "block", "", "", "", "nobody knew"])
    text = report_markdown(result)  # type: ignore[arg-type]
    assert "| 2 | T+5 min | 1:00 | exfil | right | block | - |" in text
    assert "| 3 | T+15 min | 1:30 | none yet | none | - | nobody knew |" in text
    assert "| exfil | 2 | 2 | T+5 min | 1:00 | 0:30 |" in text
    assert "| evidence | 3 | **never** | - | - | - |" in text
    assert "| detect | **GAP: no SOP** | - | - |" in text
    assert "| respond | covered | evidence, exfil | exfil |" in text
    assert "| recover | not at stake | rollback | - |" in text
    assert text.endswith("Phases at stake that no SOP covers: detect.\n")


def test_library_coverage_lists_each_phase_and_the_gaps() -> None:
    coverage = library_coverage([*LIBRARY, sop("loose", None)])
    assert [(r.phase, r.sops) for r in coverage.rows] == [
        ("identify", ()),
        ("protect", ()),
        ("detect", ()),
        ("respond", ("evidence", "exfil")),
        ("recover", ("rollback",)),
    ]
    assert coverage.gaps == ("identify", "protect", "detect")
    assert coverage.unassigned == ("loose",)


def test_holding_an_exercise_writes_its_report_under_the_state_directory(tmp_path: Path) -> None:
    clock = FakeClock()
    answers = ["ransomware", "isolate", ""] * 4

    held, folder = hold_exercise(
        str(REPO / "runbooks" / "scenarios" / "ransomware-monday-morning.yaml"),
        [REPO / "runbooks"],
        Facilitator(clock, answers),
        clock,
        state_dir=tmp_path,
    )

    assert folder == tmp_path / "tabletops" / "20270115T080000-ransomware-monday-morning"
    assert (folder / "report.md").read_text() == report_markdown(held)
    assert (folder / "report.json").read_text() == report_json(held)
    assert [d.sop for d in held.decisions] == ["ransomware"] * len(held.scenario.injects)
