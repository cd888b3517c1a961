"""Resuming an interrupted run: what the audit log and the saved state say happened, and which
steps are in doubt (started, never finished)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sop.audit.log import Head
from sop.audit.state import AUDIT, STATE, default_key_dir, load_key, read_json
from sop.audit.verify import records_of, repair_torn_tail, verify_bytes
from sop.errors import SopError
from sop.run.scope import Restored, load_variables

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


class NothingToResume(ResumeError):
    """The run stopped before anything ran."""


@dataclass
class ResumePlan:
    run_dir: Path
    started: dict[str, Any]  # the run-started record
    head: Head
    restored: Restored
    key0: bytes
    next_seal: int
    torn: bool = False  # the last line is torn: `repair` cuts it off, once every check passed

    sop_sha256: str = ""  # the SOP file's hash in the run's last record

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
    """Check the log and rebuild the state; changes nothing. Resume acts on what the log says
    (which SOP file, which steps ran), so the log must verify, its seals must check out with
    the run's verification key, and the state file must be one sop saved."""
    path = run_dir / AUDIT
    try:
        data = path.read_bytes()
    except FileNotFoundError:  # killed between making the run directory and its first record
        raise NothingToResume(
            f"run {run_dir.name} stopped before its audit log was written (nothing ran); "
            "start a new run"
        ) from None
    except OSError as exc:
        raise ResumeError(f"cannot read {path}: {exc.strerror}") from None
    run_id = _run_id(data)
    if run_id != run_dir.name:
        raise ResumeError(
            f"{path} belongs to run '{run_id}', not to {run_dir.name}: it was moved or forged"
        )
    key0 = load_key(run_id)
    if key0 is None:
        raise ResumeError(
            f"cannot authenticate run {run_id}: its verification key is missing "
            f"({default_key_dir() / (run_id + '.key')}); sop resumes only logs whose seals it can check"
        )
    result = verify_bytes(data, key0=key0)
    if not result.ok and not result.only_torn:
        problems = "; ".join(str(f) for f in result.findings[:3])
        raise ResumeError(
            f"the audit log {path} does not verify ({problems}); "
            "sop will not resume from a log it cannot trust"
        )
    if result.seals_checked == 0:
        if result.records <= 1:  # killed between run-started and its seal: nothing ran
            raise NothingToResume(
                f"run {run_id} stopped before its first step (nothing ran); start a new run"
            )
        raise ResumeError(
            f"the audit log {path} has no seal to check (it was rewritten); "
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
    saved = _saved_state(run_dir, records)
    restored = _restore(records, saved)
    return ResumePlan(
        run_dir,
        records[0],
        Head(*result.head),
        restored,
        key0,
        result.next_seal,
        torn=not result.ok,
        sop_sha256=str(records[-1]["sop"]["sha256"]),
    )


def _saved_state(run_dir: Path, records: list[dict[str, Any]]) -> dict[str, Any]:
    """state.json, if its hash is the last (or, after a crash, the one before) that the log
    recorded for it."""
    path = run_dir / STATE
    recorded = [r["sop"]["state_sha256"] for r in records if r["event"]["action"] == "state-saved"]
    if not path.exists():
        if len(recorded) > 1:  # one record and no file: the crash came before the first write
            raise ResumeError(f"{path} is missing, though the audit log says it was saved")
        return {}
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest not in recorded[-2:]:
        raise ResumeError(
            f"{path} is not the state sop saved (its hash is not in the audit log): it was edited"
        )
    return read_json(path)


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
