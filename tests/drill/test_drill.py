"""Fire drills: every SOP of the library drills offline; scenarios inject failures; the report
tells the team what to fix; a simulated drill touches no network and runs no program."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sop.format.discovery import load_library
from sop.model import Sop
from tests.conftest import REPO

SOP = Path(sys.executable).parent / "sop"
LIBRARY = load_library([REPO / "runbooks"])


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "SOP_STATE_DIR": str(tmp_path / "state"),
        "SOP_AUDIT_KEYS": str(tmp_path / "keys"),
        "COLUMNS": "200",
    }


def drill(
    env: dict[str, str], *args: str, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SOP), "drill", "--yes", "--pace", "0", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
    )


def records(env: dict[str, str]) -> list[dict[str, object]]:
    (run_dir,) = (Path(env["SOP_STATE_DIR"]) / "runs").iterdir()
    return [json.loads(line) for line in (run_dir / "audit.jsonl").read_text().splitlines()]


def test_the_library_is_big_enough_and_every_executable_step_has_a_drill_result() -> None:
    assert len(LIBRARY.sops) >= 13 and not LIBRARY.problems
    missing = [
        f"{s.id}:{step.id}"
        for s in LIBRARY.sops
        for step in (*s.steps, *s.rollback)
        if step.executable and step.drill is None
    ]
    assert missing == []


@pytest.mark.parametrize("sop_id", sorted(s.id for s in LIBRARY.sops))
def test_every_sop_drills_offline_with_no_arguments(
    sop_id: str, env: dict[str, str], tmp_path: Path
) -> None:
    sop = next(s for s in LIBRARY.sops if s.id == sop_id)
    proc = drill(env, str(sop.path), "--report", str(tmp_path / "report"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr
    assert "FIRE DRILL" in proc.stdout
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert report["outcome"] == "success" and report["sop"] == sop_id
    assert report["failures"] == [] and report["within_target"] is True
    numbers = [s["number"] for s in report["steps"]]
    assert [str(n) for n in range(1, len(sop.steps) + 1)] == [n for n in numbers if "." not in n]
    assert {s["outcome"] for s in report["steps"]} <= {"success", "done", "unattended", "skipped"}
    chosen_only = _owned_sections(sop)
    conditional = {step.id for step in sop.steps if step.when or step.section_id in chosen_only}
    skipped = {
        s["id"] for s in report["steps"] if s["outcome"] == "skipped" and "." not in s["number"]
    }
    # only `when:` and decisions skip a step in a drill of the SOP as written
    assert skipped <= conditional
    assert (
        (tmp_path / "report" / "report.md").read_text().startswith(f"# Drill report: {sop.title}\n")
    )
    tags = {tuple(r["tags"]) for r in records(env)}  # type: ignore[index]
    assert tags == {("drill",)}


def _owned_sections(sop: Sop) -> set[str]:
    """The sections a decide step's answers (or `else`) name: they run only when chosen."""
    return {t for step in sop.steps for o in step.options for t in o.goto} | {
        t for step in sop.steps for t in step.otherwise
    }


SCENARIO_SOP = """\
sop: 1
id: rehearse
title: Rehearse
owner: t
reviewed: 2026-11-20
target_minutes: 1
inputs:
  host: {{required: true, drill: web-1}}
on: "{{{{ host }}}}"
steps:
  - id: check
    run: touch {marker}-check; curl -fsS http://127.0.0.1:9/health
    drill: {{stdout: "ok\\n"}}
  - id: fleet
    on: [web-1, web-2]
    run: touch {marker}-fleet
    drill: {{stdout: "done\\n"}}
scenarios:
  flaky:
    summary: the health check fails twice
    steps:
      check: [{{exit: 7, stderr: "connection refused\\n"}}, {{exit: 7}}, {{stdout: "ok\\n"}}]
  partition:
    unreachable: [web-2]
"""


def test_a_scenario_injects_failures_and_the_report_names_them(
    tmp_path: Path, env: dict[str, str]
) -> None:
    marker = tmp_path / "RAN"
    path = tmp_path / "rehearse.yaml"
    path.write_text(SCENARIO_SOP.format(marker=marker))
    proc = drill(env, str(path), "--scenario", "partition", "--report", str(tmp_path / "r"))
    assert proc.returncode == 1
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    assert report["scenario"] == "partition" and report["outcome"] == "failure"
    (failure,) = report["failures"]
    assert {k: v for k, v in failure.items() if k != "title"} == {
        "step": "2",
        "host": "web-2",
        "exit_code": None,
        "choice": "",
        "error": "simulated: web-2 does not answer (scenario partition)",
    }
    assert "step 2 (fleet) failed: web-2: simulated: web-2 does not answer" in proc.stdout
    assert not list(tmp_path.glob("RAN*"))  # nothing ran


def test_unknown_scenario_is_a_clear_error(tmp_path: Path, env: dict[str, str]) -> None:
    path = tmp_path / "rehearse.yaml"
    path.write_text(SCENARIO_SOP.format(marker=tmp_path / "RAN"))
    proc = drill(env, str(path), "--scenario", "flaky-typo")
    assert (proc.returncode, proc.stderr) == (
        1,
        "sop: error: 'rehearse' has no drill scenario 'flaky-typo' (it has: flaky, partition)\n",
    )


