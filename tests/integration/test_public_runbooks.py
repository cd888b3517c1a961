"""The public runbooks of runbooks/ run as written, with `sop run --yes`, over real SSH.

The fixture hosts are this machine (real OpenSSH on 127.0.0.x): linux-perf-60s runs the real
sysstat tools; etcd-insufficient-members runs the real etcdctl against a real three-member etcd
cluster on loopback with one member killed. A host's own environment (a `PATH` without sysstat,
`ETCDCTL_ENDPOINTS`) is set by its sshd, as a host's profile would set it.
"""

from __future__ import annotations

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

from .rundir import REPO, RunDir
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


# -- etcd-insufficient-members ------------------------------------------------------------


class Etcd:
    """A real etcd cluster of `size` members on 127.0.0.1, each in its own data directory."""

    def __init__(self, workdir: Path, size: int = 3) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        ports = iter_free_ports(2 * size)
        self.names = [f"m{i + 1}" for i in range(size)]
        self.client = {name: f"http://127.0.0.1:{next(ports)}" for name in self.names}
        self.peer = {name: f"http://127.0.0.1:{next(ports)}" for name in self.names}
        cluster = ",".join(f"{name}={self.peer[name]}" for name in self.names)
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        for name in self.names:
            with (workdir / f"{name}.log").open("wb") as log:
                self.processes[name] = subprocess.Popen(
                    [
                        "etcd",
                        f"--name={name}",
                        f"--data-dir={workdir / name}",
                        f"--listen-client-urls={self.client[name]}",
                        f"--advertise-client-urls={self.client[name]}",
                        f"--listen-peer-urls={self.peer[name]}",
                        f"--initial-advertise-peer-urls={self.peer[name]}",
                        f"--initial-cluster={cluster}",
                        "--initial-cluster-state=new",
                    ],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )

    def healthy(self) -> bool:
        health = subprocess.run(
            ["etcdctl", f"--endpoints={self.client['m1']}", "endpoint", "health", "--cluster"],
            capture_output=True,
            env={"ETCDCTL_API": "3", "PATH": "/usr/bin:/bin"},
        )
        return health.returncode == 0

    def kill(self, name: str) -> None:
        self.processes[name].kill()
        self.processes[name].wait(timeout=10)

    def close(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)


def iter_free_ports(count: int) -> Iterator[int]:
    seen: set[int] = set()
    while len(seen) < count:
        seen.add(free_port(["127.0.0.1"]))
    return iter(sorted(seen))


@pytest.fixture
def etcd(tmp_path: Path) -> Iterator[Etcd]:
    cluster = Etcd(tmp_path / "etcd-data")
    try:
        deadline = time.monotonic() + 20
        while not cluster.healthy():
            assert time.monotonic() < deadline, "the etcd cluster did not become healthy"
            time.sleep(0.2)
        yield cluster
    finally:
        cluster.close()


def test_etcd_with_one_member_down_is_a_finding_and_takes_the_replace_member_branch(
    tmp_path: Path, etcd: Etcd
) -> None:
    etcd.kill("m3")
    env = {"ETCDCTL_ENDPOINTS": etcd.client["m1"], "ETCDCTL_DIAL_TIMEOUT": "1s"}
    with start_hosts(2, tmp_path / "sshd", first_index=44, env=env) as hosts:
        rundir = RunDir.create(tmp_path / "etcd", hosts, groups={})
        proc = rundir.run(
            ETCD,
            "--yes",
            "-i",
            "survivor=h01",
            "-i",
            "member=h02",
            "-a",
            "quorum=yes, quorum holds",
        )

        assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr
        assert "--yes stopped at step" in proc.stdout and "(add-member)" in proc.stdout
        verify(rundir, proc)
    log = entries(rundir, proc)
    host, exit_code, table = host_output(log, "health")
    assert (host, exit_code) == ("h01", 1)  # etcdctl's own status: a finding, not a failure
    cells = [row.split("|") for row in table.splitlines() if "127.0.0.1" in row]
    health = {row[1].strip(): row[2].strip() for row in cells if len(row) > 3}
    assert health == {
        etcd.client["m1"]: "true",
        etcd.client["m2"]: "true",
        etcd.client["m3"]: "false",
    }, table
    assert host_output(log, "members")[1] == 0
    assert all(name in host_output(log, "members")[2] for name in etcd.names)
    [decision] = [e for e in log if e.step_id == "quorum" and e.goto]
    assert (decision.choice, decision.goto) == ("yes, quorum holds", ("replace-member",))
    assert outcomes(log) == {
        "health": "success",
        "members": "success",
        "quorum": "done",  # answered with -a
        "remove-member": "unattended",
    }
