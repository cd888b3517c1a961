"""Runbooks migrated from public sources (issue 15): every decision branch and scenario drills
green, the commands whose exit status is the finding pass, and going back is rehearsed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from sop import events as ev
from sop.events import Outcome
from sop.run.testing import ScriptedPrompter, run_sop
from tests.conftest import REPO

SOP = Path(sys.executable).parent / "sop"
RUNBOOKS = REPO / "runbooks"


def drill(tmp_path: Path, name: str, *args: str, retried: str = "") -> dict[str, Any]:
    """The drill's report; only the step `retried` may have failed attempts on the way."""
    tmp_path.mkdir(exist_ok=True)
    env = {
        **os.environ,
        "SOP_STATE_DIR": str(tmp_path / "state"),
        "SOP_AUDIT_KEYS": str(tmp_path / "keys"),
        "COLUMNS": "200",
    }
    proc = subprocess.run(
        [
            str(SOP),
            "drill",
            str(RUNBOOKS / f"{name}.yaml"),
            "--yes",
            "--pace",
            "0",
            *args,
            "--report",
            str(tmp_path / "report"),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
    report: dict[str, Any] = json.loads((tmp_path / "report" / "report.json").read_text())
    assert report["outcome"] == "success"
    numbers = {s["number"]: s["id"] for s in report["steps"]}
    assert {numbers[f["step"]] for f in report["failures"]} <= ({retried} if retried else set())
    return report


def ran(report: dict[str, Any]) -> list[str]:
    """Ids of the steps that ran (not skipped), called SOPs' steps included."""
    return [s["id"] for s in report["steps"] if s["outcome"] != "skipped"]


def test_linux_perf_the_sysstat_check_is_a_finding_either_way(tmp_path: Path) -> None:
    report = drill(tmp_path, "linux-perf-60s")
    assert ran(report)[:3] == ["sysstat", "uptime", "dmesg"]
    assert ran(report)[-3:] == ["top", "exonerated", "follow-on"]
    missing = drill(tmp_path / "b", "linux-perf-60s", "--scenario", "no-sysstat")
    assert ran(missing)[:3] == ["sysstat", "install-sysstat", "uptime"]
    (check,) = [s for s in missing["steps"] if s["id"] == "sysstat"]
    assert check["outcome"] == "success"  # exit 1 is in ok_exit


@pytest.mark.parametrize(
    ("args", "present", "absent"),
    [
        ((), ["find-reserve", "drop", "rebuild", "wipe-data"], ["add-space", "controldata"]),
        (
            ("-a", "what-fills=no, log files or other files"),
            ["add-space", "record"],
            ["crashed", "drop", "controldata", "rebuild"],
        ),
        (("-a", "crashed=no, it is still up"), ["drop"], ["find-reserve", "remove-reserve"]),
        (("-a", "slot="), ["slot-choice", "freed"], ["drop"]),
        (
            ("-a", "freed=no, no slot held the WAL, or dropping it was not enough"),
            ["controldata", "oldest-wal", "remove-oldest", "standby-lost"],
            [],
        ),
        (("-a", "standby-lost=no"), ["record"], ["rebuild", "wipe-data"]),
        (("--scenario", "server-down"), ["slots", "crashed"], []),
        (("--scenario", "server-still-up"), ["log"], []),
    ],
)
def test_postgres_disk_space_every_branch_drills_green(
    tmp_path: Path, args: Sequence[str], present: list[str], absent: list[str]
) -> None:
    steps = ran(drill(tmp_path, "postgres-disk-space", *args))
    assert set(present) <= set(steps) and not set(absent) & set(steps)


def test_postgres_psql_down_is_a_finding_not_a_failure(tmp_path: Path) -> None:
    report = drill(tmp_path, "postgres-disk-space", "--scenario", "server-down")
    (slots,) = [s for s in report["steps"] if s["id"] == "slots"]
    assert slots["outcome"] == "success"


@pytest.mark.parametrize(
    ("scenario", "present", "absent"),
    [
        ("", ["patroni-state", "wipe-data", "watch-size", "follow-log", "ready"], ["stop-patroni"]),
        ("patroni-still-running", ["patroni-state", "stop-patroni", "wipe-data"], []),
        ("slow-clone", ["ready", "record"], ["stop-patroni"]),
    ],
)
def test_postgres_rebuild_standby_drills_green(
    tmp_path: Path, scenario: str, present: list[str], absent: list[str]
) -> None:
    args = ("--scenario", scenario) if scenario else ()
    retried = "ready" if scenario == "slow-clone" else ""
    steps = ran(drill(tmp_path, "postgres-rebuild-standby", *args, retried=retried))
    assert set(present) <= set(steps) and not set(absent) & set(steps)


@pytest.mark.parametrize(
    ("name", "args", "absent"),
    [
        ("ransomware-playbook", (), []),  # a drill takes the first answer: yes
        ("ransomware-playbook", ("-a", "irrecoverable=no"), ["consider-ransom"]),
        ("ransomware-playbook", ("-a", "irrecoverable=yes"), []),
        ("ransomware-user-actions", (), []),
        ("ransomware-help-desk", (), []),
    ],
)
def test_ransomware_forward_branches_drill_green(
    tmp_path: Path, name: str, args: Sequence[str], absent: list[str]
) -> None:
    steps = ran(drill(tmp_path, name, *args))
    assert not set(absent) & set(steps)
    if name == "ransomware-playbook" and "irrecoverable=no" not in args:
        assert "consider-ransom" in steps


class Responder(ScriptedPrompter):
    """Does every manual step and gives each decision, known by its first answer, its next
    scripted answer (a number)."""

    def __init__(self, answers: dict[str, list[str]]) -> None:
        super().__init__()
        self.answers = answers

    def ask(self, question: Any) -> str:
        return "noted"

    def choose(
        self, prompt: str, choices: Sequence[tuple[str, str]], default: str | None = None
    ) -> str:
        if "Your answer?" not in prompt:
            return "d"
        return self.answers[choices[0][1]].pop(0)


def test_ransomware_goes_back_to_investigate_and_to_containment(tmp_path: Path) -> None:
    """Going back cannot be answered with -a (the answer would repeat): a responder does it."""
    responder = Responder(
        {
            "yes: expand the investigation to those tools or malware": ["1", "2"],
            "yes: contain again": ["1", "2"],
            "yes": ["2"],
        }
    )
    result, rec, _ = run_sop(
        RUNBOOKS / "ransomware-playbook.yaml", prompter=responder, inputs={"case": "INC-1"}
    )
    assert result.outcome == Outcome.SUCCESS
    decided = [(e.step.id, e.goto) for e in rec.of(ev.Decided)]
    assert decided == [
        ("other-tools", ("investigate",)),
        ("other-tools", ("remediate",)),
        ("reinfected", ("contain",)),
        ("reinfected", ("communicate",)),
        ("irrecoverable", ("close",)),
    ]
    outcomes = {e.step.key: e.outcome for e in rec.of(ev.StepFinished)}
    assert outcomes["type@2"] == outcomes["quarantine-systems@2"] == outcomes["watch@2"] == "done"
    assert outcomes["consider-ransom"] == "skipped" and outcomes["after-action"] == "done"


def test_two_scenarios_take_two_branches_of_an_answer_and_set_inputs(tmp_path: Path) -> None:
    """aws-iam-credential-compromise escalates by the priority the responder answers: the
    drill's `drill:` value (P2) escalates to the account owner and AWS, the scenario
    `legitimate-after-all` answers P3 and names the user, and -i still wins over it."""

    def escalation(report: dict[str, Any]) -> dict[str, str]:
        return {s["id"]: s["outcome"] for s in report["steps"] if s["id"].startswith("escalate")}

    plain = drill(tmp_path / "a", "aws-iam-credential-compromise")
    assert plain["answers"]["priority"] == "P2"
    assert escalation(plain) == {"escalate-high": "unattended", "escalate-low": "skipped"}
    scripted = drill(
        tmp_path / "b", "aws-iam-credential-compromise", "--scenario", "legitimate-after-all"
    )
    assert scripted["answers"]["priority"] == "P3"
    assert escalation(scripted) == {"escalate-high": "skipped", "escalate-low": "unattended"}
    assert inputs(tmp_path / "b")["user_name"] == "oncall-engineer"
    given = drill(
        tmp_path / "c",
        "aws-iam-credential-compromise",
        "--scenario",
        "legitimate-after-all",
        "-i",
        "user_name=someone-else",
    )
    assert escalation(given) == escalation(scripted)
    assert inputs(tmp_path / "c")["user_name"] == "someone-else"


def inputs(drilled: Path) -> dict[str, str]:
    """The inputs the drill in `drilled` started with, from its audit log."""
    (log,) = (drilled / "state").rglob("audit.jsonl")
    started = json.loads(log.read_text().splitlines()[0])
    return {i["name"]: i["value"] for i in started["sop"]["inputs"]}
