"""Resuming an interrupted run: what the audit log and the saved state say happened, and which
steps are in doubt (started, never finished)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sop.audit.log import Head
from sop.audit.session import load_key
from sop.audit.state import AUDIT, STATE, read_json
from sop.audit.verify import records_of, repair_torn_tail, verify_bytes
from sop.errors import SopError
from sop.runstate import Restored, load_variables

STEP_ACTIONS = (
    "step-confirmed",
    "step-started",
    "command-started",
    "host-finished",
    "step-finished",
)
RUNNING = ("step-started", "command-started", "host-finished")


class ResumeError(SopError):
    """The run cannot be resumed: finished, tampered with, or missing its records."""


@dataclass
class ResumePlan:
    run_dir: Path
    started: dict[str, Any]  # the run-started record
    head: Head
    restored: Restored
    torn: bool = False  # the last line is torn: `repair` cuts it off, once every check passed

    @property
    def run_id(self) -> str:
        return str(self.started["sop"]["run_id"])

    def repair(self) -> dict[str, Any] | None:
        return repair_torn_tail(self.run_dir / AUDIT) if self.torn else None


def record_key(record: dict[str, Any]) -> str:
    sop = record.get("sop", {})
    called = sop.get("called_sop")
    return f"{called}:{sop.get('number')}" if called else str(sop.get("step"))


def plan_resume(run_dir: Path) -> ResumePlan:
    """Check the log (anything but a torn tail refuses) and rebuild the state. Changes nothing."""
    path = run_dir / AUDIT
    data = path.read_bytes()
    records_run_id = _run_id(data)
    result = verify_bytes(data, key0=load_key(records_run_id) if records_run_id else None)
    if not result.ok and not result.only_torn:
        problems = "; ".join(str(f) for f in result.findings[:3])
        raise ResumeError(
            f"the audit log {path} does not verify ({problems}); "
            "sop will not resume from a log it cannot trust"
        )
    records = records_of(path)
    if not records or records[0].get("event", {}).get("action") != "run-started":
        raise ResumeError(f"{path} has no run-started record: nothing to resume")
    finished = [r for r in records if r["event"]["action"] == "run-finished"]
    if finished:
        raise ResumeError(
            f"run {run_dir.name} already finished ({finished[-1]['sop']['outcome']}); start a new run"
        )
    restored = _restore(records, read_json(run_dir / STATE))
    return ResumePlan(run_dir, records[0], Head(*result.head), restored, torn=not result.ok)


def _run_id(data: bytes) -> str | None:
    first = data.split(b"\n", 1)[0]
    try:
        return str(json.loads(first)["sop"]["run_id"])
    except (ValueError, KeyError, TypeError):
        return None


def _restore(records: list[dict[str, Any]], saved: dict[str, Any]) -> Restored:
    outcomes: dict[str, str] = {}
    last: dict[str, str] = {}
    evidence: dict[str, list[str]] = {}
    for record in records:
        action = record["event"]["action"]
        if action not in STEP_ACTIONS:
            continue
        key = record_key(record)
        last[key] = action
        if action == "step-finished":
            outcomes[key] = record["sop"]["outcome"]
            evidence.pop(key, None)
        elif action == "command-started":
            evidence.setdefault(key, []).append(
                f"- {record['@timestamp']} on {record['host']['name']}: started `{record['process']['command_line']}`"
            )
        elif action == "host-finished":
            code = record.get("process", {}).get("exit_code")
            tail = record["sop"]["output"]["tail"].strip().splitlines()[-3:]
            evidence.setdefault(key, []).append(
                f"- {record['@timestamp']} on {record['host']['name']}: {record['sop']['outcome']}"
                + (f", exit {code}" if code is not None else "")
                + ("".join(f"\n    {line}" for line in tail))
            )
        elif action == "step-started":
            evidence.setdefault(key, []).append(
                f"- {record['@timestamp']}: attempt {record['sop'].get('attempt', 1)} started on "
                f"{', '.join(record['sop'].get('hosts', []))}"
            )
    in_doubt = {
        k: "\n".join(evidence.get(k, ["- no record of what ran"]))
        for k, a in last.items()
        if a in RUNNING
    }
    variables = {
        prefix: load_variables(values) for prefix, values in saved.get("variables", {}).items()
    }
    return Restored(outcomes=outcomes, variables=variables, in_doubt=in_doubt)
