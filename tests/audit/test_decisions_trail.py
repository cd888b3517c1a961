"""A run with a decision and a repeating section: what its audit log holds, and a resume in
the middle of the loop that follows the recorded choice and passes, never running a finished
pass again."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

SOP = Path(sys.executable).parent / "sop"

LOOP = """\
sop: 1
id: loop
title: Loop
steps:
  - heading: Choose
    id: choose
  - id: path
    decide: Poll or not?
    options:
      poll: poll
      skip: why-not
  - heading: Why not
    id: why-not
  - id: explain
    prose: Say why in the ticket.
  - heading: Poll
    id: poll
    repeat: {{until: "count | int >= 3", max: 5}}
  - id: count
    run: n=$(( $(cat {d}/n 2>/dev/null || echo 0) + 1 )); echo $n > {d}/n; echo $n
    capture: count
  - id: gate
    when: "count | int == 2"
    confirm: always
    run: touch {d}/gate
  - heading: Done
    id: done
  - id: finish
    run: touch {d}/finished
"""


def sop(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SOP), *args], capture_output=True, text=True, env=env)


def test_resume_in_the_middle_of_a_loop_follows_the_recorded_choice_and_passes(
    tmp_path: Path,
) -> None:
    env = {
        **os.environ,
        "SOP_STATE_DIR": str(tmp_path / "state"),
        "SOP_AUDIT_KEYS": str(tmp_path / "keys"),
        "COLUMNS": "200",
    }
    path = tmp_path / "loop.yaml"
    path.write_text(textwrap.dedent(LOOP.format(d=tmp_path)))
    first = sop(["run", "--yes", "-a", "path=poll", str(path)], env)
    assert first.returncode == 1  # pass 2's gate waits for a yes
    assert "step 4 (gate)" in first.stderr
    (run_dir,) = (tmp_path / "state" / "runs").iterdir()
    # no -a this time: the choice comes from the log
    resumed = sop(["resume", "--yes", "--confirm", "gate", run_dir.name], env)
    assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr
    assert (tmp_path / "n").read_text() == "3\n"  # passes 1 and 2 of `count` did not run again
    assert (tmp_path / "gate").exists() and (tmp_path / "finished").exists()
    records = [json.loads(line) for line in (run_dir / "audit.jsonl").read_text().splitlines()]
    decided = [r["sop"] for r in records if r["event"]["action"] == "decided"]
    assert [(d["step"], d["choice"], d["goto"], d["confirmation"]) for d in decided] == [
        ("path", "poll", ["poll"], "--answer")
    ]
    passed = [r["sop"] for r in records if r["event"]["action"] == "section-passed"]
    assert [(p["section"]["key"], p["choice"]) for p in passed] == [
        ("poll", "again"),
        ("poll@2", "again"),
        ("poll@3", "done"),
    ]
    skipped = [r["sop"] for r in records if r["event"]["action"] == "section-skipped"]
    assert [(x["section"]["id"], x["reason"]) for x in skipped] == [
        ("why-not", "not chosen by the decision at step 1 (path)")
    ]
    finished = [
        (r["sop"]["step"], r["sop"].get("round", 1), r["sop"]["outcome"])
        for r in records
        if r["event"]["action"] == "step-finished"
    ]
    assert finished == [
        ("path", 1, "done"),
        ("explain", 1, "skipped"),
        ("count", 1, "success"),
        ("gate", 1, "skipped"),
        ("count", 2, "success"),
        ("gate", 2, "success"),
        ("count", 3, "success"),
        ("gate", 3, "skipped"),
        ("finish", 1, "success"),
    ]
    assert sop(["audit", "verify", run_dir.name], env).returncode == 0
