"""`sop stats` and `sop lint --runs` on real audit logs, made by running the real CLI
(`sop run --yes`, `sop drill --yes`) on small SOPs into a temporary state directory."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from sop.audit.actions import Action
from sop.audit.reader import AuditEntry, CheckedLog
from sop.checks.lint import lint_paths
from sop.checks.stats import compute_stats
from sop.cli import cli
from sop.events import Outcome
from sop.format.loader import load_sop

from ..conftest import REPO

SOP_BIN = Path(sys.executable).with_name("sop")

MIXED = """\
sop: 1
id: mixed
title: Mixed
owner: team
phase: respond
reviewed: 2026-11-01
steps:
  - id: look
    title: Look at the dashboard
    prose: Look at the dashboard.
  - id: list
    run: echo one
    drill: {stdout: one}
  - id: sleepy
    run: sleep 0.2
    drill: {delay: 0.3}
  - id: think
    prose: Think hard.
"""
MANUAL = """\
sop: 1
id: manual
title: Manual
owner: team
phase: recover
reviewed: 2026-11-01
steps:
  - id: call-someone
    prose: Call someone.
"""


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setenv("SOP_AUDIT_KEYS", str(tmp_path / "keys"))  # for sop in-process too
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "mixed.yaml").write_text(MIXED)
    (tmp_path / "lib" / "manual.yaml").write_text(MANUAL)
    env = {
        **os.environ,
        "SOP_STATE_DIR": str(tmp_path / "state"),
        "SOP_AUDIT_KEYS": str(tmp_path / "keys"),
        "SOP_PATH": str(tmp_path / "lib"),
    }
    return env


def sop(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(SOP_BIN), *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def stats(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return sop(env, "stats", env["SOP_PATH"], "--runs", env["SOP_STATE_DIR"], *args)


def test_stats_from_real_runs_and_drills(world: dict[str, str], tmp_path: Path) -> None:
    sop(world, "run", "mixed", "--yes")
    sop(world, "run", "mixed", "--yes")
    sop(world, "drill", "mixed", "--yes", "--report", str(tmp_path / "r1"))
    data = json.loads(stats(world, "--format", "json").stdout)
    mixed, manual = (
        next(s for s in data["sops"] if s["id"] == name) for name in ("mixed", "manual")
    )
    assert (mixed["runs"], mixed["drills"]) == (2, 1)
    assert mixed["last_drilled"] == dt.date.today().isoformat()
    assert mixed["reviewed"] == "2026-11-01"
    assert mixed["median_run_seconds"] >= 0.2  # the real sleep
    assert mixed["median_drill_seconds"] >= 0.3  # the simulated delay
    assert (mixed["executable_steps"], mixed["steps"], mixed["automation"]) == (2, 4, 0.5)
    assert manual == {
        "id": "manual",
        "reviewed": "2026-11-01",
        "last_drilled": None,
        "drills": 0,
        "runs": 0,
        "median_drill_seconds": None,
        "median_run_seconds": None,
        "executable_steps": 0,
        "steps": 1,
        "automation": 0.0,
    }
    # --yes passes prose steps unattended: no one did them, so they took no one any time
    assert data["slowest_manual_steps"] == []
    assert data["untrusted"] == []

    text = stats(world).stdout
    assert "manual  2026-11-01  never         -             -           0% (0/1)" in text


def test_a_log_that_does_not_verify_is_ignored_with_a_warning(world: dict[str, str]) -> None:
    sop(world, "run", "mixed", "--yes")
    sop(world, "run", "mixed", "--yes")
    runs = sorted((Path(world["SOP_STATE_DIR"]) / "runs").iterdir())
    log = runs[0] / "audit.jsonl"
    log.write_text(log.read_text().replace('"mixed"', '"mixed2"', 1))
    result = stats(world, "--format", "json")
    assert json.loads(result.stdout)["sops"][1]["runs"] == 1
    assert result.stderr == (
        f"warning: run {runs[0].name}: audit log untrusted "
        "(line 1: edited: the record does not match its hash); not counted\n"
    )


def test_lint_warns_about_sops_not_drilled(world: dict[str, str], tmp_path: Path) -> None:
    sop(world, "drill", "mixed", "--yes", "--report", str(tmp_path / "r1"))
    lib, state = Path(world["SOP_PATH"]), Path(world["SOP_STATE_DIR"])
    result = CliRunner().invoke(cli, ["lint", str(lib), "--runs", str(state)])
    assert result.exit_code == 0
    assert [line for line in result.stdout.splitlines() if "drill" in line] == [
        f"{lib}/manual.yaml:1:1: warning: never drilled: rehearse it with `sop drill`"
    ]
    later = dt.date.today() + dt.timedelta(days=100)
    report = lint_paths([lib], today=later, runs=state, drill_days=90)
    drills = [str(p) for p in report.problems if p.code == "drill"]
    assert drills == [
        f"{lib}/manual.yaml:1:1: warning: never drilled: rehearse it with `sop drill`",
        f"{lib}/mixed.yaml:1:1: warning: not drilled for 100 days (over 90); rehearse it with "
        "`sop drill`",
    ]
    assert not [
        p
        for p in lint_paths([lib], today=later, runs=state, drill_days=120).problems
        if p.code == "drill" and "mixed" in p.where.file
    ]


def test_lint_without_runs_says_nothing_about_drills() -> None:
    report = lint_paths([REPO / "runbooks"], today=dt.date(2026, 11, 28))
    assert not [p for p in report.problems if p.code == "drill"]


def test_only_manual_steps_a_responder_did_count_as_manual_step_time(tmp_path: Path) -> None:
    (tmp_path / "mixed.yaml").write_text(MIXED)
    sops = [load_sop(tmp_path / "mixed.yaml")]

    def prose(step_id: str, outcome: Outcome, seconds: float) -> AuditEntry:
        return AuditEntry(
            action=Action.STEP_FINISHED,
            event_kind="event",
            sop_id="mixed",
            step_id=step_id,
            number="1",
            step_kind="prose",
            outcome=outcome,
            duration_ns=int(seconds * 1e9),
        )

    logs = [
        CheckedLog(
            run_id,
            (
                AuditEntry(action=Action.RUN_STARTED, event_kind="event", sop_id="mixed"),
                prose("look", Outcome.DONE, seconds),
                prose("think", Outcome.UNATTENDED, 0.0),
            ),
        )
        for run_id, seconds in (("r1", 30.0), ("r2", 50.0))
    ]
    slow = compute_stats(sops, logs).slowest
    assert [(m.sop, m.step, m.title, m.median_seconds, m.count) for m in slow] == [
        ("mixed", "look", "Look at the dashboard", 40.0, 2)
    ]
