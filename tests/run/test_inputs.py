"""Start-up inputs: a value that does not fit its input is asked for again in an interactive
run (as a question asked during the run is), and ends a non-interactive one with the reason."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sop.errors import ExitCode
from sop.format.loader import load_sop
from sop.model import Sop
from sop.run.inputs import InputError, resolve_inputs
from sop.run.testing import ScriptedPrompter
from sop.templating import Placeholder

SOP_TEXT = """\
sop: 1
id: inputs
title: Inputs
owner: t
reviewed: 2026-11-20
inputs:
  host: {help: Host that alerted, required: true, pattern: '^[a-z0-9.-]+$'}
  mode: {help: How, choices: [fast, safe], default: safe}
  token: {help: API token, secret: true, env: TOKEN}
steps:
  - id: hello
    run: echo {{ host }} {{ mode }}
"""


@pytest.fixture
def sop(tmp_path: Path) -> Sop:
    path = tmp_path / "inputs.yaml"
    path.write_text(SOP_TEXT)
    return load_sop(path)


def test_a_bad_value_from_the_command_line_is_asked_again(sop: Sop) -> None:
    prompter = ScriptedPrompter(
        ("ask", "Host that alerted", "web 1"),
        ("ask", "Host that alerted", "web1"),
        ("ask", "How", "fast"),
    )
    resolved = resolve_inputs(
        sop,
        {"host": "web;reboot", "mode": "slow"},
        secret_files={},
        environ={"TOKEN": "s3cret-token"},
        asker=prompter,
    )
    assert (resolved.values, resolved.shown["host"]) == ({"host": "web1", "mode": "fast"}, "web1")
    assert prompter.warnings == [
        "input 'host': 'web;reboot' does not match ^[a-z0-9.-]+$",
        "input 'host': 'web 1' does not match ^[a-z0-9.-]+$",
        "input 'mode': 'slow' is not one of fast, safe",
    ]
    assert not prompter.script


def test_a_bad_secret_is_asked_again_without_showing_it(sop: Sop) -> None:
    prompter = ScriptedPrompter(("ask", "API token", "long-enough-token"))
    resolved = resolve_inputs(
        sop, {"host": "web1"}, secret_files={}, environ={"TOKEN": "short"}, asker=prompter
    )
    assert resolved.secrets == {"token": "long-enough-token"}
    assert prompter.warnings == [
        "input 'token': a secret must be at least 8 characters (to be masked safely)"
    ]


def test_without_anyone_to_ask_a_bad_value_ends_the_run_with_the_reason(sop: Sop) -> None:
    with pytest.raises(InputError) as refused:
        resolve_inputs(
            sop, {"host": "web;reboot"}, secret_files={}, environ={"TOKEN": "x" * 8}, asker=None
        )
    assert str(refused.value) == "input 'host': 'web;reboot' does not match ^[a-z0-9.-]+$"
    assert refused.value.exit_code == ExitCode.FAILED


def test_a_dry_runs_placeholder_passes_unchecked_and_the_same_text_as_a_value_does_not(
    sop: Sop,
) -> None:
    environ = {"TOKEN": "x" * 8}
    given = {"host": Placeholder("<answer:host>")}
    resolved = resolve_inputs(sop, given, secret_files={}, environ=environ, asker=None)
    assert resolved.values["host"] == "<answer:host>"
    assert isinstance(resolved.values["host"], Placeholder)
    with pytest.raises(InputError) as refused:
        resolve_inputs(sop, {"host": "<answer:host>"}, secret_files={}, environ=environ, asker=None)
    assert str(refused.value) == "input 'host': '<answer:host>' does not match ^[a-z0-9.-]+$"


def test_the_command_line_without_a_terminal_exits_1_before_anything_runs(
    tmp_path: Path, sop: Sop
) -> None:
    env = {**os.environ, "SOP_STATE_DIR": str(tmp_path / "state"), "TOKEN": "x" * 8}
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "sop"), "run", "--yes", str(sop.path), "-i", "host=a b"],
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
    )
    assert (proc.returncode, proc.stderr) == (
        1,
        "sop: error: input 'host': 'a b' does not match ^[a-z0-9.-]+$\n",
    )
    assert not (tmp_path / "state" / "runs").exists()
