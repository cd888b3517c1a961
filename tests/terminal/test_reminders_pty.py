"""A real `sop run` in a pseudo-terminal asks for a status update on the SOP's clock: while a
long step runs it says one is due (between lines of the command's output), asks for it when
the step is done, records it in the audit log, and `sop report` lists it with its time."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from ..integration.rundir import SOP as SOP_PROGRAM
from .session import DONE, Terminal

SOP = """\
sop: 1
id: slow
title: A slow fix
owner: team
reviewed: 2026-11-01
severity: sev2
status_updates: {sev1: 1s, sev2: 1h}
steps:
  - id: drain
    title: Drain the node
    run: echo draining; sleep 2; echo drained
    confirm: never
  - id: check
    prose: Check the dashboard.
"""

UPDATE = "Status update for the team (Enter: none): "


def test_a_run_asks_for_a_status_update_when_one_is_due(tmp_path: Path) -> None:
    env = {**os.environ, "SOP_STATE_DIR": "state", "XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    env.pop("SOP_PATH", None)
    (tmp_path / "runbooks").mkdir()
    (tmp_path / "runbooks" / "slow.yaml").write_text(SOP)

    term = Terminal.spawn(["run", "slow", "--severity", "sev1"], cwd=tmp_path, env=env)
    term.expect("status updates every 1s of run time (sev1)")
    term.expect("draining")
    term.expect("Status update due")
    term.expect("(every 1s of run time): tell the team where things stand. sop asks for it when "
                "this step is done.")  # fmt: skip
    term.expect("drained")
    term.answer(UPDATE, "node out of the pool, no user impact")
    term.expect("status update recorded at ")
    term.answer(DONE, "d")
    assert term.exit_status() == 0
    shown = term.transcript
    # never in the middle of the command's output: the notice is a line of its own, between
    notice = shown.index("⏰ Status update due")
    assert shown.rindex("draining\n") < notice < shown.rindex("drained")  # the output's, not
    assert shown.rindex("drained") < shown.index(UPDATE) < shown.index(DONE)  # the command's

    [run_dir] = (tmp_path / "state" / "runs").iterdir()
    records = [json.loads(line) for line in (run_dir / "audit.jsonl").read_text().splitlines()]
    [update] = [r for r in records if r["event"]["action"] == "status-update"]
    status = update["sop"]["status"]
    assert (status["text"], status["how"], status["every"], status["severity"]) == (
        "node out of the pool, no user impact",
        "given",
        1.0,
        "sev1",
    )
    assert status["due"] <= update["@timestamp"]
    assert update["sop"]["step"] == "check"  # asked before the next step
    started = records[0]["sop"]
    assert (started["severity"], started["status"]) == ("sev1", {"every": 1.0})

    report = subprocess.run(
        [str(SOP_PROGRAM), "report", run_dir.name],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    updates = report.split("## Status updates\n\n")[1].strip().splitlines()
    who = update["sop"]["operator"]
    assert updates == [f"- {update['@timestamp']} ({who}): node out of the pool, no user impact"]
