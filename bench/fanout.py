"""Fan-out: one command (`hostname; echo ok`) on 1 to 250 real sshd hosts, whole process.

Timed in interleaved rounds, for the same hosts and command:

- `sop run --yes` of a one-step SOP (`parallel` = the host count) and of a five-step SOP;
- the bare fabric `ThreadingGroup` script (bench/fabric_group.py), one and five commands;
- the OpenSSH client, one `ssh` per host via `xargs -P N`: with its default key exchange (the
  post-quantum sntrup761x25519 on OpenSSH 9.x, much more CPU per host) and with curve25519, the
  key exchange paramiko negotiates: the floor for this work on this machine (issue 18);
- `ansible gN -m shell -f N` (bench/.venv) in its best configuration: pipelining,
  ControlPersist, the control masters warmed by an untimed round.

At 128 and 250 hosts (issue 18's scale), only `sop run`, fabric and OpenSSH with curve25519 are
timed, 3 runs each: Ansible takes 11 s at 64 hosts and grows linearly, the five-step and
default-key-exchange variants add nothing there, and `make bench` must stay short. One more
`sop run` at the largest size, whose command sleeps a second, is watched through /proc: its
open files, threads and virtual size, for "Beyond one machine".

The hosts are the sshd fixture of the integration tests (tests/integration/sshd.py): one fixture
of the largest size, each size using its first N hosts. Every SSH client trusts only the
fixture's known_hosts except fabric, which is run bare (it checks no host key at all).
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import yaml

from bench import beyond
from bench.beyond import Usage
from bench.common import (
    BENCH_BIN,
    PYTHON,
    REPO,
    SOP,
    Section,
    Series,
    Target,
    fmt,
    interleave,
    markdown_table,
    sop_on_hosts,
)
from bench.common import progress as note
from tests.integration.sshd import SshdHosts, start_hosts

COMMAND = "hostname; echo ok"
CURVE = "ssh via xargs -P, curve25519"
STEPS = 5
SIZES = (1, 8, 32, 64, 128, 250)
LARGE = 128  # from this size on: sop, fabric and OpenSSH curve25519 only, LARGE_RUNS runs
LARGE_RUNS = 3
AT_LARGE = ("sop run", "fabric ThreadingGroup", CURVE)
FLAT_FROM = 8  # CPU per host is compared from this size to the largest


def watch(argv: Sequence[str], env: dict[str, str], cwd: Path, hosts: int) -> Usage:
    """Run `argv`, reading its open files, threads and memory every 20 ms; the peaks."""
    process = subprocess.Popen(
        list(argv), env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL
    )
    files = threads = 0
    virtual = resident = 0
    while process.poll() is None:
        try:
            count = len(os.listdir(f"/proc/{process.pid}/fd"))
            status = Path(f"/proc/{process.pid}/status").read_text()
        except OSError:
            break
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        files = max(files, count)
        threads = max(threads, int(fields.get("Threads", "0")))
        virtual = max(virtual, int(fields.get("VmSize", "0 kB").split()[0]))
        resident = max(resident, int(fields.get("VmRSS", "0 kB").split()[0]))
        time.sleep(0.02)
    if process.wait() != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {process.returncode}")
    return Usage(hosts, files, threads, virtual / 1024, resident / 1024)


def sop_file(path: Path, group: str, count: int, steps: int, command: str = COMMAND) -> Path:
    data = {
        "sop": 1,
        "id": path.stem,
        "title": f"Bench: {steps} step(s) on {count} host(s)",
        "owner": "team-bench",
        "reviewed": dt.date.today().isoformat(),
        "on": group,
        "steps": [
            {"id": f"s{n + 1}", "run": command, "confirm": "never", "parallel": count}
            for n in range(steps)
        ],
    }
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def ansible_files(fixture: SshdHosts, work: Path, sizes: Sequence[int]) -> dict[str, str]:
    """An INI inventory, an ansible.cfg for the best configuration; returns the environment."""
    lines = ["[all]"]
    for h in fixture.hosts:
        lines.append(
            f"{h.name} ansible_host={h.address} ansible_port={h.port} "
            f"ansible_user={fixture.user} ansible_ssh_private_key_file={fixture.client_key}"
        )
    for n in sizes:
        lines += ["", f"[g{n}]", *(h.name for h in fixture.hosts[:n])]
    (work / "hosts.ini").write_text("\n".join(lines) + "\n")
    control = Path(tempfile.mkdtemp(prefix="cp", dir="/tmp"))  # short: socket paths are limited
    (work / "ansible.cfg").write_text(
        "[defaults]\n"
        f"inventory = {work / 'hosts.ini'}\n"
        "host_key_checking = True\n"
        "interpreter_python = /usr/bin/python3\n"
        "gathering = explicit\n"
        "retry_files_enabled = False\n"
        f"local_tmp = {work / 'ansible-tmp'}\n"
        "[ssh_connection]\n"
        "pipelining = True\n"
        "ssh_args = -o ControlMaster=auto -o ControlPersist=600s -o BatchMode=yes "
        f"-o IdentitiesOnly=yes -o UserKnownHostsFile={fixture.known_hosts}\n"
        f"control_path_dir = {control}\n"
    )
    return {
        "ANSIBLE_CONFIG": str(work / "ansible.cfg"),
        "ANSIBLE_HOME": str(work / "ansible-home"),
        "ANSIBLE_NOCOLOR": "1",
        "_CONTROL_DIR": str(control),
    }


def stop_control_masters(control_dir: Path) -> None:
    for sock in control_dir.glob("*"):
        subprocess.run(
            ["ssh", "-o", f"ControlPath={sock}", "-O", "exit", "x"],
            capture_output=True,
            timeout=10,
        )
    shutil.rmtree(control_dir, ignore_errors=True)


def logins(fixture: SshdHosts) -> int:
    """How many SSH logins the fixture's servers have accepted so far."""
    return sum(
        log.read_text(errors="replace").count("Accepted publickey")
        for log in fixture.workdir.glob("sshd.main*.log")
    )


