"""A run on 40 real hosts under a low limit on open files (`sop/run/openfiles.py`): sop raises
its soft limit to what the run needs before it connects, and when even the hard limit is too
low, fails before any host is contacted, saying what it needs."""

from __future__ import annotations

import resource
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from sop.run.openfiles import BASE, PER_HOST

from .rundir import SOP, RunDir
from .sshd import SshdHosts
from .test_preflight import accepted_logins
from .test_run_ssh import sop_yaml

HOSTS = 40
NEED = BASE + PER_HOST * HOSTS


@pytest.fixture
def fleet(tmp_path: Path, sshd_factory: Callable[[int], SshdHosts]) -> RunDir:
    hosts = sshd_factory(HOSTS)
    return RunDir.create(tmp_path / "runbooks", hosts, {"fleet": [h.name for h in hosts.hosts]})


def run_limited(
    rundir: RunDir, soft: int, hard: int, *more: str
) -> subprocess.CompletedProcess[str]:
    """`sop [--debug] run --yes` of the fleet SOP, its limit on open files set to soft/hard
    before it starts."""
    sop = rundir.write_sop(
        sop_yaml(
            "fleet",
            on=["fleet"],
            steps=[{"id": "everywhere", "run": "@MARK@ everywhere", "parallel": HOSTS}],
        )
    )

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

    return subprocess.run(
        [str(SOP), *more, *rundir.args(sop, "--yes")],
        cwd=rundir.path,
        env=rundir.env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=limit,
    )


def test_a_soft_limit_below_what_the_run_needs_is_raised_before_connecting(
    fleet: RunDir,
) -> None:
    # 30 open files: fewer than the fleet's sockets alone; the hard limit leaves room
    proc = run_limited(fleet, 30, NEED + 100, "--debug")

    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert sorted(fleet.marks()) == sorted(f"{h.name} everywhere" for h in fleet.hosts.hosts)
    raised = [line for line in proc.stderr.splitlines() if "LimitRaised" in line]
    assert len(raised) == 1, proc.stderr
    assert (
        f"limit='RLIMIT_NOFILE', soft_before=30, soft={NEED}, hard={NEED + 100}, hosts={HOSTS})"
        in raised[0]
    )


def test_a_hard_limit_too_low_fails_the_run_before_any_host_is_contacted(
    fleet: RunDir,
) -> None:
    logins = accepted_logins(fleet.hosts)

    proc = run_limited(fleet, 64, 64)

    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert fleet.marks() == []
    assert accepted_logins(fleet.hosts) == logins
    message = " ".join(proc.stdout.split())  # the terminal wraps it
    assert (
        f"this run needs {NEED} open files for its {HOSTS} remote host(s) ({PER_HOST} per host, "
        f"{BASE} besides), but the limit on open files is 64 and sop may not raise it further "
        "(`ulimit -Hn`): nothing was started on those hosts. Raise the hard limit (`nofile` in "
        "/etc/security/limits.conf, `LimitNOFILE=` for a systemd unit), or run on fewer hosts "
        "(--on)" in message
    )
