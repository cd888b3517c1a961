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
from sop.events import SystemClock
from sop.run.launch import RunRequest, resume
from sop.run.options import RunOptions
from sop.run.resume import NothingToResume, plan_resume
from sop.run.testing import Recorder

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
            sop = r["sop"]
            assert isinstance(sop, dict)
            target = sop["target"]  # the host the command ran on (host.* is sop's own machine)
            assert isinstance(target, dict)
            out.add((str(sop["step"]), str(target["name"])))
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

    def start() -> tuple[subprocess.Popen[bytes], set[Path]]:
        """A run, once its run directory exists (kills land inside the run, not in Python's
        start-up), and the run directories before it."""
        before = set((state / "runs").iterdir()) if (state / "runs").exists() else set()
        proc = subprocess.Popen(
            [str(SOP), *chaos.args(sop, "--yes")],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        started = time.monotonic()
        while time.monotonic() - started < 10 and not (
            (state / "runs").exists() and set((state / "runs").iterdir()) - before
        ):
            time.sleep(0.005)
        return proc, before

    # how long a run lasts from its run directory to its end, to spread the kills over it
    calibration, _ = start()
    appeared = time.monotonic()
    assert calibration.wait() == 0
    window = time.monotonic() - appeared
    outcomes = {"torn": 0, "clean": 0, "finished": 0, "empty": 0}
    for _ in range(KILLS):
        proc, before = start()
        time.sleep(rng.uniform(0, window * 0.9))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        (run_dir,) = set((state / "runs").iterdir()) - before
        log = run_dir / "audit.jsonl"
        if not log.exists():  # killed before the first record: nothing may have run
            assert not [line for line in chaos.marks() if line.endswith(run_dir.name)]
            with pytest.raises(NothingToResume, match="before its audit log was written"):
                plan_resume(run_dir)
            outcomes["empty"] += 1
            continue
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
            inventory=(chaos.inventory,),
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
    # most kills landed inside the run (here: about 42 of 50 left a run to resume)
    assert outcomes["clean"] + outcomes["torn"] > KILLS / 2, outcomes