def bench(runs: int, sizes: Sequence[int] = SIZES, smoke: bool = False) -> list[Section]:
    """The fan-out section and, from the same measurements, "Beyond one machine"."""
    with_ansible = not smoke and (BENCH_BIN / "ansible").exists()
    work = Path(tempfile.mkdtemp(prefix="sop-bench-fanout-"))
    fixture = start_hosts(max(sizes), work / "sshd")
    ansible_env: dict[str, str] = {}
    try:
        hosts_for_sop = sop_on_hosts(fixture, work, sizes)
        env = hosts_for_sop.env
        if with_ansible:
            ansible_env = ansible_files(fixture, work, sizes)
            env.update({k: v for k, v in ansible_env.items() if not k.startswith("_")})
        sop_args = hosts_for_sop.args
        results: dict[int, dict[str, Series]] = {}
        reuse: tuple[int, int] = (0, 0)
        hosts_cpu: tuple[int, dict[str, float]] = (0, {})
        for n in sizes:
            hosts = fixture.hosts[:n]
            one = sop_file(work / f"fanout-{n}.yaml", f"g{n}", n, 1)
            five = sop_file(work / f"fanout-{n}-x{STEPS}.yaml", f"g{n}", n, STEPS)
            fabric = [
                str(PYTHON),
                str(REPO / "bench" / "fabric_group.py"),
                "--port",
                str(fixture.port),
                "--user",
                fixture.user,
                "--key",
                str(fixture.client_key),
                *(h.address for h in hosts),
            ]
            names = " ".join(h.name for h in hosts)
            variants: dict[str, list[str]] = {
                "sop run": [str(SOP), "run", str(one), *sop_args],
                "fabric ThreadingGroup": fabric,
                "ssh via xargs -P": [
                    "sh",
                    "-c",
                    f"printf '%s\\n' {names} | xargs -P {n} -I@ "
                    f"ssh -F {fixture.ssh_config} -o BatchMode=yes @ '{COMMAND}' >/dev/null",
                ],
                CURVE: [
                    "sh",
                    "-c",
                    f"printf '%s\\n' {names} | xargs -P {n} -I@ "
                    f"ssh -F {fixture.ssh_config} -o BatchMode=yes "
                    f"-o KexAlgorithms=curve25519-sha256 @ '{COMMAND}' >/dev/null",
                ],
            }
            if n >= LARGE:
                variants = {name: variants[name] for name in AT_LARGE}
            if not smoke and n < LARGE:
                variants[f"sop run, {STEPS} steps"] = [str(SOP), "run", str(five), *sop_args]
                variants[f"fabric, {STEPS} commands"] = [
                    *fabric[:2],
                    "--steps",
                    str(STEPS),
                    *fabric[2:],
                ]
            if with_ansible and n < LARGE:
                variants["ansible (pipelining, ControlPersist)"] = [
                    str(BENCH_BIN / "ansible"),
                    f"g{n}",
                    "-m",
                    "shell",
                    "-a",
                    COMMAND,
                    "-f",
                    str(n),
                ]
            n_runs = min(runs, LARGE_RUNS) if n >= LARGE else runs
            if n <= FLAT_FROM and not smoke:
                # CPU per further host at FLAT_FROM hosts is a difference of two runs' CPU (7
                # hosts' worth, 40 ms, against 7-11 ms of noise a run): 3x the runs, 1 min more
                n_runs = 3 * runs
            note(f"fan-out: {n} host(s), {len(variants)} variants x {n_runs} runs")
            results[n] = interleave(variants, n_runs, env=env, cwd=work, warmup=0 if smoke else 1)
            if n == max(n for n in sizes if n < LARGE):
                time.sleep(1)  # sshd writes its log lines after the client has gone
                before = logins(fixture)
                subprocess.run(
                    [str(SOP), "run", str(five), *sop_args],
                    env=env,
                    cwd=work,
                    check=True,
                    capture_output=True,
                )
                time.sleep(1)
                reuse = (n, logins(fixture) - before)
                compared = ("sop run", "fabric ThreadingGroup", *FIVE)
                hosts_cpu = (
                    n,
                    served_per_run(
                        fixture, {k: v for k, v in variants.items() if k in compared}, env, work
                    ),
                )
        flat = flat_spans(sizes)
        note(f"fan-out: CPU per added host, `sop run` on {flat} hosts interleaved x {runs} runs")
        flat_cpu = interleave(
            {f"{n}": [str(SOP), "run", str(work / f"fanout-{n}.yaml"), *sop_args] for n in flat},
            runs,
            env=env,
            cwd=work,
            warmup=0 if smoke else 1,
        )
        big = max(sizes)
        slow = sop_file(work / f"slow-{big}.yaml", f"g{big}", big, 1, f"sleep 1; {COMMAND}")
        note(f"fan-out: {big} host(s), open files, threads and memory of `sop run`")
        served = fixture.served_cpu()
        usage = watch([str(SOP), "run", str(slow), *sop_args], env, work, big)
        time.sleep(1)  # each connection's sshd is reaped, its CPU counted, after the client left
        served = fixture.served_cpu() - served
        section = _section(results, sizes, runs, reuse, with_ansible)
        after = next(
            (i + 1 for i, t in enumerate(section.targets) if t.area.startswith("scale")),
            len(section.targets),
        )
        section.targets[after:after] = _flatness({int(n): v.cpu for n, v in flat_cpu.items()})
        section.notes.append(
            f"CPU per added host for the flatness target: `sop run` on {', '.join(flat_cpu)} "
            f"hosts, the sizes interleaved in each of {runs} rounds (median CPU: "
            + ", ".join(f"{n} hosts {v.cpu:.2f} s" for n, v in flat_cpu.items())
            + "), so that a machine running slower for a while (a neighbour on the host) "
            "weighs on every size alike; the size-by-size runs above took minutes apart."
        )
        section.notes.append(_hosts_floor(results, big, served))
        if hosts_cpu[1]:
            section.notes.append(_hosts_cost(*hosts_cpu))
        section.notes.append(
            f"`sop run` on {big} hosts, watched through /proc (its command sleeps 1 s): "
            f"{usage.open_files} open files, {usage.threads} threads, "
            f"{usage.virtual_mb:,.0f} MB virtual size, {usage.resident_mb:.0f} MB resident at "
            "the peak. Open files: one socket per host and a few besides; threads: two per "
            "host (its fan-out thread, paramiko's transport thread); the virtual size is "
            "mostly the threads' stacks (8 MB of address space each, not memory). sop raises "
            "its soft limit on open files to what a run needs (`sop/run/openfiles.py`, "
            "docs/run.md#large-fleets)."
        )
        return [section, beyond.section(results, sizes, usage, smoke)]
    finally:
        fixture.close()
        if ansible_env:
            stop_control_masters(Path(ansible_env["_CONTROL_DIR"]))
        shutil.rmtree(work, ignore_errors=True)