DECIDING_SOP = """\
sop: 1
id: deciding
title: Deciding
owner: t
reviewed: 2026-11-20
target_minutes: 1
steps:
  - heading: Contain
    id: contain
  - id: disable
    run: echo disable
    drill: {stdout: "disabled\\n"}
  - heading: Eradicate
    id: eradicate
  - id: more
    decide: Did you find more keys?
    options:
      "yes, contain them too": contain
      "no": recover
    else: escalate
  - heading: Recover
    id: recover
  - prose: Issue new keys.
  - heading: Escalate
    id: escalate
  - prose: Page the IR lead.
scenarios:
  second-key:
    summary: The attacker made a second key; one more pass of containment finds no third.
    answers:
      more: ["yes, contain them too", "no"]
  unclear:
    answers: {more: else}
"""


def decided(env: dict[str, str]) -> list[tuple[str, int, str, str]]:
    return [
        (r["sop"]["step"], r["sop"].get("round", 1), r["sop"]["choice"], r["sop"]["confirmation"])  # type: ignore[index,union-attr]
        for r in records(env)
        if r["event"]["action"] == "decided"  # type: ignore[index]
    ]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((), [("more", 1, "no", "drill")]),
        (
            ("--scenario", "second-key"),
            [("more", 1, "yes, contain them too", "scenario"), ("more", 2, "no", "scenario")],
        ),
        (("--scenario", "unclear"), [("more", 1, "else", "scenario")]),
        (("--scenario", "unclear", "-a", "more=no"), [("more", 1, "no", "--answer")]),
    ],
)
def test_a_scenario_answers_decisions_pass_by_pass_and_an_answer_given_wins(
    args: tuple[str, ...],
    expected: list[tuple[str, int, str, str]],
    tmp_path: Path,
    env: dict[str, str],
) -> None:
    path = tmp_path / "deciding.yaml"
    path.write_text(DECIDING_SOP)
    proc = drill(env, str(path), *args)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr
    assert decided(env) == expected


def test_a_step_of_a_section_not_chosen_is_a_skipped_step_for_later_steps(
    tmp_path: Path, env: dict[str, str]
) -> None:
    """`steps.ID` of a step whose section a decision did not choose reads `skipped` (it was
    undefined, and the `when:` reading it stopped the run)."""
    path = tmp_path / "deciding.yaml"
    path.write_text(
        DECIDING_SOP.replace(
            "  - prose: Issue new keys.\n", "  - id: issue\n    prose: Issue new keys.\n"
        ).replace(
            "  - prose: Page the IR lead.\n",
            "  - prose: Page the IR lead.\n"
            "  - id: undo\n    when: \"steps.issue.outcome != 'skipped'\"\n"
            "    run: echo undo\n    drill: {stdout: undo}\n",
        )
    )
    proc = drill(env, str(path), "--scenario", "unclear")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr
    outcomes = {
        r["sop"]["step"]: r["sop"]["outcome"]  # type: ignore[index]
        for r in records(env)
        if r["event"]["action"] == "step-finished"  # type: ignore[index]
    }
    assert outcomes["issue"] == outcomes["undo"] == "skipped"


def test_a_scenario_answer_that_is_not_offered_here_stops_the_drill(
    tmp_path: Path, env: dict[str, str]
) -> None:
    path = tmp_path / "deciding.yaml"
    path.write_text(
        DECIDING_SOP.replace('["yes, contain them too", "no"]', '"yes, contain them too"')
    )
    proc = drill(env, str(path), "--scenario", "second-key")
    assert proc.returncode == 1
    assert (
        "step 2 (more): the scenario's answer 'yes, contain them too' is not an answer of this "
        "decision here; one of: no, else"
    ) in " ".join(proc.stdout.split()) + proc.stderr


def test_a_simulated_drill_runs_under_the_guard_end_to_end(
    tmp_path: Path, env: dict[str, str]
) -> None:
    """The whole drill process runs with sockets and programs forbidden, and still completes:
    nothing in a simulated drill needs them."""
    path = tmp_path / "rehearse.yaml"
    path.write_text(SCENARIO_SOP.format(marker=tmp_path / "RAN"))
    proc = drill(env, str(path), "--scenario", "flaky", "--pace", "0")
    assert proc.returncode == 1  # flaky: the check fails, and --yes stops at a failure
    assert "blocked" not in proc.stdout + proc.stderr
    assert "step 1 (check) failed: web-1: exit 7" in proc.stdout
    assert not list(tmp_path.glob("RAN*"))


def test_a_drill_paces_its_status_updates_and_reports_them(
    tmp_path: Path, env: dict[str, str]
) -> None:
    """--pace 0.1: a 6 s simulated step waits 0.6 s, and an update every 5 s comes due every
    0.5 s: during the step, so the drill records it missed before the next one."""
    path = tmp_path / "paced.yaml"
    path.write_text(
        "sop: 1\nid: paced\ntitle: Paced\nowner: team\nstatus_updates: 5s\nsteps:\n"
        "  - {id: slow, run: make-it-so, confirm: never, drill: {delay: 6}}\n"
        "  - {id: next, run: check, confirm: never, drill: {}}\n"
    )
    proc = drill(env, str(path), "--pace", "0.1", "--report", str(tmp_path / "r"))
    assert proc.returncode == 0, proc.stderr
    [missed] = [r for r in records(env) if r["event"]["action"] == "status-update-missed"]
    status = missed["sop"]["status"]  # type: ignore[index]
    assert (status["every"], status["how"]) == (0.5, "unattended")
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    assert report["status_updates"] == [
        {"time": missed["@timestamp"], "step": "2", "text": "", "how": "unattended",
         "due": status["due"]}
    ]  # fmt: skip
    markdown = (tmp_path / "r" / "report.md").read_text()
    assert (
        f"- {missed['@timestamp']} (at step 2): due {status['due']}, none given (unattended)"
        in markdown
    )
