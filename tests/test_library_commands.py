"""The library's commands are real shell: every `run` and `script` step of every SOP, rendered
with its drill inputs (as a dry run renders it), parses with `sh -n`."""

from __future__ import annotations

import subprocess

import pytest

from sop import events as ev
from sop.executors import Executors
from sop.format.discovery import find_inventory, load_library
from sop.run.inputs import resolve_inputs
from sop.run.launch import callee_loader
from sop.run.options import DrillOptions, RunOptions
from sop.run.runner import Runner
from sop.run.testing import FakeClock, Recorder
from tests.conftest import REPO

LIBRARY = load_library([REPO / "runbooks"])


def rendered_commands(sop_id: str) -> list[tuple[str, str]]:
    sop = LIBRARY.by_id()[sop_id]
    inputs = resolve_inputs(sop, {}, secret_files={}, environ={}, asker=None, drill=True)
    recorder = Recorder()
    runner = Runner(
        sop,
        inputs,
        inventory=find_inventory(sop.path),
        prompter=None,
        executors=Executors({}),
        sinks=[recorder],
        clock=FakeClock(),
        environ={},
        load_callee=callee_loader(None),
        options=RunOptions(dry_run=True, drill=DrillOptions(), yes=True),
    )
    assert runner.run().outcome == "success"
    return [
        (e.step.number, e.command)
        for e in recorder.of(ev.StepShown)
        if e.command and e.step.kind in ("run", "script")
    ]


@pytest.mark.parametrize("sop_id", sorted(LIBRARY.by_id()))
def test_every_command_of_the_library_is_valid_shell(sop_id: str) -> None:
    commands = rendered_commands(sop_id)
    sop = LIBRARY.by_id()[sop_id]
    # a playbook of manual steps only (ransomware-playbook) has none
    runs = any(s.kind in ("run", "script") for s in (*sop.steps, *sop.rollback))
    assert bool(commands) == runs, "an SOP with run or script steps shows their commands"
    for number, command in commands:
        proc = subprocess.run(["sh", "-n", "-c", command], capture_output=True, text=True)
        assert proc.returncode == 0, f"step {number}: {proc.stderr}\n{command}"
