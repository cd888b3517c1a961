"""Pre-flight: every targeted host connected before the first step, against a one-step fan-out
on the same real sshd hosts (issue #18: the pre-flight of 64 hosts in at most 1.1x the time).

Timed in interleaved rounds, in this process (no start-up to dilute the ratio), each variant
with a fresh connection pool, as a run has:

- `one-step fan-out`: `hostname; echo ok` on every host through sop's FanOut (connect + run);
- `pre-flight`: sop's pre-flight check of the same hosts (connect, the host key checked);
- `pre-flight, then the step`: both, the step using the connections the pre-flight opened.

And as whole processes: `sop run --yes` of a one-step SOP, with and without (`--preflight=off`)
the pre-flight: what keeping the connections for the run leaves of its cost.
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

import yaml

from bench.common import SOP, Section, Series, Target, fmt, interleave, sop_on_hosts
from bench.common import progress as note
from sop.events import Event, Reach, StepRef, SystemClock
from sop.executors import Executors, ssh_executor
from sop.executors.base import Job
from sop.model import Host
from sop.redact import Redactor
from sop.run.fanout import FanOut
from sop.run.openfiles import OpenFiles
from sop.run.preflight import check_hosts
from sop.run.tracecontext import new_span_id, new_trace_id
from tests.integration.sshd import start_hosts

COMMAND = "hostname; echo ok"
JOB = Job(kind="run", command=COMMAND, step_id="s1", sop_id="bench")
STEP = StepRef("s1", "1", "bench", "run", "bench")


class _Nowhere:
    """Where the fan-out's events go here: nowhere (both variants pay the same)."""

    def emit(self, event: Event) -> None:
        pass

    def record(self, event: Event) -> None:
        pass

    def settle(self) -> None:
        pass


class _Variants:
    """The in-process variants for `hosts`, each with a fresh pool."""

    def __init__(self, hosts: Sequence[Host], known_hosts: Path, ssh_config: Path) -> None:
        self.hosts = hosts
        self.known_hosts = known_hosts
        self.ssh_config = ssh_config

    def _executors(self) -> Executors:
        return Executors({"ssh": ssh_executor(self.known_hosts, self.ssh_config)})

    def _step(self, executors: Executors) -> None:
        fanout = FanOut(
            executors,
            _Nowhere(),
            SystemClock(),
            Redactor(),
            new_trace_id(),
            OpenFiles(connects=True),
        )
        results = fanout.run(JOB, self.hosts, STEP, 1, len(self.hosts), new_span_id())
        assert all(r.ok for r in results), [r.error for r in results if not r.ok]

    def _check(self, executors: Executors) -> None:
        results = check_hosts(executors, self.hosts)
        assert all(r.reach == Reach.OK for r in results), [r.error for r in results]

    def one_step(self) -> None:
        executors = self._executors()
        self._step(executors)
        executors.close()

    def preflight(self) -> None:
        executors = self._executors()
        self._check(executors)
        executors.close()

    def preflight_then_step(self) -> None:
        executors = self._executors()
        self._check(executors)
        self._step(executors)
        executors.close()


def sop_file(path: Path, group: str, count: int) -> Path:
    data = {
        "sop": 1,
        "id": path.stem,
        "title": f"Bench: one step on {count} host(s)",
        "owner": "team-bench",
        "reviewed": dt.date.today().isoformat(),
        "on": group,
        "steps": [{"id": "s1", "run": COMMAND, "confirm": "never", "parallel": count}],
    }
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def bench(runs: int, sizes: Sequence[int] = (64,), smoke: bool = False) -> Section:
    work = Path(tempfile.mkdtemp(prefix="sop-bench-preflight-"))
    fixture = start_hosts(max(sizes), work / "sshd")
    try:
        hosts_for_sop = sop_on_hosts(fixture, work, sizes)
        env = hosts_for_sop.env
        empty_config = hosts_for_sop.ssh_config
        results: dict[int, dict[str, Series]] = {}
        for n in sizes:
            variants = _Variants(fixture.model_hosts()[:n], fixture.known_hosts, empty_config)
            sop = sop_file(work / f"preflight-{n}.yaml", f"g{n}", n)
            run = [
                str(SOP),
                "run",
                str(sop),
                *hosts_for_sop.args,
            ]
            note(f"pre-flight: {n} host(s), 5 variants x {runs} runs")
            results[n] = interleave(
                {
                    "one-step fan-out": variants.one_step,
                    "pre-flight": variants.preflight,
                    "pre-flight, then the step": variants.preflight_then_step,
                    "`sop run --yes`, one step": run,
                    "`sop run --yes --preflight=off`, one step": [*run, "--preflight=off"],
                },
                runs,
                env=env,
                cwd=work,
                warmup=0 if smoke else 1,
            )
        return _section(results, sizes, runs)
    finally:
        fixture.close()
        shutil.rmtree(work, ignore_errors=True)


def _section(results: dict[int, dict[str, Series]], sizes: Sequence[int], runs: int) -> Section:
    names = list(results[sizes[0]])
    rows = [[name, *(f"{results[n][name].wall:.3f}" for n in sizes)] for name in names]
    targets = []
    ratio_rows = []
    for n in sizes:
        r = results[n]
        alone = r["pre-flight"].wall / r["one-step fan-out"].wall
        both = r["pre-flight, then the step"].wall / r["one-step fan-out"].wall
        whole = (
            r["`sop run --yes`, one step"].wall
            / r["`sop run --yes --preflight=off`, one step"].wall
        )
        ratio_rows.append([str(n), fmt(alone), fmt(both), fmt(whole)])
        targets.append(
            Target("pre-flight #18", f"pre-flight / one-step fan-out, {n} hosts", alone, 1.1)
        )
        targets.append(
            Target(
                "pre-flight",
                f"`sop run` one step, pre-flight on / off, {n} hosts",
                whole,
                1.1,
            )
        )
    from bench.common import markdown_table

    notes = [
        f"Median wall seconds over {runs} interleaved runs; the first three in this process, "
        "each with a fresh connection pool, the last two whole `sop run` processes.",
        "Ratios (same run):\n\n"
        + "\n".join(
            "  " + line
            for line in markdown_table(
                ["hosts", "pre-flight / step", "pre-flight + step / step", "sop run on / off"],
                ratio_rows,
            ).splitlines()
        ),
        "The step after a pre-flight reuses its connections: the pre-flight costs about what "
        "the first step then saves.",
    ]
    return Section(
        "Pre-flight: every targeted host connected before the first step",
        ["variant", *(f"{n} host(s), s" for n in sizes)],
        rows,
        notes,
        targets,
    )
