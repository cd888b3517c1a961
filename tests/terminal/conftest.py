"""Fixtures for driving `sop run` in a real pseudo-terminal against the real sshd fixture hosts.

The sshd fixtures are the integration suite's (session-scoped; this folder gets its own
servers when both folders run in one session)."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ..integration.conftest import sshd_factory, sshd_hosts
from ..integration.rundir import RunDir
from ..integration.sshd import SshdHosts
from .session import Terminal, running

__all__ = ["nap", "rundir", "sshd_factory", "sshd_hosts", "terminal"]


@pytest.fixture
def rundir(tmp_path: Path, sshd_hosts: SshdHosts) -> RunDir:
    return RunDir.create(tmp_path / "runbooks", sshd_hosts)


@pytest.fixture
def terminal(rundir: RunDir) -> Iterator[Callable[..., Terminal]]:
    """`terminal(sop, *args)` starts `sop run SOP ARGS` in a pseudo-terminal; closed after."""
    started: list[Terminal] = []

    def start(sop: Path, *args: str, rundir: RunDir = rundir) -> Terminal:
        term = Terminal.spawn(rundir.args(sop, *args), cwd=rundir.path, env=rundir.env())
        started.append(term)
        return term

    yield start
    for term in started:
        term.close()


@pytest.fixture
def nap(tmp_path: Path) -> Iterator[Path]:
    """`sleep` under a name no other process has; whatever still runs it is killed after."""
    path = tmp_path / "nap"
    path.symlink_to("/bin/sleep")
    yield path
    for line in running(f"{path} "):
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(line.split()[0]), signal.SIGKILL)
