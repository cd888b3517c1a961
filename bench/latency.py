"""Output latency: how long a line a host prints takes to reach the responder's terminal, with and
without a secret input (issue 14: with one, the stream redactor used to hold everything back).

`sop run --yes` runs a one-step SOP on 1 and 64 sshd fixture hosts, its stdout a pseudo-terminal
this process reads. Each host prints lines `tick <time.time()> <24 hex digits>` at a steady pace
(hex: a word the redactor must look at, as ids and hashes in real logs are); the hosts are this
machine, so the latency of a line is the time this process read it minus the time in it. The
secret input is given to the run and never printed: what it costs is the masking on the way.
The hosts start printing together, once every one has connected: the connection storm of a
64-host fan-out (measured by bench/fanout.py) saturates this 2-core machine for a second, and a
line printed meanwhile waits for the CPU, secret or not.
"""

from __future__ import annotations

import datetime as dt
import os
import pty
import re
import select
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import yaml

from bench.common import SOP, Section, Target, fmt, sop_on_hosts
from bench.common import progress as note
from tests.integration.sshd import start_hosts

TARGET_MS = 50  # issue 18: p99 from a host printing a line to the terminal showing it
SECRET = "bench-secret-value-0123456789"
TICK = re.compile(rb"tick (\d+\.\d+) [0-9a-f]{24}")
# lines per host, seconds between them: 64 hosts print ~640 lines/s in all
PACE = {1: (60, 0.02), 64: (20, 0.1)}


def printer(lines: int, pause: float) -> str:
    return (
        "python3 -c 'import secrets, sys, time\n"
        "time.sleep(max(0, {{ start }} - time.time()))\n"
        f"for _ in range({lines}):\n"
        '    print("tick %.6f %s" % (time.time(), secrets.token_hex(12)), flush=True)\n'
        f"    time.sleep({pause})'"
    )


def sop_file(path: Path, group: str, count: int, lines: int, pause: float, secret: bool) -> Path:
    data: dict[str, object] = {
        "sop": 1,
        "id": path.stem,
        "title": f"Bench: output latency on {count} host(s)",
        "owner": "team-bench",
        "reviewed": dt.date.today().isoformat(),
        "on": group,
        "steps": [
            {"id": "tick", "run": printer(lines, pause), "confirm": "never", "parallel": count}
        ],
    }
    inputs: dict[str, object] = {"start": {"pattern": r"^[0-9.]+$", "required": True}}
    if secret:
        inputs["token"] = {"secret": True, "env": "BENCH_TOKEN"}
    data["inputs"] = inputs
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def latencies(argv: Sequence[str], env: Mapping[str, str], cwd: Path) -> list[float]:
    """Run `argv` with its stdout a pseudo-terminal; each tick line's latency, in seconds."""
    main, child = pty.openpty()
    process = subprocess.Popen(
        list(argv), env=dict(env), cwd=cwd, stdin=subprocess.DEVNULL, stdout=child, stderr=child
    )
    os.close(child)
    out: list[float] = []
    pending = b""
    seen = b""
    try:
        while True:
            ready, _, _ = select.select([main], [], [], 60)
            if not ready:
                raise RuntimeError("sop printed nothing for 60 s")
            try:
                data = os.read(main, 65536)
            except OSError:  # the child side closed: sop has exited
                break
            if not data:
                break
            now = time.time()
            seen = (seen + data)[-2000:]
            *lines, pending = (pending + data).split(b"\n")
            out += [now - float(m[1]) for line in lines if (m := TICK.search(line))]
    finally:
        os.close(main)
        status = process.wait()
    if status != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {status}: {seen.decode(errors='replace')}")
    return out


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def bench(runs: int, sizes: Sequence[int] = (1, 64), smoke: bool = False) -> Section:
    work = Path(tempfile.mkdtemp(prefix="sop-bench-latency-"))
    fixture = start_hosts(max(sizes), work / "sshd")
    try:
        hosts_for_sop = sop_on_hosts(fixture, work, sizes)
        env = hosts_for_sop.env
        secret_env = {**env, "BENCH_TOKEN": SECRET}
        measured: dict[tuple[int, str], list[float]] = {}
        for n in sizes:
            lines, pause = (10, 0.02) if smoke else PACE[n]
            settle = 0.5 + n / 16  # every host has connected and started its printer by then
            common = hosts_for_sop.args
            cases = {
                case: (
                    [
                        str(SOP),
                        "run",
                        str(sop_file(path, f"g{n}", n, lines, pause, secret)),
                        *common,
                    ],
                    secret_env if secret else env,
                )
                for case, path, secret in (
                    ("no secret", work / f"latency-{n}.yaml", False),
                    ("a secret input", work / f"latency-{n}-secret.yaml", True),
                )
            }
            note(f"output latency: {n} host(s), {len(cases)} variants x {runs} runs")
            for _ in range(runs):  # interleaved: each round runs both cases
                for case, (argv, case_env) in cases.items():
                    start = f"{time.time() + settle:.3f}"
                    got = latencies([*argv, "-i", f"start={start}"], case_env, work)
                    if len(got) != n * lines:
                        raise RuntimeError(f"{case}: {len(got)} of {n * lines} lines arrived")
                    measured.setdefault((n, case), []).extend(got)
        return _section(measured, sizes)
    finally:
        fixture.close()
        shutil.rmtree(work, ignore_errors=True)


def _section(measured: Mapping[tuple[int, str], list[float]], sizes: Sequence[int]) -> Section:
    rows = []
    targets = []
    for (n, case), values in measured.items():
        ms = [v * 1000 for v in values]
        p99 = percentile(ms, 0.99)
        rows.append(
            [
                str(n),
                case,
                str(len(ms)),
                fmt(statistics.median(ms)),
                fmt(percentile(ms, 0.9)),
                fmt(p99),
                fmt(max(ms)),
            ]
        )
        targets.append(
            Target("output", f"line latency p99, {n} host(s), {case}", p99, TARGET_MS, unit=" ms")
        )
    ratios = [
        f"{n} host(s): {fmt(percentile(measured[(n, 'a secret input')], 0.99) / percentile(measured[(n, 'no secret')], 0.99))}x"
        for n in sizes
    ]
    notes = [
        "Milliseconds from a host printing a line (its `time.time()`) to `sop run` writing it "
        "to its terminal (a pseudo-terminal this bench reads), every line of every run.",
        "p99 with a secret input / without, same run: " + ", ".join(ratios) + ".",
        "With a secret, a line is released as soon as it is complete, unless its end could "
        "begin a secret still being printed (then until the next output, at most 50 ms: "
        "`sop/redact.py`, `sop/run/liveoutput.py`).",
    ]
    return Section(
        "Output latency: a host's line to the terminal",
        ["hosts", "inputs", "lines", "median ms", "p90 ms", "p99 ms", "max ms"],
        rows,
        notes,
        targets,
    )
