"""With a secret input, a host's output still reaches the terminal while its command runs: a
line at once, a prompt without a newline after a short idle time (issue 14)."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from ..integration.rundir import RunDir
from .session import Terminal, run_on

SECRET = "hunter2-is-not-a-password"
SLOW = """\
sop: 1
id: slow
title: Test
owner: team
reviewed: 2026-11-01
inputs:
  token: {{help: API token, secret: true, env: OPS_TOKEN}}
steps:
  - id: slow
    on: {target}
    run: 'echo "first-$((1 + 1))"; printf "Pass%s" "word: "; sleep 3; echo "second-$((1 + 2))"'
"""


@pytest.mark.parametrize("target", ["h01", "local"])
def test_with_a_secret_input_output_shows_before_the_command_ends(
    rundir: RunDir, terminal: Callable[..., Terminal], target: str
) -> None:
    term = terminal(rundir.write_sop(SLOW.format(target=target), "slow.yaml"))
    term.answer("API token: ", SECRET)
    term.answer(run_on(target), "r")
    started = time.monotonic()

    term.expect("first-2\r\n", timeout=2)
    term.expect("Password: ", timeout=2)
    shown = time.monotonic() - started
    assert "second-3" not in term.transcript

    term.expect("second-3", timeout=10)
    ended = time.monotonic() - started
    assert term.exit_status() == 0
    assert shown < 1.5, f"shown after {shown:.2f}s"
    assert ended >= 3, f"the command ended after {ended:.2f}s"