def _section(
    results: dict[int, dict[str, Series]],
    sizes: Sequence[int],
    runs: int,
    reuse: tuple[int, int],
    with_ansible: bool,
) -> Section:
    mid = max(n for n in sizes if n < LARGE)  # issue 7's and 18's one-command targets
    big = max(sizes)
    rows = []
    for name in results[sizes[0]]:
        row = [name]
        for n in sizes:
            row.append(f"{results[n][name].wall:.2f}" if name in results[n] else "-")
        row.append(f"{results[mid][name].cpu / mid * 1000:.0f}")
        rows.append(row)
    ratio_rows = []
    for n in sizes:
        r = results[n]
        sop = r["sop run"].wall
        cells = [str(n), fmt(sop / r["fabric ThreadingGroup"].wall)]
        cells.append(fmt(sop / r["ssh via xargs -P"].wall) if "ssh via xargs -P" in r else "-")
        cells.append(fmt(sop / r[CURVE].wall))
        if f"sop run, {STEPS} steps" in results[sizes[0]]:
            if f"sop run, {STEPS} steps" in r:
                five = r[f"sop run, {STEPS} steps"].wall
                cells += [fmt(five / r[f"fabric, {STEPS} commands"].wall), fmt(five / sop)]
            else:
                cells += ["-", "-"]
        if with_ansible:
            ansible = r.get("ansible (pipelining, ControlPersist)")
            cells.append(fmt(ansible.wall / sop) if ansible else "-")
        ratio_rows.append(cells)
    ratio_headers = ["hosts", "sop / fabric", "sop / ssh", "sop / ssh curve25519"]
    if f"sop run, {STEPS} steps" in results[sizes[0]]:
        ratio_headers += [f"sop {STEPS} steps / fabric {STEPS}", f"sop {STEPS} steps / 1 step"]
    if with_ansible:
        ratio_headers.append("ansible / sop")
    rss = results[big]["sop run"].max_rss_mb
    large = [n for n in sizes if n >= LARGE]
    small_runs = len(results[min(sizes)]["sop run"].samples)
    notes = [
        f"Median wall seconds of the whole process over {runs} interleaved runs"
        + (
            f" ({min(runs, LARGE_RUNS)} at {' and '.join(map(str, large))} hosts, where only "
            "`sop run`, fabric and OpenSSH with curve25519 run: Ansible beyond 64 hosts is too "
            "slow for `make bench`, 11 s a run at 64 and growing linearly)"
            if large
            else ""
        )
        + (
            f", {small_runs} at {FLAT_FROM} hosts and fewer (the CPU per further host there is "
            "a small difference of two noisy numbers)"
            if small_runs != runs
            else ""
        )
        + f"; `CPU ms/host` is the client's user+system CPU at {mid} hosts divided by {mid}.",
        "Ratios (same run):\n\n" + _indent(markdown_table(ratio_headers, ratio_rows)),
        "CPU per added host, ms, between two sizes: (CPU(N hosts) - CPU(M hosts)) / (N - M). "
        "The 1-host run's CPU is the start-up (interpreter, imports, the SOP, the audit log, "
        "one host): a fixed cost that, divided by N, would make any client look cheaper per "
        "host the more hosts it has; what an added host costs is what must stay flat. Between "
        "close sizes it is a small difference of two noisy numbers (1 to 8 hosts: 7 hosts' "
        "worth, 20-50 ms, against 10-20 ms of noise a run); the flatness target compares two "
        f"wide spans, {FLAT_FROM} to the middle size and the middle size to the largest."
        "\n\n" + _indent(markdown_table(*_per_host_table(results, sizes))),
        f"Peak RSS of `sop run` on {big} hosts: {rss:.0f} MB.",
    ]
    notes += _gap_notes(results, sizes, mid)
    if reuse[1]:
        notes.append(
            f"A {STEPS}-step `sop run` on {reuse[0]} hosts made {reuse[1]} SSH logins "
            f"({reuse[1] / reuse[0]:.2f} per host): connections are reused across steps."
        )
    targets: list[Target] = []
    for n in sizes:
        if n < 32 or n >= LARGE:
            continue
        r = results[n]
        targets.append(
            Target(
                "fan-out",
                f"`sop run` / fabric ThreadingGroup, {n} hosts",
                r["sop run"].wall / r["fabric ThreadingGroup"].wall,
                1.3,
            )
        )
        if with_ansible:
            targets.append(
                Target(
                    "fan-out",
                    f"best Ansible / `sop run`, {n} hosts",
                    r["ansible (pipelining, ControlPersist)"].wall / r["sop run"].wall,
                    5,
                    at_most=False,
                )
            )
    first = min(sizes)
    if len(sizes) > 1:
        targets.append(
            Target(
                "fan-out",
                f"`sop run`: time({mid} hosts) / time({first} host)",
                results[mid]["sop run"].wall / results[first]["sop run"].wall,
                4,
            )
        )
    targets += _round_two(results, mid)
    if reuse[1]:
        targets.append(
            Target(
                "fan-out", f"SSH logins per host, {STEPS}-step SOP", reuse[1] / reuse[0], 1, unit=""
            )
        )
    targets += _scale(results, sizes)
    area = "memory #18" if big >= LARGE else "memory"
    targets.append(Target(area, f"peak RSS, `sop run` on {big} hosts", rss, 150, unit=" MB"))
    return Section(
        "Fan-out: `hostname; echo ok` on N hosts",
        ["command", *(f"{n} host(s), s" for n in sizes), f"CPU ms/host, {mid}"],
        rows,
        notes,
        targets,
    )


