"""A real `sop run` in a pseudo-terminal tells the team's webhook and command, as the trusted
sop.toml names them: started, a step failed, finished; each delivery is in the audit log."""

from __future__ import annotations

import getpass
import json
import os
import subprocess
import sys
from pathlib import Path

from ..integration.rundir import SOP as SOP_PROGRAM
from ..webhook import webhook
from .session import FAILED, WHY_ABORT, Terminal, run_on

SOP = """\
sop: 1
id: restart
title: Restart the app
owner: team
reviewed: 2026-11-01
steps:
  - id: stop
    title: Stop the app
    run: exit 3
"""


def test_a_run_notifies_the_team_where_it_talks(tmp_path: Path) -> None:
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "xdg"), "SOP_STATE_DIR": "state"}
    env.pop("SOP_PATH", None)
    (tmp_path / "runbooks").mkdir()
    (tmp_path / "runbooks" / "restart.yaml").write_text(SOP)
    heard = tmp_path / "heard.jsonl"
    script = f"import sys; open({str(heard)!r}, 'a').write(sys.stdin.read() + '\\n')"
    with webhook() as hook:
        (tmp_path / "sop.toml").write_text(
            f'[[notify]]\nurl = "{hook.url}"\nformat = "slack"\n\n'
            f"[[notify]]\ncommand = {json.dumps([sys.executable, '-c', script])}\n"
            'events = ["step-failed"]\nname = "pager"\n'
        )
        subprocess.run([str(SOP_PROGRAM), "config", "trust"], cwd=tmp_path, env=env, check=True)

        term = Terminal.spawn(["run", "restart"], cwd=tmp_path, env=env)
        term.answer(run_on("local"), "r")
        term.answer(FAILED, "a")
        term.answer(WHY_ABORT, "app will not stop")
        assert term.exit_status() == 1

    [run_dir] = (tmp_path / "state" / "runs").iterdir()
    texts = [body["text"] for body in hook.received]
    assert texts == [
        f"sop: {getpass.getuser()} started restart (run {run_dir.name})",
        f"sop: step 1 (Stop the app) of restart (run {run_dir.name}) failed on local (exit 3)",
        f"sop: restart (run {run_dir.name}) finished: aborted (app will not stop)",
    ]
    [paged] = [json.loads(line) for line in heard.read_text().splitlines()]
    assert (paged["event"], paged["step"]["id"]) == ("step-failed", "stop")
    records = [json.loads(line) for line in (run_dir / "audit.jsonl").read_text().splitlines()]
    notes = [
        (r["sop"]["notification"]["event"], r["sop"]["notification"]["target"])
        for r in records
        if r["event"]["action"] == "notification" and r["event"]["outcome"] == "success"
    ]
    target = f"http://127.0.0.1:{hook.server.server_address[1]}"
    assert sorted(notes) == sorted(
        [
            ("run-started", target),
            ("step-failed", target),
            ("step-failed", "pager"),
            ("run-finished", target),
        ]
    )
    verified = subprocess.run(
        [str(SOP_PROGRAM), "audit", "verify", run_dir.name],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
