"""What every benchmark shares: interleaved timing of whole processes, medians, tables, targets.

The machine is shared and noisy, so nothing here is compared with a number from another run:
every variant of a comparison is timed in the same rounds (A, B, C, A, B, C, ...), and only the
ratios of their medians are judged.
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = REPO / ".venv" / "bin"
BENCH_BIN = REPO / "bench" / ".venv" / "bin"
SOP = VENV_BIN / "sop"
PYTHON = VENV_BIN / "python"

Command = Sequence[str] | Callable[[], object]


@dataclass(frozen=True)
class Sample:
    wall: float  # seconds
    cpu: float  # user + system seconds of the process and its waited-for children
    max_rss_kb: int  # peak resident set of the largest of them


@dataclass
class Series:
    samples: list[Sample] = field(default_factory=list)

    @property
    def wall(self) -> float:
        return statistics.median(s.wall for s in self.samples)

    @property
    def cpu(self) -> float:
        return statistics.median(s.cpu for s in self.samples)

    @property
    def max_rss_mb(self) -> float:
        return max(s.max_rss_kb for s in self.samples) / 1024


def run_once(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    check: bool = True,
) -> Sample:
    """Run a process to its end (output discarded); its wall time, CPU time and peak RSS."""
    start = time.perf_counter()
    process = subprocess.Popen(
        list(argv),
        env=dict(env) if env is not None else None,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    assert process.stderr is not None
    stderr = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if check and process.returncode != 0:
        raise RuntimeError(
            f"{' '.join(map(str, argv))} exited {process.returncode}: "
            f"{stderr.decode(errors='replace')[-2000:]}"
        )
    return Sample(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss)


def time_call(function: Callable[[], object]) -> Sample:
    start = time.perf_counter()
    cpu = time.process_time()
    function()
    return Sample(time.perf_counter() - start, time.process_time() - cpu, 0)


def interleave(
    variants: Mapping[str, Command],
    runs: int,
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    warmup: int = 1,
    before_each: Callable[[str], object] | None = None,
) -> dict[str, Series]:
    """Time every variant `runs` times, one of each per round, the order rotating per round.

    A variant is an argv (run as a process) or a callable (timed in this process).
    `warmup` untimed rounds come first (page cache, pyc files, SSH control masters).
    """
    names = list(variants)
    out = {name: Series() for name in names}
    for round_no in range(warmup + runs):
        shift = round_no % len(names)
        for name in names[shift:] + names[:shift]:
            if before_each is not None:
                before_each(name)
            command = variants[name]
            if callable(command):
                sample = time_call(command)
            else:
                sample = run_once(command, env=env, cwd=cwd)
            if round_no >= warmup:
                out[name].samples.append(sample)
    return out


@dataclass(frozen=True)
class Target:
    area: str
    claim: str
    measured: float
    limit: float
    at_most: bool = True  # measured <= limit; else measured >= limit
    unit: str = "x"

    @property
    def holds(self) -> bool:
        return self.measured <= self.limit if self.at_most else self.measured >= self.limit

    def row(self) -> list[str]:
        sign = "<=" if self.at_most else ">="
        return [
            self.area,
            self.claim,
            f"{fmt(self.measured)}{self.unit}",
            f"{sign} {fmt(self.limit)}{self.unit}",
            "holds" if self.holds else "FAILS",
        ]


def fmt(value: float) -> str:
    if value >= 1000:
        return f"{value:,.0f}"
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


@dataclass
class Section:
    """One benchmark's output: a title, a table, notes, and the targets it judges."""

    title: str
    headers: list[str]
    rows: list[list[str]]
    notes: list[str] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)

    def markdown(self) -> str:
        lines = [f"## {self.title}", "", markdown_table(self.headers, self.rows)]
        if self.notes:
            lines += ["", *(f"- {note}" for note in self.notes)]
        return "\n".join(lines) + "\n"


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(headers), rule, *(line(r) for r in rows)])


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for text in Path("/proc/cpuinfo").read_text().splitlines():
            if text.startswith("model name"):
                cpu = text.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{os.cpu_count()} cores ({cpu}), {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()} ({sys.implementation.name})"
    )


def progress(message: str) -> None:
    print(f"  .. {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class SopOnHosts:
    """What `sop run` needs to reach a started sshd fixture's first hosts: an inventory with a
    group `gN` of the first N hosts for each size, the fixture's known_hosts, an empty ssh
    config (the user's own must not count), and an environment with a private state directory
    and key folder, no colour and no SSH agent."""

    inventory: Path
    known_hosts: Path
    ssh_config: Path
    env: dict[str, str]

    @property
    def args(self) -> list[str]:
        """`sop run`'s options for these hosts, unattended."""
        return [
            "--yes",
            "--inventory",
            str(self.inventory),
            "--known-hosts",
            str(self.known_hosts),
            "--ssh-config",
            str(self.ssh_config),
        ]


def sop_on_hosts(fixture: Any, work: Path, sizes: Sequence[int]) -> SopOnHosts:
    """`fixture`: tests/integration/sshd.py's SshdHosts, started."""
    inventory = fixture.write_inventory(
        work / "inventory.yaml",
        groups={f"g{n}": [h.name for h in fixture.hosts[:n]] for n in sizes},
    )
    ssh_config = work / "empty_ssh_config"
    ssh_config.write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SSH_", "BENCH_"))}
    env.pop("SOP_PATH", None)
    env.update(
        SOP_STATE_DIR=str(work / "state"),
        SOP_AUDIT_KEYS=str(work / "keys"),
        NO_COLOR="1",
        COLUMNS="120",
    )
    return SopOnHosts(inventory, fixture.known_hosts, ssh_config, env)
