"""A drill that stops goes on as the drill it was: `sop resume` of a simulated drill runs
nothing for real (it used to resume with real executors, so a rehearsal's destructive step
ran on the responder's machine), under the drill guard, and is recorded as a drill."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pexpect
import pytest

from sop.audit.reader import AuditEntry, entry
from sop.errors import SopError
from sop.run.launch import RunRequest, _same_inventory
from sop.run.options import DrillOptions

SOP = Path(sys.executable).parent / "sop"

DRILLED = """\
sop: 1
id: wipe-drill
title: Wipe the scratch folder
owner: team-test
reviewed: 2026-11-01
steps:
  - id: first
    run: touch {marker}.first
    confirm: never
    drill: {{stdout: "first\\n", delay: 3}}
  - id: second
    run: touch {marker}.second
    confirm: never
    drill: {{stdout: "second\\n"}}
"""


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "SOP_STATE_DIR": str(tmp_path / "state"),
        "SOP_AUDIT_KEYS": str(tmp_path / "keys"),
        "COLUMNS": "200",
    }


def records(run_dir: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (run_dir / "audit.jsonl").read_text().splitlines()]


def killed_in_first_step(tmp_path: Path, env: dict[str, str]) -> Path:
    """A drill SIGKILLed while its first (simulated, 3 s) step runs: unfinished, resumable."""
    sop = tmp_path / "wipe.yaml"
    sop.write_text(DRILLED.format(marker=tmp_path / "marker"))
    proc = subprocess.Popen(
        [str(SOP), "drill", "--yes", str(sop)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    runs = tmp_path / "state" / "runs"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        logs = list(runs.glob("*/audit.jsonl")) if runs.is_dir() else []
        if logs and '"step-started"' in logs[0].read_text():
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    (run_dir,) = runs.iterdir()
    return run_dir


def test_a_resumed_simulated_drill_stays_simulated(tmp_path: Path, env: dict[str, str]) -> None:
    run_dir = killed_in_first_step(tmp_path, env)
    started = records(run_dir)[0]
    assert started["tags"] == ["drill"]  # type: ignore[index]
    assert started["sop"]["drill"] == {"simulated": True}  # type: ignore[index]

    resume = pexpect.spawn(
        str(SOP), ["resume", run_dir.name], env=env, encoding="utf-8", timeout=30
    )
    resume.expect_exact("In doubt. What now?")
    resume.sendline("r")  # run it again: in a drill, that is the simulation again
    resume.expect(pexpect.EOF)
    resume.close()
    assert resume.exitstatus == 0, resume.before
    assert not (tmp_path / "marker.first").exists()
    assert not (tmp_path / "marker.second").exists()
    after = records(run_dir)
    resumed = [r for r in after if r["event"]["action"] == "run-resumed"]  # type: ignore[index]
    assert resumed[-1]["tags"] == ["drill"]  # type: ignore[index]
    assert resumed[-1]["sop"]["drill"] == {"simulated": True}  # type: ignore[index]
    finished = after[-2] if after[-1]["event"]["action"] == "seal" else after[-1]  # type: ignore[index]
    assert finished["event"]["action"] == "run-finished"  # type: ignore[index]
    assert finished["event"]["outcome"] == "success"  # type: ignore[index]


SANDBOX = DrillOptions(simulate=False)


def started_with(inventory: str) -> AuditEntry:
    return AuditEntry(
        action="run-started", event_kind="drill", inventory=inventory, inventories=(inventory,)
    )


def test_a_resumed_run_targets_the_inventory_it_started_with(tmp_path: Path) -> None:
    recorded = tmp_path / "staging.yaml"
    request = _same_inventory(RunRequest("x"), started_with(str(recorded)), None)
    assert request.inventory == (recorded,)


def test_a_resumed_sandbox_drill_refuses_another_inventory(tmp_path: Path) -> None:
    recorded, other = tmp_path / "staging.yaml", tmp_path / "inventory.yaml"
    with pytest.raises(SopError) as refused:
        _same_inventory(RunRequest("x", inventory=(other,)), started_with(str(recorded)), SANDBOX)
    assert str(refused.value) == (
        f"this drill ran against the sandbox inventory {recorded}; it goes on against that "
        f"one only (not {other})"
    )
    same = RunRequest("x", inventory=(recorded,))
    assert _same_inventory(same, started_with(str(recorded)), SANDBOX) is same


def test_the_run_started_record_names_the_inventory_and_the_drill_mode(
    tmp_path: Path, env: dict[str, str]
) -> None:
    (tmp_path / "inventory.yaml").write_text("hosts: {}\n")
    sop = tmp_path / "wipe.yaml"
    sop.write_text(DRILLED.format(marker=tmp_path / "marker").replace("delay: 3", "delay: 0"))
    done = subprocess.run(
        [str(SOP), "drill", "--yes", str(sop)], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    (run_dir,) = (tmp_path / "state" / "runs").iterdir()
    started = entry(records(run_dir)[0])
    assert started.inventory == str((tmp_path / "inventory.yaml").resolve())
    assert started.drill_simulated is True
