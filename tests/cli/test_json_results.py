"""`--format json` on `run`, `resume`, `drill` and `show`: the walk goes to stderr as usual and
stdout holds one JSON object a script can read: how the run ended and where its audit log
is, or every field of the SOP as sop loaded it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from sop.audit.reader import read_run
from sop.cli import cli
from sop.events import SystemClock
from sop.run.launch import RunRequest, launch
from sop.run.options import RunOptions
from sop.run.testing import Recorder, ScriptedPrompter

SOP = """\
sop: 1
id: jsonable
title: Jsonable
owner: team
reviewed: 2026-11-01
target_minutes: 5
inputs:
  mount: {help: Mount, default: /var, drill: /srv}
steps:
  - id: look
    prose: Look at the graphs of {{ mount }}.
  - id: clean
    run: echo cleaned {{ mount }}
  - id: check
    run: echo checked
"""


@pytest.fixture
def sop_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SOP_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "jsonable.yaml"
    path.write_text(SOP)
    return path


JSON = ("--format", "json")
REPORT = (*JSON, "--report", "rep")


def sop(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_run_prints_how_it_ended_and_the_head_of_its_audit_log(sop_path: Path) -> None:
    code, out, err = sop("run", str(sop_path), "--yes", "--format", "json")
    assert code == 0, err
    result = json.loads(out)  # stdout is the JSON and nothing else
    log = Path(result["audit_log"])
    entries = read_run(log.parent)
    last = json.loads(log.read_text().splitlines()[-1])
    assert result == {
        "run_id": entries[0].run_id,
        "trace_id": entries[0].trace_id,
        "sop": {"id": "jsonable", "path": str(sop_path), "sha256": result["sop"]["sha256"]},
        "outcome": "success",
        "exit_code": 0,
        "paused": None,
        "steps": {"look": "unattended", "clean": "success", "check": "success"},
        "audit_log": str(log),
        "head": f"{last['event']['sequence']}:{last['event']['hash']}",
    }
    assert "cleaned /var" in err  # the walk itself, on stderr


def test_a_failed_run_says_so_with_its_exit_code(sop_path: Path) -> None:
    sop_path.write_text(SOP.replace("echo checked", "exit 3"))
    code, out, _ = sop("run", str(sop_path), "--yes", "--format", "json")
    result = json.loads(out)
    assert (code, result["outcome"], result["exit_code"]) == (1, "failure", 1)
    assert result["steps"]["check"] == "failure"


def test_a_dry_run_keeps_no_audit_log(sop_path: Path) -> None:
    code, out, _ = sop("run", str(sop_path), "--dry-run", "--format", "json")
    result = json.loads(out)
    assert code == 0
    assert (result["audit_log"], result["head"]) == (None, None)


def test_resume_prints_the_end_of_the_resumed_run(sop_path: Path) -> None:
    paused = launch(
        RunRequest(sop=str(sop_path), options=RunOptions(operator="alice")),
        prompter=ScriptedPrompter(("choose", "Done?", "q")),
        asker=None,
        sinks=[Recorder()],
        clock=SystemClock(),
    )
    assert paused.result.outcome == "paused"
    code, out, err = sop("resume", paused.result.run_id, "--yes", "--format", "json")
    assert code == 0, err
    result = json.loads(out)
    assert (result["run_id"], result["outcome"]) == (paused.result.run_id, "success")
    assert result["steps"]["check"] == "success"


def test_drill_adds_where_its_report_is(sop_path: Path, tmp_path: Path) -> None:
    """In a process of its own: a drill's guard must be installed before anything can start a
    process."""
    done = subprocess.run(
        [sys.executable, "-m", "sop", "drill", str(sop_path), "--yes", "--pace=0", *REPORT],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["drill"] == {
        "report": {
            "markdown": str(Path("rep") / "report.md"),
            "json": str(Path("rep") / "report.json"),
        }
    }
    report = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert (report["run_id"], report["outcome"]) == (result["run_id"], result["outcome"])


def test_show_gives_every_field_as_loaded_with_its_line(sop_path: Path) -> None:
    code, out, _ = sop("show", str(sop_path), "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert (data["sop_json"], data["id"], data["target_minutes"]) == (1, "jsonable", 5)
    assert data["inputs"][0]["name"] == "mount"
    assert data["inputs"][0]["default"] == "/var"
    clean = data["steps"][1]
    assert (clean["id"], clean["kind"], clean["number"]) == ("clean", "run", 2)
    assert (clean["body"], clean["line"], clean["path"]) == (
        "echo cleaned {{ mount }}",
        12,
        "steps[1]",
    )
    assert "locs" not in clean


def test_an_error_goes_to_stderr_and_stdout_stays_empty(sop_path: Path) -> None:
    code, out, err = sop("run", str(sop_path), "--yes", "--format", "json", "-i", "nope=1")
    assert (code, out) == (1, "")
    assert "nope" in err