def _gap_notes(results: dict[int, dict[str, Series]], sizes: Sequence[int], mid: int) -> list[str]:
    """Where sop's time over fabric's goes, and what time(N)/time(1) says of each client, from
    this run's numbers (issue 18's targets against fabric and the 250/1 ratio)."""
    if 1 not in results or mid <= 1:
        return []
    sop1, fab1 = results[1]["sop run"], results[1]["fabric ThreadingGroup"]
    sop, fab = results[mid]["sop run"], results[mid]["fabric ThreadingGroup"]
    start_cpu = sop1.cpu - fab1.cpu
    per_host = (
        per_host_cpu(results, "sop run", mid) - per_host_cpu(results, "fabric ThreadingGroup", mid)
    ) * (mid - 1)
    notes = [
        f"Where `sop run`'s time over fabric's goes at {mid} hosts ({sop.wall - fab.wall:+.2f} s "
        f"wall, {sop.cpu - fab.cpu:+.2f} s CPU): its start-up, {start_cpu:+.2f} s of CPU at one "
        f"host ({sop1.cpu:.2f} against {fab1.cpu:.2f} s: the CLI, the SOP read and linted, the "
        "inventory, the audit log and its keys, the terminal, against a script that only "
        f"imports fabric), and its further hosts, {per_host:+.2f} s. The start-up runs before "
        "any host is reached, on one core, so it adds to the wall time whole; fabric's and "
        "sop's SSH work per host is the same paramiko code. `sop run` at or under fabric's "
        f"time needs its start-up at or under a bare script's: the {start_cpu:.2f} s is what "
        "stands between them."
    ]
    big = max(sizes)
    if big > mid:
        ratios = [
            f"{name} {results[big][name].wall / results[1][name].wall:.1f}x" for name in AT_LARGE
        ]
        notes.append(
            f"time({big} hosts) / time(1 host), each client: {', '.join(ratios)}. The ratio is "
            "smaller the slower a client starts (its time at one host is the divisor): the "
            f"OpenSSH client, the fastest at one host, has the largest. Here the {big} hosts' "
            "sshd share the client's two cores, so their CPU bounds every client's time at "
            f"{big} hosts from below."
        )
    return notes


