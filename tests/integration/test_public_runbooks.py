"""The public runbooks of runbooks/ run as written, with `sop run --yes`, over real SSH.

The fixture hosts are this machine (real OpenSSH on 127.0.0.x): linux-perf-60s runs the real
sysstat tools; etcd-insufficient-members runs the real etcdctl against a real three-member etcd
cluster on loopback with one member killed. A host's own environment (a `PATH` without sysstat,
`ETCDCTL_ENDPOINTS`) is set by its sshd, as a host's profile would set it.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import subprocess
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from sop.audit.reader import AuditEntry, read_run
from sop.audit.state import find_run_dir

from .rundir import REPO, SOP, RunDir
from .sshd import SshdHosts, free_port, start_hosts

PERF = REPO / "runbooks" / "linux-perf-60s.yaml"
ETCD = REPO / "runbooks" / "etcd-insufficient-members.yaml"
SYSSTAT = ("mpstat", "pidstat", "iostat", "sar")
NEED_SYSSTAT = ("mpstat", "pidstat", "iostat", "sar-dev", "sar-tcp")
ANSWERS = ("-a", "suspects=none", "-a", "cleared=cpu, memory, disks, network")


def run_id(proc: subprocess.CompletedProcess[str]) -> str:
    found = re.search(r"\brun (\d{8}T\d{6}-[0-9a-f]{8})\b", proc.stdout)
    assert found, proc.stdout + proc.stderr
    return found.group(1)


def entries(rundir: RunDir, proc: subprocess.CompletedProcess[str]) -> list[AuditEntry]:
    return read_run(find_run_dir(Path(rundir.env()["SOP_STATE_DIR"]), run_id(proc)))


def outcomes(log: Sequence[AuditEntry]) -> dict[str, str]:
    return {e.step_id: e.outcome for e in log if e.action == "step-finished"}


def host_output(log: Sequence[AuditEntry], step: str) -> tuple[str, int | None, str]:
    [entry] = [e for e in log if e.action == "host-finished" and e.step_id == step]
    return entry.host, entry.exit_code, entry.output_tail


def verify(rundir: RunDir, proc: subprocess.CompletedProcess[str]) -> None:
    folder = find_run_dir(Path(rundir.env()["SOP_STATE_DIR"]), run_id(proc))
    audit = rundir.sop(["audit", "verify", str(folder)])
    assert audit.returncode == 0, audit.stdout + audit.stderr


# -- linux-perf-60s ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def no_sysstat_hosts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshdHosts]:
    """One host whose PATH has every command of /usr/bin and /bin but the sysstat tools."""
    work = tmp_path_factory.mktemp("no-sysstat")
    bin_dir = work / "bin"
    bin_dir.mkdir()
    for folder in (Path("/bin"), Path("/usr/bin")):
        for tool in folder.iterdir():
            if tool.name not in SYSSTAT and not (bin_dir / tool.name).exists():
                (bin_dir / tool.name).symlink_to(tool)
    with start_hosts(1, work / "sshd", first_index=40, env={"PATH": str(bin_dir)}) as hosts:
        yield hosts


def test_linux_perf_60s_runs_on_two_hosts_and_finds_a_host_without_sysstat(
    tmp_path: Path, sshd_hosts: SshdHosts, no_sysstat_hosts: SshdHosts
) -> None:
    rundir = RunDir.create(tmp_path / "perf", sshd_hosts)
    bare = RunDir.create(tmp_path / "bare", no_sysstat_hosts, groups={})
    unattended = ("--skip", "top=interactive: nobody at a terminal (--yes)")
    # without sysstat the runbook says to skip the steps that need it
    no_sysstat = [f"--skip={step}=no sysstat" for step in NEED_SYSSTAT]
    runs = [
        (rundir, ("-i", "host=h01", *unattended)),
        (rundir, ("-i", "host=h02", *unattended)),
        (bare, ("-i", "host=h01", *unattended, *no_sysstat)),
    ]
    with ThreadPoolExecutor(len(runs)) as pool:  # the runs take 30 s each, mostly sampling
        procs = list(pool.map(lambda r: r[0].run(PERF, "--yes", *ANSWERS, *r[1]), runs))

    for (where, _), proc in zip(runs, procs, strict=True):
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
        verify(where, proc)
    for proc, host in zip(procs[:2], ("h01", "h02"), strict=True):
        log = entries(rundir, proc)
        assert outcomes(log) == {
            "sysstat": "success",
            "install-sysstat": "skipped",  # its `when` is false: every tool is there
            **dict.fromkeys(("uptime", "dmesg", "vmstat", "free"), "success"),
            **dict.fromkeys(NEED_SYSSTAT, "success"),
            "top": "skipped",
            "exonerated": "unattended",
            "follow-on": "unattended",
        }
        found = "".join(f"{shutil.which(tool)}\n" for tool in SYSSTAT)
        assert host_output(log, "sysstat") == (host, 0, found)
        assert "load average:" in host_output(log, "uptime")[2]
        assert "Average:" in host_output(log, "mpstat")[2]
        assert "Mem:" in host_output(log, "free")[2]
        assert "retrans/s" in host_output(log, "sar-tcp")[2]

    log = entries(bare, procs[2])
    missing = "".join(f"{tool}: not found\n" for tool in SYSSTAT)
    assert host_output(log, "sysstat") == ("h01", 1, missing)  # a finding: exit 1 is ok
    assert outcomes(log) == {
        "sysstat": "success",
        "install-sysstat": "unattended",  # the branch the finding implies
        **dict.fromkeys(("uptime", "dmesg", "vmstat", "free"), "success"),
        **dict.fromkeys(NEED_SYSSTAT, "skipped"),
        "top": "skipped",
        "exonerated": "unattended",
        "follow-on": "unattended",
    }
