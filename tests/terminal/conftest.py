"""Fixtures for driving `sop run` in a real pseudo-terminal against the real sshd fixture hosts.

The sshd fixtures are the integration suite's (session-scoped; this folder gets its own
servers when both folders run in one session)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ..integration.conftest import sshd_factory, sshd_hosts
from ..integration.rundir import RunDir
from ..integration.sshd import SshdHosts
from .session import Terminal

__all__ = ["rundir", "sshd_factory", "sshd_hosts", "terminal"]


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