FIVE = (f"sop run, {STEPS} steps", f"fabric, {STEPS} commands")


def served_per_run(
    fixture: SshdHosts,
    variants: dict[str, list[str]],
    env: dict[str, str],
    cwd: Path,
    runs: int = 3,
) -> dict[str, float]:
    """The CPU the hosts' sshd spend serving one run of each variant (median of `runs`, each
    run alone): what a client's way of running a command costs the hosts."""
    spent: dict[str, float] = {}
    for name, argv in variants.items():
        samples = []
        for _ in range(runs):
            before = fixture.served_cpu()
            subprocess.run(argv, env=env, cwd=cwd, check=True, capture_output=True)
            time.sleep(0.5)  # each connection's sshd is reaped, its CPU counted
            samples.append(fixture.served_cpu() - before)
        spent[name] = statistics.median(samples)
    return spent


def _hosts_cost(n: int, spent: dict[str, float]) -> str:
    """What sop's way of running a command costs the hosts, against fabric's."""
    sop, fabric = spent["sop run"], spent["fabric ThreadingGroup"]
    text = (
        f"The hosts' sshd CPU for one run on {n} hosts (median of 3, each run alone): "
        f"`sop run` {sop:.2f} s, fabric {fabric:.2f} s"
    )
    if all(name in spent for name in FIVE):
        five, fab5 = (spent[name] for name in FIVE)
        extra = (five - fab5 - (sop - fabric)) / (n * (STEPS - 1)) * 1000
        text += (
            f"; {STEPS} steps {five:.2f} s against {fab5:.2f} s: each further command costs a "
            f"host {extra:.1f} ms more CPU under sop"
        )
    return text + (
        ". sop's wrapper (`/bin/sh -s` reads the step's environment and text, and runs the "
        "step in a `/bin/sh` of its own, so that TERM reaches the step's processes and `$0` "
        "names the step in its errors) costs the host more than fabric's login shell running "
        "the command itself; here the hosts share the client's cores, so it shows in the wall "
        "time."
    )


