"""SIGKILL at random points of runs against real SSH hosts: every command a host received was
announced by an earlier durable record, the log verifies (or has only a torn tail), and resume
finishes the run."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest

from sop.audit.verify import verify_file
from sop.clock import SystemClock
from sop.launch import RunRequest, resume
from sop.runtypes import RunOptions
from tests.runner_helpers import Recorder

from .rundir import SOP, RunDir, sop_env
from .sshd import SshdHosts

KILLS = int(os.environ.get("SOP_SIGKILL_RUNS", "50"))

CHAOS = """\
sop: 1
id: chaos
title: Chaos
owner: t
reviewed: 2026-11-20
on: web
steps:
  - id: a
    run: @MARK@ a "$SOP_RUN_ID"
  - id: b
    on: h01
    script: |
      @MARK@ b "$SOP_RUN_ID"
      sleep 0.05
  - id: c
    run: @MARK@ c "$SOP_RUN_ID"
    parallel: 1
  - id: d
    on: local
    run: @MARK@ d "$SOP_RUN_ID"
"""


class RerunEverything:
    """A responder who confirms every step and runs steps in doubt again."""

    def choose(self, prompt: str, choices: object, default: str | None = None) -> str:
        return "r"

    def ask(self, question: object) -> str:
        raise AssertionError("no questions here")

    def text(self, prompt: str) -> str:
        return "resumed by the chaos test"

    def edit(self, command: str) -> str:
        return command


@pytest.fixture
def chaos(tmp_path: Path, sshd_hosts: SshdHosts) -> RunDir:
    return RunDir.create(tmp_path / "chaos", sshd_hosts)


def announced(records: list[dict[str, object]]) -> set[tuple[str, str]]:
    out = set()
    for r in records:
        event = r["event"]
        assert isinstance(event, dict)
        if event["action"] == "command-started":
            sop, host = r["sop"], r["host"]
            assert isinstance(sop, dict) and isinstance(host, dict)
            out.add((str(sop["step"]), str(host["name"])))
    return out


def test_sigkill_at_random_points(
    chaos: RunDir, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = tmp_path / "state"
    env = sop_env(SOP_STATE_DIR=str(state), SOP_AUDIT_KEYS=str(tmp_path / "keys"))
    for key in ("SOP_STATE_DIR", "SOP_AUDIT_KEYS"):
        monkeypatch.setenv(key, env[key])
    sop = chaos.write_sop(CHAOS)
    rng = random.Random(1234)
    # how long a whole run takes here, to spread the kills over it
    started = time.monotonic()
    subprocess.run([str(SOP), *chaos.args(sop, "--yes")], env=env, check=True, capture_output=True)
    whole = time.monotonic() - started
    outcomes = {"torn": 0, "clean": 0, "finished": 0, "empty": 0}
    for _ in range(KILLS):
        before = set((state / "runs").iterdir())
        proc = subprocess.Popen(
            [str(SOP), *chaos.args(sop, "--yes")],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        appeared = time.monotonic()
        while not set((state / "runs").iterdir()) - before and time.monotonic() - appeared < 10:
            time.sleep(0.005)  # the kill lands inside the run, not in Python's start-up
        time.sleep(rng.uniform(0, max(whole - 0.25, 0.05)))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        (run_dir,) = set((state / "runs").iterdir()) - before
        log = run_dir / "audit.jsonl"
        result = verify_file(log)
        assert result.ok or result.only_torn, result.findings
        records = [
            json.loads(line) for line in log.read_bytes().splitlines() if line.endswith(b"}")
        ]
        run_id = run_dir.name
        received = {
            (line.split()[1], line.split()[0]) for line in chaos.marks() if line.endswith(run_id)
        }
        assert received <= announced(records), (received - announced(records), run_id)
        if len(records) <= 1:  # killed before the first step: nothing ran, nothing to resume
            assert received == set()
            outcomes["empty"] += 1
            continue
        if any(r["event"]["action"] == "run-finished" for r in records):
            outcomes["finished"] += 1
            continue
        rec = Recorder()
        request = RunRequest(
            sop="",
            inventory=chaos.inventory,
            known_hosts=chaos.hosts.known_hosts,
            ssh_config=chaos.ssh_config,
            state_dir=state,
            options=RunOptions(operator="chaos"),
        )
        launched = resume(
            run_id,
            request,
            prompter=RerunEverything(),
            asker=None,
            sinks=[rec],
            clock=SystemClock(),
        )
        assert launched.result.outcome == "success", rec.events[-3:]
        outcomes["clean" if result.ok else "torn"] += 1
        assert verify_file(log).ok
        steps_marked = {line.split()[1] for line in chaos.marks() if line.endswith(run_id)}
        assert steps_marked == {"a", "b", "c", "d"}
    assert sum(outcomes.values()) == KILLS, outcomes
    assert outcomes["finished"] < KILLS / 2, outcomes  # most kills landed inside the run
