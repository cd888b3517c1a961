"""Resuming an interrupted run: what the audit log and the saved state say happened, and which
steps are in doubt (started, never finished)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sop.audit.actions import Action
from sop.audit.escrow import load_key
from sop.audit.log import Head
from sop.audit.reader import (
    AuditEntry,
    MissingLogError,
    line_action,
    line_entry,
    log_file,
    log_path,
    without_unproven,
)
from sop.audit.state import STATE, check_run_files, read_json
from sop.audit.trust import read_run_log, verify_run
from sop.audit.verify import AuditReadError, Verification, repair_torn_tail, unproven_ranges
from sop.errors import SopError
from sop.events import Outcome
from sop.files import RUN_FILE_BYTES, FileReadError, read_regular_file
from sop.records import dataclass
from sop.run.recap import build_recap
from sop.run.scope import Restored

STEP_ACTIONS = frozenset(
    {
        Action.STEP_CONFIRMED,
        Action.STEP_STARTED,
        Action.COMMAND_STARTED,
        Action.HOST_FINISHED,
        Action.STEP_FINISHED,
        Action.STOPPING,
    }
)
STARTS = frozenset({Action.RUN_STARTED, Action.RUN_RESUMED})
# what a resume records before its run-resumed record: no part of the paused run's time
RESUME_NOTES = frozenset({Action.HANDOVER, Action.SOP_CHANGED, Action.REPAIRED, Action.UNPROVEN})
RUNNING = frozenset(
    {Action.STEP_STARTED, Action.COMMAND_STARTED, Action.HOST_FINISHED, Action.STOPPING}
)
HOST_ACTIONS = frozenset(
    {Action.COMMAND_STARTED.value.encode(), Action.HOST_FINISHED.value.encode()}
)
# the records a covered line may hold and still go untyped: seals, and per-host records (typed
# only for steps in doubt); nine in ten records of a long run
SKIPPABLE = HOST_ACTIONS | {Action.SEAL.value.encode()}


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

    latest: AuditEntry | None = None  # the last run-started or run-resumed record: its
    # severity and --skip go on
    sop_sha256: str = ""  # the SOP file's hash in the run's last record
    operator: str = ""  # who drove the run last (the last record a verified seal covers)
    unproven: tuple[int, int] | None = None  # the seqs after the last verified seal

    @property
    def run_id(self) -> str:
        return self.started.run_id

    def repair(self) -> dict[str, Any] | None:
        return repair_torn_tail(log_path(self.run_dir)) if self.torn else None


def plan_resume(run_dir: Path) -> ResumePlan:
    """Check the log and rebuild the state; changes nothing. Resume acts on what the log says
    (which SOP file, which steps ran), so it takes only what a seal that verifies with the
    run's key covers: later records are in doubt, and the state file must be one whose hash a
    covered record holds. The head the key folder kept must still be in the log.

    A log that verifies is read typing only the records the plan reads (`_plan_sparse`);
    any other (and every refusal) is read whole (`_plan_parsed`), which gives the same plan."""
    plan = _plan_sparse(run_dir)
    return plan if plan is not None else _plan_parsed(run_dir)


def _plan_sparse(run_dir: Path) -> ResumePlan | None:
    """The plan of a run whose log verifies and may be resumed, None for any other. The
    verifier proves sealed lines by their hash without parsing them; of the lines a verified
    seal covers, seals and per-host records stay untyped (their action read from their bytes,
    chain.py's form), except where the plan reads them: the host records from the first
    record of the earliest step in doubt on, and the records whose time ends a part of the run
    (`run_time_since_status`). That sop writes a step's host records between its step-started
    and step-finished records makes the plan the one of typing every record (a test compares
    them); a log where the steps in doubt differ once those host records are typed goes the
    whole way."""
    path = log_path(run_dir)
    check_run_files(run_dir)
    try:
        run = read_run_log(path)
    except AuditReadError:
        return None
    lines = run.data.split(b"\n")
    first = line_entry(lines[0]) if len(lines) > 1 else None
    if first is None or first.run_id != run_dir.name:
        return None
    key0 = load_key(run.keys, first.run_id)
    if key0 is None:
        return None
    result = verify_run(run)
    if (
        (not result.ok and not result.only_torn)
        or result.sealed_records == 0
        or (run.head is not None and run.head.finished)
    ):
        return None
    typed = _SparseLog(lines, result, unproven_ranges(run.data))
    if typed.failed or any(e.action == Action.RUN_FINISHED for e in typed.entries.values()):
        return None
    covered, unproven = typed.covered(), typed.unproven()
    if covered[0].action != Action.RUN_STARTED:
        return None
    saved = _saved_state(run_dir, covered, unproven)
    doubt = _restore(covered, unproven, saved).in_doubt
    if doubt:
        typed.add_hosts(min(i for i, e in typed.entries.items() if e.step_key in doubt))
        if typed.failed:
            return None
        covered = typed.covered()
    restored = _restore(covered, unproven, saved)
    if restored.in_doubt.keys() != doubt.keys():
        return None
    return _plan(run_dir, covered[0], result, key0, restored, covered, typed.last())


class _SparseLog:
    """The lines of a verified log, typed where resume reads them. A record's seq is its
    index: a log with no finding but a torn tail has every seq in order from 0."""

    def __init__(
        self, lines: list[bytes], result: Verification, ranges: list[tuple[int, int]]
    ) -> None:
        self.lines = lines
        self.records, self.sealed = result.records, result.sealed_records
        self.covered_at = [i for i in range(self.sealed) if not any(a <= i <= b for a, b in ranges)]
        self.entries: dict[int, AuditEntry] = {}
        self.failed = False
        self.skipped: dict[int, bytes] = {}
        for i in range(self.records):
            action = line_action(lines[i]) if i < self.sealed else None
            if action is not None and action in SKIPPABLE:
                self.skipped[i] = action
            else:
                self._type(i)
        ends = STARTS | RESUME_NOTES  # a part of the run ends at the record before these
        at = self.covered_at
        for n, i in enumerate(at):
            after = self.entries.get(at[n + 1]) if n + 1 < len(at) else None
            if n in (0, len(at) - 1) or (after is not None and after.action in ends):
                self._type(i)
        self._type(self.records - 1)

    def _type(self, i: int) -> None:
        if i not in self.entries:
            e = line_entry(self.lines[i])
            if e is None:
                self.failed = True
            else:
                self.entries[i] = e

    def add_hosts(self, start: int) -> None:
        """Type the covered host records from line `start` on."""
        for i, action in self.skipped.items():
            if i >= start and action in HOST_ACTIONS:
                self._type(i)

    def covered(self) -> list[AuditEntry]:
        return [self.entries[i] for i in self.covered_at if i in self.entries]

    def unproven(self) -> list[AuditEntry]:
        return [self.entries[i] for i in range(self.sealed, self.records)]

    def last(self) -> AuditEntry:
        return self.entries[self.records - 1]


def _plan_parsed(run_dir: Path) -> ResumePlan:
    """`plan_resume` typing every record of the log."""
    path = log_path(run_dir)
    check_run_files(run_dir)
    try:
        run = read_run_log(path)
    except MissingLogError:  # killed between making the run directory and its first record
        run = None
    except AuditReadError as exc:
        raise ResumeError(str(exc)) from None
    log = log_file(path, run.data) if run is not None else None
    if run is None or log is None or not (log.entries or log.parsed.bad_lines):
        raise NothingToResume(
            f"run {run_dir.name} stopped before its audit log was written (nothing ran); "
            "start a new run"
        )
    run_id = log.run_id
    if run_id != run_dir.name:
        raise ResumeError(
            f"{path} belongs to run '{run_id}', not to {run_dir.name}: it was moved or forged"
        )
    key0 = load_key(run.keys, run_id)
    if key0 is None:
        raise ResumeError(
            f"cannot authenticate run {run_id}: its verification key is missing "
            f"({run.keys.key(run_id)}); sop resumes only logs whose seals it can check"
        )
    result = verify_run(run, parsed=log.parsed)
    if not result.ok and not result.only_torn:
        problems = "; ".join(str(f) for f in result.findings[:3])
        raise ResumeError(
            f"the audit log {path} does not verify ({problems}); "
            "sop will not resume from a log it cannot trust"
        )
    finished = [e for e in log.entries if e.action == Action.RUN_FINISHED]
    if finished:
        raise ResumeError(_finished(run_id, finished[-1]))
    if run.head is not None and run.head.finished:
        raise ResumeError(
            f"run {run_id} already finished (the key folder kept its sealed run-finished record, "
            f"seq {run.head.seq}); start a new run"
        )
    if result.sealed_records == 0:
        if result.records <= 1:  # killed between run-started and its seal: nothing ran
            raise NothingToResume(
                f"run {run_id} stopped before its first step (nothing ran); start a new run"
            )
        raise ResumeError(
            f"the audit log {path} has no seal to check (it was rewritten); "
            "sop will not resume from a log it cannot trust"
        )
    entries = log.entries
    covered = without_unproven(entries[: result.sealed_records], log.data)
    if covered[0].action != Action.RUN_STARTED:
        raise ResumeError(f"{path} has no run-started record: nothing to resume")
    unproven = entries[result.sealed_records :]
    restored = _restore(covered, unproven, _saved_state(run_dir, covered, unproven))
    return _plan(run_dir, covered[0], result, key0, restored, covered, entries[-1])


def _plan(
    run_dir: Path,
    started: AuditEntry,
    result: Verification,
    key0: bytes,
    restored: Restored,
    covered: Sequence[AuditEntry],
    last: AuditEntry,
) -> ResumePlan:
    unproven = result.records > result.sealed_records
    return ResumePlan(
        run_dir,
        started,
        Head(*result.head),
        restored,
        key0,
        result.next_seal,
        torn=not result.ok,
        latest=[e for e in covered if e.action in STARTS][-1],
        sop_sha256=last.sop_sha256,
        operator=covered[-1].operator,
        unproven=(result.sealed_records, result.records - 1) if unproven else None,
    )


def _finished(run_id: str, end: AuditEntry) -> str:
    if end.outcome == Outcome.ABORTED:
        why = f": {end.reason}" if end.reason else ""
        return (
            f"run {run_id} was aborted{why} ({end.time} by {end.operator}); an aborted run "
            "cannot be resumed: start a new run"
        )
    return f"run {run_id} already finished ({end.outcome}); start a new run"


def _saved_state(
    run_dir: Path, covered: Sequence[AuditEntry], unproven: Sequence[AuditEntry]
) -> dict[str, Any]:
    """state.json, if its hash is the last (or, after a crash, the one before) that a covered
    record holds."""
    path = run_dir / STATE
    recorded = [e.state_sha256 for e in covered if e.action == Action.STATE_SAVED]
    if not path.exists():
        if len(recorded) > 1:  # one record and no file: the crash came before the first write
            raise ResumeError(f"{path} is missing, though the audit log says it was saved")
        return {}
    try:
        data = read_regular_file(path, RUN_FILE_BYTES, follow_symlinks=False)
    except FileReadError as exc:
        raise ResumeError(str(exc)) from None
    digest = hashlib.sha256(data).hexdigest()
    if digest not in recorded[-2:]:
        later = any(e.action == Action.STATE_SAVED and e.state_sha256 == digest for e in unproven)
        raise ResumeError(
            f"{path} is not the state sop saved "
            + (
                "under a seal (its hash is only in records after the last verified seal: "
                "written by an older sop, or forged)"
                if later
                else "(its hash is not in the audit log): it was edited"
            )
        )
    return read_json(path)


def _restore(
    covered: Sequence[AuditEntry], unproven: Sequence[AuditEntry], saved: dict[str, Any]
) -> Restored:
    """Outcomes only from covered records; a step whose last covered record says it was
    running, or that the records after the last seal say started or finished, is in doubt, and
    so is one interrupted by Ctrl-C (it may have done part of its work) or finished with an
    outcome this sop does not know (a newer sop's log)."""
    outcomes: dict[str, Outcome] = {}
    last: dict[str, str] = {}
    evidence: dict[str, list[str]] = {}
    unknown: set[str] = set()
    excluded: dict[str, str] = {}
    decisions: dict[str, str] = {}
    rollbacks: list[tuple[str, str]] = []
    refusals: set[tuple[str, str, str, str]] = set()
    rejections: set[tuple[str, str, str, str, str]] = set()
    for e in covered:
        if e.action == Action.REFUSED:
            refusals.add((e.step_key, e.approver_id, e.binding, e.given))
        if e.action == Action.APPROVAL_REJECTED:
            rejections.add((e.step_key, e.approval_file, e.approver_id, e.given, e.reason))
        if e.action == Action.ROLLBACK_STARTED and not e.resumed:
            rollbacks.append((e.step_key, e.reason))
        if e.action == Action.HOST_EXCLUDED:  # for the rest of the run: the resumed part too
            excluded[e.host] = e.reason
        if e.action == Action.DECIDED:  # the walk goes where the run went (a later one wins)
            decisions[e.step_key] = e.choice
        if e.action == Action.SECTION_PASSED and e.section_key:
            decisions[e.section_key] = e.choice
        if e.action not in STEP_ACTIONS:
            continue
        key = e.step_key
        last[key] = e.action
        if e.action == Action.STEP_FINISHED:
            if e.outcome == Outcome.INTERRUPTED:  # stopped partway by Ctrl-C: in doubt
                outcomes[key] = Outcome.INTERRUPTED
                unknown.add(key)
                evidence.setdefault(key, []).extend(_evidence(e))
            elif isinstance(e.outcome, Outcome):
                outcomes[key] = e.outcome
                evidence.pop(key, None)
                unknown.discard(key)
            else:  # written by a newer sop: not known to be finished, so the responder decides
                unknown.add(key)
                evidence.setdefault(key, []).append(f"- {e.time}: finished as '{e.outcome}'")
        else:
            evidence.setdefault(key, []).extend(_evidence(e))
    in_doubt = {
        k: "\n".join(evidence.get(k, ["- no record of what ran"]))
        for k, a in last.items()
        if a in RUNNING or k in unknown
    }
    late: dict[str, list[str]] = {}
    for e in unproven:
        if e.action in STEP_ACTIONS:
            late.setdefault(e.step_key, []).extend(_evidence(e))
            if e.action in RUNNING or e.action == Action.STEP_FINISHED:
                in_doubt.setdefault(e.step_key, "\n".join(evidence.get(e.step_key, [])))
    for key in in_doubt:
        if late.get(key):
            in_doubt[key] = "\n".join(
                [
                    *([in_doubt[key]] if in_doubt[key] else []),
                    "  after the last verified seal (not proven):",
                    *late[key],
                ]
            )
        if key in late:
            outcomes.pop(key, None)
    variables = {str(prefix): values for prefix, values in saved.get("variables", {}).items()}
    recap = build_recap(covered, unproven, outcomes, in_doubt)
    return Restored(
        outcomes=outcomes,
        variables=variables,
        in_doubt=in_doubt,
        excluded=excluded,
        recap=recap,
        decisions=decisions,
        rollbacks=rollbacks,
        status_since=run_time_since_status(covered),
        refusals=frozenset(refusals),
        rejections=frozenset(rejections),
    )


def run_time_since_status(entries: Sequence[AuditEntry]) -> float:
    """Seconds of run time since the last status update (or the start): each part of the run
    counts from its run-started (or run-resumed) record, or the last update in it, to its
    run-paused record (a part that crashed: to its last record); the time it was paused does
    not count."""
    total = 0.0
    start: float | None = None  # the part being counted: its start, and its end so far
    end = 0.0
    for e in entries:
        if e.action in STARTS:
            total += end - start if start is not None else 0.0
            start = end = e.at
        elif start is None or e.action in RESUME_NOTES:
            continue
        elif e.action in (Action.STATUS_UPDATE, Action.STATUS_UPDATE_MISSED):
            total, start, end = 0.0, e.at, e.at
        else:
            end = e.at
            if e.action == Action.RUN_PAUSED:
                total += end - start
                start = None
    return total + (end - start if start is not None else 0.0)


def _evidence(e: AuditEntry) -> list[str]:
    if e.action == Action.COMMAND_STARTED:
        return [f"- {e.time} on {e.host}: started `{e.command}`"]
    if e.action == Action.HOST_FINISHED:
        tail = e.output_tail.strip().splitlines()[-3:]
        return [
            f"- {e.time} on {e.host}: {e.outcome}"
            + (f", exit {e.exit_code}" if e.exit_code is not None else "")
            + "".join(f"\n    {line}" for line in tail)
        ]
    if e.action == Action.STEP_STARTED:
        return [f"- {e.time}: attempt {e.attempt or 1} started on {', '.join(e.hosts)}"]
    if e.action == Action.STOPPING:
        return [f"- {e.time}: {e.message}"]
    if e.action == Action.STEP_FINISHED:
        return [f"- {e.time}: finished ({e.outcome})"]
    return []
