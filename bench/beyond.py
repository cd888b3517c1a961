"""Beyond one machine: what 1,000 and 5,000 hosts would cost one `sop run`, from the fan-out
benchmark's own figures (nothing here is typed in by hand), which limit gives out first, and
what sop does past that.

From the fan-out: wall time and CPU at 1 host and at the two largest sizes, peak RSS at 1 host
and the largest size, and what `sop run` held at the largest size (/proc: open files,
threads, virtual size). From this machine: its cores, memory, and the limits a process started
here gets (open files soft and hard, processes per user). Each cost is extrapolated linearly
per host from the largest sizes measured: one run is one process, bound by its CPU (one
interpreter lock), so hosts past the `parallel` cap (256) wait their turn at the same rate.
"""

from __future__ import annotations

import resource
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.common import Section, Series, fmt
from sop.run.openfiles import BASE, PER_HOST


@dataclass(frozen=True)
class Usage:
    """What `sop run` held at its peak on `hosts` hosts, read from /proc while it ran."""

    hosts: int
    open_files: int
    threads: int
    virtual_mb: float
    resident_mb: float


FLEETS = (1_000, 5_000)
STEP_BUDGET = 60.0  # seconds: the longest a responder should wait for one command on every host
SOP = "sop run"


@dataclass(frozen=True)
class PerHost:
    """`sop run`'s costs: fixed (the 1-host run) and per further host."""

    wall0: float
    wall: float  # s per host, from the two largest sizes (or from 1 host, if more)
    cpu0: float
    cpu: float  # s per host, from 1 host to the largest
    rss0: float
    rss: float  # MB per host, from 1 host to the largest
    files: float  # open files per host at the largest size (all of them, / hosts)
    threads: float
    virtual: float  # MB per host

    def at(self, hosts: int) -> dict[str, float]:
        more = hosts - 1
        return {
            "wall": self.wall0 + self.wall * more,
            "cpu": self.cpu0 + self.cpu * more,
            "rss": self.rss0 + self.rss * more,
            "files": self.files * hosts,
            "threads": self.threads * hosts,
            "virtual": self.virtual * hosts,
        }


def per_host(results: dict[int, dict[str, Series]], sizes: Sequence[int], usage: Usage) -> PerHost:
    big = max(sizes)
    below = max(n for n in sizes if n < big)
    one, top, second = results[1][SOP], results[big][SOP], results[below][SOP]
    return PerHost(
        wall0=one.wall,
        # the larger of the slope at the top and the average one: noise never makes it cheaper
        wall=max((top.wall - second.wall) / (big - below), (top.wall - one.wall) / (big - 1)),
        cpu0=one.cpu,
        cpu=(top.cpu - one.cpu) / (big - 1),
        rss0=one.max_rss_mb,
        rss=(top.max_rss_mb - one.max_rss_mb) / (big - 1),
        files=usage.open_files / usage.hosts,
        threads=usage.threads / usage.hosts,
        virtual=usage.virtual_mb / usage.hosts,
    )


def memory_mb() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) / 1024
    return float("inf")


def _limit(value: int) -> float:
    return float("inf") if value == resource.RLIM_INFINITY else float(value)


def section(
    results: dict[int, dict[str, Series]], sizes: Sequence[int], usage: Usage, smoke: bool
) -> Section:
    cost = per_host(results, sizes, usage)
    big = max(sizes)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    nproc = _limit(resource.getrlimit(resource.RLIMIT_NPROC)[0])
    memory = memory_mb()
    rows = []
    for fleet in (big, *FLEETS):
        c = cost.at(fleet)
        rows.append(
            [
                f"{fleet:,}" + (" (measured)" if fleet == big else ""),
                f"{c['wall']:.1f}",
                f"{c['cpu']:.1f}",
                f"{c['rss']:,.0f}",
                f"{c['files']:,.0f} ({BASE + PER_HOST * fleet:,})",
                f"{c['threads']:,.0f}",
                f"{c['virtual'] / 1024:,.1f}",
            ]
        )
    # how many hosts one run reaches before each limit gives out
    limits = {
        f"{STEP_BUDGET:.0f} s for one command on every host, as timed here (the hosts' sshd "
        "share this machine's cores)": (
            1 + (STEP_BUDGET - cost.wall0) / cost.wall if cost.wall > 0 else float("inf")
        ),
        f"{STEP_BUDGET:.0f} s of the client's CPU (one interpreter: what bounds it against "
        "real hosts)": (1 + (STEP_BUDGET - cost.cpu0) / cost.cpu if cost.cpu > 0 else float("inf")),
        f"memory: {memory / 1024:,.1f} GB on this machine (resident, {cost.rss:.2f} MB a host)": (
            1 + (memory - cost.rss0) / cost.rss if cost.rss > 0 else float("inf")
        ),
        f"open files: the hard limit here, {fmt(_limit(hard))} (sop raises the soft one, "
        f"{fmt(_limit(soft))} here, to the {BASE} + {PER_HOST} a host it counts; a common soft "
        f"limit of 1,024 lasts {(1024 - BASE) // PER_HOST} hosts)": (_limit(hard) - BASE)
        / PER_HOST,
        f"threads: processes per user here, {fmt(nproc)} ({cost.threads:.1f} a host)": (
            nproc / cost.threads
        ),
    }
    ranked = sorted(limits.items(), key=lambda item: item[1])
    first, at = ranked[0]
    notes = [
        f"`sop run` of one command, extrapolated per host from the fan-out above: wall time "
        f"from its two largest sizes ({cost.wall * 1000:.1f} ms a host; the average from 1 "
        "host, if larger), CPU and resident "
        f"memory from 1 to {big} hosts ({cost.cpu * 1000:.1f} ms and {cost.rss:.2f} MB a host "
        f"beyond the first), open files, threads and virtual size as watched at {big} hosts "
        "(the open files sop counts for them in brackets). One process, bound by one "
        "interpreter's CPU: past the `parallel` cap (256) hosts wait their turn at the same "
        "rate, so the line goes on.",
        "Which limit gives out first, in hosts for one run on this machine (fewest first):\n\n"
        + "\n".join(
            f"  {n}. {name}: {hosts:,.0f} hosts" for n, (name, hosts) in enumerate(ranked, 1)
        ),
        f"So the first to bite is {first.split(':')[0].split(' (')[0].split(', as')[0]}, at "
        f"about {at:,.0f} hosts. Memory and threads are not the problem (the virtual size is the threads' "
        "stacks: address space, not memory; only `ulimit -v` or `vm.overcommit_memory=2` "
        "would count it), and open files are raised as needed up to the hard limit.",
        "Past that, the plan is not a bigger scheduler in sop: (1) batches with a bounded "
        "pool: `--on` one group at a time, `parallel` (at most 256) bounding each step, each "
        "batch its own run and audit log; (2) for fleets of thousands, hand the change to an "
        "engine built for them, the team's Ansible, which reads the same inventories sop "
        'already reads (docs/format.md, "Inventories you already have"), and keep the SOP '
        "for the decisions, the responder and the audit trail around it.",
    ]
    if smoke:
        notes.insert(0, "Smoke run: extrapolated from tiny sizes, the numbers mean nothing.")
    return Section(
        "Beyond one machine",
        [
            "hosts",
            "wall s",
            "CPU s",
            "peak RSS MB",
            "open files (sop counts)",
            "threads",
            "virtual GB",
        ],
        rows,
        notes,
    )
