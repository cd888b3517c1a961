"""At a terminal, a start-up input given a value that does not fit is asked for again."""

from __future__ import annotations

from pathlib import Path

import pexpect

from ..integration.rundir import SOP, sop_env
from .session import TIMEOUT, run_on

SOP_TEXT = """\
sop: 1
id: reask
title: Re-ask
owner: t
reviewed: 2026-11-20
inputs:
  host: {help: Host that alerted, required: true, pattern: '^[a-z0-9.-]+$'}
steps:
  - id: hello
    run: echo "hello {{ host }}"
"""


def test_a_bad_input_from_the_command_line_is_asked_again(tmp_path: Path) -> None:
    path = tmp_path / "reask.yaml"
    path.write_text(SOP_TEXT)
    env = sop_env(SOP_STATE_DIR=str(tmp_path / "state"), SOP_AUDIT_KEYS=str(tmp_path / "keys"))
    child = pexpect.spawn(
        str(SOP),
        ["run", str(path), "-i", "host=web 1"],
        cwd=str(tmp_path),
        env=env,
        encoding="utf-8",
        timeout=TIMEOUT,
        dimensions=(50, 200),
    )
    child.expect_exact("input 'host': 'web 1' does not match ^[a-z0-9.-]+$")
    child.expect_exact("Host that alerted: ")
    child.sendline("web1")
    child.expect_exact(run_on("local"))
    child.sendline("r")
    child.expect_exact("hello web1")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
