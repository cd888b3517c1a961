"""Resuming an interrupted run: what the audit log and the saved state say happened, and which
steps are in doubt (started, never finished)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sop.audit.actions import Action
from sop.audit.log import Head
from sop.audit.reader import AuditEntry, MissingLogError, log_path, read_log
from sop.audit.state import STATE, default_key_dir, load_key, read_json
from sop.audit.verify import AuditReadError, repair_torn_tail
from sop.errors import SopError
from sop.files import RUN_FILE_BYTES, FileReadError, read_regular_file
from sop.outcomes import Outcome
from sop.run.scope import Restored, load_variables

STEP_ACTIONS = frozenset(
    {
        Action.STEP_CONFIRMED,
        Action.STEP_STARTED,
        Action.COMMAND_STARTED,
        Action.HOST_FINISHED,
        Action.STEP_FINISHED,
    }
)
RUNNING = frozenset({Action.STEP_STARTED, Action.COMMAND_STARTED, Action.HOST_FINISHED})


class ResumeError(SopError):
    """The run cannot be resumed: finished, tampered with, or missing its records."""


class NothingToResume(ResumeError):
    """The run stopped before anything ran."""


@dataclass
class ResumePlan:
    run_dir: Path
    started: AuditEntry  # the run-started record
    head: Head
    restored: Restored
    key0: bytes
    next_seal: int
    torn: bool = False  # the last line is torn: `repair` cuts it off, once every check passed

    sop_sha256: str = ""  # the SOP file's hash in the run's last record

    @property
    def run_id(self) -> str:
        return self.started.run_id

    def repair(self) -> dict[str, Any] | None:
        return repair_torn_tail(log_path(self.run_dir)) if self.torn else None


def plan_resume(run_dir: Path) -> ResumePlan:
    """Check the log and rebuild the state; changes nothing. Resume acts on what the log says
    (which SOP file, which steps ran), so the log must verify, its seals must check out with
    the run's verification key, and the state file must be one sop saved."""
    path = log_path(run_dir)
    try:
        log = read_log(path)
    except MissingLogError:  # killed between making the run directory and its first record
        log = None
    except AuditReadError as exc:
        raise ResumeError(str(exc)) from None
    if log is None or not (log.entries or log.parsed.bad_lines):  # at most a torn first line
        raise NothingToResume(
            f"run {run_dir.name} stopped before its audit log was written (nothing ran); "
            "start a new run"
        )
    run_id = log.run_id
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
    result = log.verify(key0)
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
    entries = log.entries
    if not entries or entries[0].action != Action.RUN_STARTED:
        raise ResumeError(f"{path} has no run-started record: nothing to resume")
    finished = [e for e in entries if e.action == Action.RUN_FINISHED]
    if finished:
        raise ResumeError(
            f"run {run_dir.name} already finished ({finished[-1].outcome}); start a new run"
        )
    saved = _saved_state(run_dir, entries)
    restored = _restore(entries, saved)
    return ResumePlan(
        run_dir,
        entries[0],
        Head(*result.head),
        restored,
        key0,
        result.next_seal,
        torn=not result.ok,
        sop_sha256=entries[-1].sop_sha256,
    )


def _saved_state(run_dir: Path, entries: Sequence[AuditEntry]) -> dict[str, Any]:
    """state.json, if its hash is the last (or, after a crash, the one before) that the log
    recorded for it."""
    path = run_dir / STATE
    recorded = [e.state_sha256 for e in entries if e.action == Action.STATE_SAVED]
    if not path.exists():
        if len(recorded) > 1:  # one record and no file: the crash came before the first write
            raise ResumeError(f"{path} is missing, though the audit log says it was saved")
        return {}
    try:
        data = read_regular_file(path, RUN_FILE_BYTES, follow_symlinks=False)
    except FileReadError as exc:
        raise ResumeError(str(exc)) from None
    if hashlib.sha256(data).hexdigest() not in recorded[-2:]:
        raise ResumeError(
            f"{path} is not the state sop saved (its hash is not in the audit log): it was edited"
        )
    return read_json(path)


def _restore(entries: Sequence[AuditEntry], saved: dict[str, Any]) -> Restored:
    outcomes: dict[str, Outcome] = {}
    last: dict[str, str] = {}
    evidence: dict[str, list[str]] = {}
    unknown: set[str] = set()
    excluded: dict[str, str] = {}
    for e in entries:
        if e.action == Action.HOST_EXCLUDED:  # for the rest of the run: the resumed part too
            excluded[e.host] = e.reason
        if e.action not in STEP_ACTIONS:
            continue
        key = e.step_key
        last[key] = e.action
        if e.action == Action.STEP_FINISHED:
            if isinstance(e.outcome, Outcome):
                outcomes[key] = e.outcome
                evidence.pop(key, None)
                unknown.discard(key)
            else:  # written by a newer sop: not known to be finished, so the responder decides
                unknown.add(key)
                evidence.setdefault(key, []).append(f"- {e.time}: finished as '{e.outcome}'")
        elif e.action == Action.COMMAND_STARTED:
            evidence.setdefault(key, []).append(f"- {e.time} on {e.host}: started `{e.command}`")
        elif e.action == Action.HOST_FINISHED:
            tail = e.output_tail.strip().splitlines()[-3:]
            evidence.setdefault(key, []).append(
                f"- {e.time} on {e.host}: {e.outcome}"
                + (f", exit {e.exit_code}" if e.exit_code is not None else "")
                + ("".join(f"\n    {line}" for line in tail))
            )
        elif e.action == Action.STEP_STARTED:
            evidence.setdefault(key, []).append(
                f"- {e.time}: attempt {e.attempt or 1} started on {', '.join(e.hosts)}"
            )
    in_doubt = {
        k: "\n".join(evidence.get(k, ["- no record of what ran"]))
        for k, a in last.items()
        if a in RUNNING or k in unknown
    }
    variables = {
        prefix: load_variables(values) for prefix, values in saved.get("variables", {}).items()
    }
    return Restored(outcomes=outcomes, variables=variables, in_doubt=in_doubt, excluded=excluded)