def _hosts_floor(results: dict[int, dict[str, Series]], big: int, served: float) -> str:
    """What the hosts' own sshd cost, and sop's own CPU on top, bound time(big) / time(1) by
    on this machine's cores (both share them)."""
    cores = os.cpu_count() or 1
    one = results[1]["sop run"].wall
    client = results[big]["sop run"].cpu
    hosts_only, with_sop = served / cores, (served + client) / cores
    return (
        f"The {big} hosts' sshd used {served:.2f} s of CPU serving one `sop run` "
        f"({served / big * 1000:.0f} ms a host: key exchange, authentication, a shell), on "
        f"the {cores} cores the client shares with them: no client can finish on {big} hosts "
        f"here in under {hosts_only:.2f} s, {hosts_only / one:.1f}x `sop run`'s time at one "
        f"host ({one:.2f} s); with `sop run`'s own {client:.2f} s of CPU on the same cores, "
        f"under {with_sop:.2f} s, {with_sop / one:.1f}x. time({big}) / time(1) <= 8 needs the "
        f"client's whole CPU on {big} hosts under {max(0.0, 8 * one * cores - served):.2f} s "
        "here, whatever the client."
    )


def per_host_cpu(results: dict[int, dict[str, Series]], name: str, n: int, m: int = 1) -> float:
    """Seconds of CPU each host added from `m` to `n` hosts costs (from 1: beyond the first)."""
    return (results[n][name].cpu - results[m][name].cpu) / (n - m)


