"""`sop drill --sandbox INVENTORY` runs the commands for real against staging hosts, and the run
is still recorded as a drill."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from .rundir import SOP, RunDir, sop_env
from .sshd import SshdHosts

DRILLED = """\
sop: 1
id: staged
title: Staged
owner: t
reviewed: 2026-11-20
on: web
steps:
  - id: touch
    run: @MARK@ touch
    drill: {stdout: "simulated\\n"}
"""


def test_a_sandbox_drill_runs_for_real_and_is_recorded_as_a_drill(
    tmp_path: Path, sshd_hosts: SshdHosts
) -> None:
    folder = RunDir.create(tmp_path / "sandbox", sshd_hosts)
    sop = folder.write_sop(DRILLED)
    env = sop_env(SOP_STATE_DIR=str(tmp_path / "state"), SOP_AUDIT_KEYS=str(tmp_path / "keys"))
    args = [
        "drill",
        "--yes",
        str(sop),
        "--sandbox",
        str(folder.inventory),
        "--known-hosts",
        str(sshd_hosts.known_hosts),
        "--ssh-config",
        str(folder.ssh_config),
        "--report",
        str(tmp_path / "r"),
    ]
    proc = subprocess.run([str(SOP), *args], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert sorted(folder.marks()) == ["h01 touch", "h02 touch", "h03 touch"]
    assert "[h01] simulated" not in proc.stdout
    (run_dir,) = (tmp_path / "state" / "runs").iterdir()
    tags = {
        tuple(json.loads(line)["tags"])
        for line in (run_dir / "audit.jsonl").read_text().splitlines()
    }
    assert tags == {("drill",)}
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    assert report["outcome"] == "success"


def test_a_simulated_drill_of_the_same_sop_touches_no_host(
    tmp_path: Path, sshd_hosts: SshdHosts
) -> None:
    folder = RunDir.create(tmp_path / "simulated", sshd_hosts)
    sop = folder.write_sop(DRILLED)
    env = sop_env(SOP_STATE_DIR=str(tmp_path / "state"), SOP_AUDIT_KEYS=str(tmp_path / "keys"))
    proc = subprocess.run(
        [str(SOP), "drill", "--yes", str(sop), "--inventory", str(folder.inventory)],
        capture_output=True,
        text=True,
        env=env,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert folder.marks() == []
    assert all(f"[{h}] simulated" in proc.stdout for h in ("h01", "h02", "h03"))
