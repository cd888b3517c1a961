"""Start a run from plain values (what `sop run` parsed): find and check the SOP, resolve the
inventory and inputs, build the runner with real executors, walk it."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sop.errors import SopFileError
from sop.events import Sink
from sop.executors import Executors, local_executor, ssh_executor
from sop.inputs import Asker, resolve_inputs
from sop.library import find_inventory, find_sop, search_dirs
from sop.lint import lint_sop
from sop.loader import load_sop
from sop.model import Sop
from sop.runner import Clock, Prompter, Runner, RunOptions, RunResult


@dataclass(frozen=True)
class RunRequest:
    sop: str
    inputs: Mapping[str, str] = field(default_factory=dict)
    secret_files: Mapping[str, Path] = field(default_factory=dict)
    inventory: Path | None = None
    known_hosts: Path | None = None
    ssh_config: Path | None = None
    connect_timeout: float = 10.0
    options: RunOptions = field(default_factory=RunOptions)


def checked_sop(ref: str) -> Sop:
    """Load an SOP and refuse it if lint finds an error: nothing runs from a broken SOP."""
    sop = load_sop(find_sop(ref))
    errors = [p for p in lint_sop(sop, today=dt.date.today()) if p.severity == "error"]
    if errors:
        raise SopFileError(errors)
    return sop


def load_callee(sop_id: str, caller: Sop) -> Sop:
    """A called SOP: beside the caller first, then in the search folders."""
    for folder in (caller.path.parent, *search_dirs()):
        for suffix in (".yaml", ".yml"):
            candidate = folder / f"{sop_id}{suffix}"
            if candidate.is_file():
                return checked_sop(str(candidate))
    return checked_sop(sop_id)


def launch(
    request: RunRequest,
    *,
    prompter: Prompter | None,
    asker: Asker | None,
    sinks: Sequence[Sink],
    clock: Clock,
) -> RunResult:
    sop = checked_sop(request.sop)
    inventory = find_inventory(sop.path, request.inventory)
    inputs = resolve_inputs(
        sop, request.inputs, secret_files=request.secret_files, environ=os.environ, asker=asker
    )
    executors = Executors(
        {
            "local": local_executor,
            "ssh": ssh_executor(request.known_hosts, request.ssh_config, request.connect_timeout),
        }
    )
    runner = Runner(
        sop,
        inputs,
        inventory=inventory,
        prompter=prompter,
        executors=executors,
        sinks=sinks,
        clock=clock,
        options=request.options,
        load_callee=load_callee,
    )
    return runner.run()
