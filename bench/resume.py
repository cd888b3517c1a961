"""Resume of a long run: how soon `sop resume` of a 10,000-record run reaches its first step.

The run is real, made by sop itself in this process (`launch`, its audit writer, its state
file): an SOP whose steps each ran on 100 inventory hosts, the hosts answered by an executor
that returns at once (no SSH: the records are what matters), then a last local step that asks
for a typed confirmation, where `--yes` pauses the run (needs a responder). Its fsyncs are
skipped while generating, which changes nothing in the files.

Timed, whole process: `sop resume RUN --yes`, which reads and checks the log (chain, seals),
plans the resume, prints the recap and walks to that last step, where it pauses again:
the point where a responder at a terminal would get the first prompt. The run's folder is
restored from a copy before each run, so every resume reads the same 10,000 records.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import yaml

from bench.common import SOP, Section, Target, interleave
from bench.common import progress as note

HOSTS = 100
RECORDS_PER_STEP = 311  # measured: 2 per host, a seal after most, the step's own 8
RUN_ID = "20261206T101500-b3c4d5e6"
LIMIT = 0.5  # seconds (issue 18)


class InstantHosts:
    """An executor whose hosts answer at once, as a quick real command would."""

    def execute(self, job: Any, host: Any, output: Any, on_command: Any) -> Any:
        from sop.events import Outcome
        from sop.executors.base import HostResult

        on_command(job.command)
        output("stdout", f"{host.name}\n")
        return HostResult(host.name, Outcome.SUCCESS, 0, f"{host.name}\n", "", 0.004)

    def interrupt(self) -> None:
        pass

    def kill(self) -> None:
        pass

    def close(self) -> None:
        pass


def write_folder(folder: Path, steps: int) -> tuple[Path, Path]:
    """The SOP (`steps` fleet steps, then a typed local one) and its inventory."""
    hosts = {f"web{n:03d}": {"address": f"10.9.{n // 250}.{n % 250 + 1}"} for n in range(HOSTS)}
    inventory = folder / "inventory.yaml"
    inventory.write_text(yaml.safe_dump({"hosts": hosts, "groups": {"fleet": list(hosts)}}))
    fleet = [
        {"id": f"s{n}", "run": "hostname", "confirm": "never", "parallel": HOSTS}
        for n in range(1, steps + 1)
    ]
    last = {"id": "last", "on": "local", "run": "true", "confirm": "typed"}
    sop = folder / "long-run.yaml"
    sop.write_text(
        yaml.safe_dump(
            {
                "sop": 1,
                "id": "long-run",
                "title": "Bench: a long run",
                "owner": "team-bench",
                "reviewed": dt.date.today().isoformat(),
                "on": "fleet",
                "steps": [*fleet, last],
            },
            sort_keys=False,
        )
    )
    return sop, inventory


def make_run(folder: Path, records: int) -> tuple[Path, int]:
    """A paused run of about `records` records in `folder`/state; (its run folder, records)."""
    from sop.events import SystemClock
    from sop.executors import Executors, local_executor
    from sop.run import launch as launching
    from sop.run.launch import RunRequest, launch
    from sop.run.options import ConfirmationRequired, PreflightMode, RunOptions

    sop, inventory = write_folder(folder, max(1, records // RECORDS_PER_STEP))
    instant = InstantHosts()
    real_executors, real_fsync = launching._executors, os.fsync
    launching._executors = lambda *_: Executors({"local": local_executor, "ssh": lambda: instant})
    os.fsync = lambda fd: None
    keys = os.environ.get("SOP_AUDIT_KEYS")
    os.environ["SOP_AUDIT_KEYS"] = str(folder / "keys")  # never the user's own key folder
    try:
        launch(
            RunRequest(
                str(sop),
                inventory=(inventory,),
                state_dir=folder / "state",
                options=RunOptions(
                    yes=True, operator="bench", run_id=RUN_ID, preflight=PreflightMode.OFF
                ),
            ),
            prompter=None,
            asker=None,
            sinks=[],
            clock=SystemClock(),
        )
    except ConfirmationRequired:
        pass  # the typed step: the run is paused there
    finally:
        launching._executors, os.fsync = real_executors, real_fsync
        if keys is None:
            del os.environ["SOP_AUDIT_KEYS"]
        else:
            os.environ["SOP_AUDIT_KEYS"] = keys
    (log,) = (folder / "state").glob(f"**/{RUN_ID}/audit.jsonl")
    return log.parent, sum(1 for _ in log.open("rb"))


def bench(runs: int, records: int = 10_000) -> Section:
    work = Path(tempfile.mkdtemp(prefix="sop-bench-resume-"))
    try:
        note(f"resume: making a {records:,}-record run")
        run_dir, count = make_run(work, records)
        saved = {run_dir: work / "pristine-run", work / "keys": work / "pristine-keys"}
        for folder, copy in saved.items():
            shutil.copytree(folder, copy)
        env = {k: v for k, v in os.environ.items() if not k.startswith("SOP_")}
        env.update(
            SOP_STATE_DIR=str(work / "state"),
            SOP_AUDIT_KEYS=str(work / "keys"),
            NO_COLOR="1",
            COLUMNS="120",
        )
        argv = [str(SOP), "resume", RUN_ID, "--yes"]

        def restore(_: str) -> None:  # the log and the head its key folder keeps
            for folder, copy in saved.items():
                shutil.rmtree(folder)
                shutil.copytree(copy, folder)

        def resume() -> None:
            proc = subprocess.run(argv, env=env, cwd=work, capture_output=True, text=True)
            if proc.returncode == 0 or "typed confirmation" not in proc.stdout + proc.stderr:
                raise RuntimeError(
                    f"sop resume exited {proc.returncode}: {proc.stdout[-1500:]}{proc.stderr[-1500:]}"
                )

        variants = {f"`sop resume` to its first step, {count:,} records": resume}
        note(f"resume: {runs} runs")
        series = interleave(variants, runs, before_each=restore)
        return _section(series[next(iter(variants))].wall, count, runs)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _section(wall: float, count: int, runs: int) -> Section:
    rows = [[f"{count:,}", f"{wall:.2f}", f"{wall / count * 1e6:.1f}"]]
    return Section(
        "Resume of a long run",
        ["records in the log", "median s", "us/record"],
        rows,
        [
            f"Median wall seconds of `sop resume RUN --yes` over {runs} runs, the run's folder "
            "restored before each: the log read and checked, the resume planned, the recap "
            "shown, up to its first step (a typed one, where `--yes` pauses again: a responder "
            "would get the first prompt there).",
            f"The run is sop's own: {count:,} records of steps on {HOSTS} hosts each, written by "
            "`launch` and its audit writer (hosts answered at once, fsync skipped).",
        ],
        [Target("resume #18", f"`sop resume` start, {count:,}-record run", wall, LIMIT, unit=" s")],
    )