def _per_host_table(
    results: dict[int, dict[str, Series]], sizes: Sequence[int]
) -> tuple[list[str], list[list[str]]]:
    spans = list(itertools.pairwise(sizes))
    rows = [
        [name, *(f"{per_host_cpu(results, name, n, m) * 1000:.1f}" for m, n in spans)]
        for name in AT_LARGE
    ]
    return ["command", *(f"{m} -> {n} hosts" for m, n in spans)], rows


def flat_spans(sizes: Sequence[int]) -> tuple[int, int, int]:
    """The sizes whose two spans the flatness target compares: from FLAT_FROM (or the smallest
    size above one host; one host when fewer than three are above it) to the middle size, and
    from there to the largest."""
    above = [n for n in sizes if n >= FLAT_FROM] or [n for n in sizes if n > 1]
    if len(above) < 3:
        above = list(sizes)[-3:]
    return above[0], above[len(above) // 2], above[-1]


def _scale(results: dict[int, dict[str, Series]], sizes: Sequence[int]) -> list[Target]:
    """Issue 18's time(largest) / time(1 host) target."""
    big = max(sizes)
    if big <= 1:
        return []
    return [
        Target(
            "scale #18",
            f"`sop run`: time({big} hosts) / time(1 host)",
            results[big]["sop run"].wall / results[1]["sop run"].wall,
            8,
        )
    ]


def _flatness(cpu: dict[int, float]) -> list[Target]:
    """Issue 18's CPU per host flat from FLAT_FROM to the largest size: CPU per added host over
    the span above the middle size against the span below it, from runs of the three sizes
    interleaved. A span whose CPU did not grow (noise swamped it) is no measurement: it fails,
    as no pass may come from noise."""
    if len(cpu) < 3:  # fewer than three sizes: no two spans to compare
        return []
    small, middle, big = sorted(cpu)
    lower = (cpu[middle] - cpu[small]) / (middle - small)
    upper = (cpu[big] - cpu[middle]) / (big - middle)
    return [
        Target(
            "scale #18",
            f"`sop run` CPU per added host, {middle} -> {big} / {small} -> {middle} hosts",
            upper / lower if lower > 0 and upper > 0 else float("inf"),
            1.25,
        )
    ]


def _round_two(results: dict[int, dict[str, Series]], n: int) -> list[Target]:
    """Issue 18's targets at the largest size: near the OpenSSH floor, at or under fabric."""
    if n < 32:
        return []
    r = results[n]
    sop, fabric = r["sop run"], r["fabric ThreadingGroup"]
    targets = [
        Target(
            "fan-out #18",
            f"`sop run` / OpenSSH curve25519, {n} hosts",
            sop.wall / r[CURVE].wall,
            1.15,
        ),
        Target(
            "fan-out #18",
            f"`sop run` / fabric ThreadingGroup, {n} hosts",
            sop.wall / fabric.wall,
            1.0,
        ),
        Target(
            "fan-out #18",
            f"client CPU per host, `sop run` / fabric, {n} hosts",
            sop.cpu / fabric.cpu,
            1.0,
        ),
    ]
    five = f"sop run, {STEPS} steps"
    if five in r:
        targets.append(
            Target(
                "fan-out #18",
                f"{STEPS}-step SOP / fabric {STEPS} commands, {n} hosts",
                r[five].wall / r[f"fabric, {STEPS} commands"].wall,
                1.1,
            )
        )
    return targets


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())
