"""Resume types only the records its plan reads (seals and most per-host records stay bytes):
the plan, or the refusal, must be exactly the one from typing every record, for a long run cut
after any line, with a torn or forged tail, after a seal or between two."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sop.audit.actions import Action
from sop.audit.escrow import key_folder
from sop.audit.log import AuditLog
from sop.audit.session import common_fields, start_session
from sop.audit.state import prepare_state_dir
from sop.errors import SopError
from sop.run import resume

RUN_ID = "20261206T101500-a1b2c3d4"
HOSTS = ("web1", "web2", "web3")
AT = 1_765_000_000.0


def step(n: int, *, attempt: int = 1, **more: Any) -> dict[str, Any]:
    return {"step": f"s{n}", "number": str(n), "title": f"step {n}", "attempt": attempt, **more}


class Writer:
    def __init__(self, log: AuditLog) -> None:
        self.log, self.clock = log, itertools.count()

    def __call__(self, action: str, **sop: Any) -> None:
        fields: dict[str, Any] = {"event": {"action": action}, "sop": sop}
        if "command" in sop:
            fields["process"] = {"command_line": sop.pop("command")}
        self.log.write(AT + next(self.clock) * 1.5, fields)

    def seal(self) -> None:
        self.log.seal(AT + next(self.clock) * 1.5)

    def fleet_step(self, n: int, outcome: str, *, attempt: int = 1, stop: bool = False) -> None:
        self(Action.STEP_SHOWN, **step(n))
        self(Action.STEP_CONFIRMED, **step(n, attempt=attempt), confirmation="yes")
        self(Action.STEP_STARTED, **step(n, attempt=attempt), hosts=list(HOSTS), command="true")
        for host in HOSTS:
            self(Action.COMMAND_STARTED, **step(n, attempt=attempt), target={"name": host})
        if stop:
            self(Action.STOPPING, **step(n), hosts=[HOSTS[-1]])
        for host in HOSTS[: -1 if stop else None]:
            self(
                Action.HOST_FINISHED,
                **step(n, attempt=attempt),
                target={"name": host},
                outcome="success" if host != "web2" else outcome,
                output={"tail": f"{host}: line 1\nline 2\n"},
            )
        results = [{"host": h, "outcome": outcome} for h in HOSTS]
        self(Action.STEP_FINISHED, **step(n, attempt=attempt), outcome=outcome, results=results)
        self(Action.STATE_SAVED, state_sha256=f"{n:064x}")


def write_run(state_dir: Path) -> Path:
    """A long run with everything resume reads: steps that succeed, fail, are interrupted by
    Ctrl-C, end with an outcome this sop does not know, are stopped waiting, retried; decisions,
    a rollback, approvals, an excluded host, status updates, a pause, a resume with its notes
    (an unproven range among them), a resume after a crash, and the records of the resumed part."""
    common = common_fields(
        run_id=RUN_ID,
        trace_id="1" * 32,
        span_id="2" * 16,
        sop_id="long",
        sha256="a" * 64,
        operator="ana",
        incident=None,
        kind="event",
    )
    session = start_session(prepare_state_dir(state_dir), RUN_ID, common)
    w = Writer(session.log)
    w(Action.RUN_STARTED, title="Long", severity="sev2", status={"every": 600})
    outcomes = ["success", "failure", "interrupted", "half-done", "skipped", "success"]
    for n in range(1, 13):
        w.fleet_step(n, outcomes[n % len(outcomes)], stop=n == 7)
        if n == 3:
            w(Action.DECIDED, **step(n), choice="rollback")
            w(Action.ROLLBACK_STARTED, **step(n), reason="bad deploy")
            w(Action.HOST_EXCLUDED, **step(n), target={"name": "web3"}, reason="disk")
        if n == 4:
            w.fleet_step(n, "success", attempt=2)
            w(Action.STATUS_UPDATE, status={"text": "half way", "how": "given"})
        if n == 5:
            w(Action.SECTION_PASSED, section={"id": "verify", "key": "verify@2"}, choice="pass")
            w(
                Action.REFUSED,
                **step(n),
                approval={"binding": "b" * 64, "given": "t", "approver": {"id": "bo"}},
            )
            w(Action.APPROVED, **step(n), approval={"binding": "c" * 64, "approver": {"id": "cy"}})
            w(
                Action.APPROVAL_REJECTED,
                **step(n),
                approval={"file": "f.json", "approver": {"id": "dy"}, "given": "t"},
                reason="not for this",
            )
        if n == 6:
            w(Action.RUN_PAUSED)
            w(Action.HANDOVER, reason="shift change")
            w(Action.UNPROVEN, from_seq=90, to_seq=93)
            w(Action.RUN_RESUMED, severity="sev1")
            w(Action.ROLLBACK_STARTED, **step(3), reason="bad deploy", resumed=True)
        if n == 9:
            w(Action.STATUS_UPDATE_MISSED, status={"due": "t"})
        if n == 10:  # killed: the part of the run ends at its last record, a seal
            w(Action.STEP_SHOWN, **step(11))
            w.seal()
            w(Action.SOP_CHANGED, reason="fixed a typo")
            w(Action.RUN_RESUMED, severity="sev1")
    session.log.seal(AT)
    session.close(AT)
    return state_dir / "runs" / RUN_ID


def both(run_dir: Path) -> tuple[Any, Any]:
    """(sparse, whole): the plan from the records resume types (None where it reads the log
    whole: a log that does not verify, or a run it refuses) and from every record typed;
    a refusal as its type and message."""
    out = []
    for plan in (resume._plan_sparse, resume._plan_parsed):
        try:
            out.append(plan(run_dir))
        except SopError as exc:
            out.append((type(exc), str(exc)))
    return out[0], out[1]


def cuts(lines: list[bytes]) -> Iterator[tuple[str, bytes]]:
    for n in range(1, len(lines) + 1):
        whole = b"".join(lines[:n])
        yield f"after line {n}", whole
        if n < len(lines):
            yield f"torn after line {n}", whole + lines[n][: len(lines[n]) // 2]
            yield (
                f"line {n} forged",
                b"".join(lines[: n - 1]) + lines[n - 1].replace(b"ana", b"eve"),
            )


@pytest.fixture
def run_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    # each cut keeps a state file of its own: the state's checks are the same code either way
    monkeypatch.setattr(resume, "_saved_state", lambda *_: {})
    return write_run(tmp_path / "state")


def test_the_whole_run_is_planned_the_same_from_the_records_resume_reads(run_dir: Path) -> None:
    sparse, whole = both(run_dir)
    assert sparse == whole
    assert len(whole.restored.in_doubt) >= 3
    assert whole.restored.rollbacks and whole.restored.refusals and whole.restored.decisions
    assert whole.restored.rejections == frozenset({("s5", "f.json", "dy", "t", "not for this")})
    assert whole.restored.status_since > 0


def test_a_run_cut_after_any_line_torn_or_forged_is_planned_the_same(run_dir: Path) -> None:
    log = run_dir / "audit.jsonl"
    key_folder(run_dir.parent.parent).head(RUN_ID).unlink()  # else every cut is a truncation
    lines = log.read_bytes().splitlines(keepends=True)
    assert len(lines) > 200
    planned = 0
    for name, data in cuts(lines):
        log.write_bytes(data)
        sparse, whole = both(run_dir)
        if sparse is None:  # read whole: only a log resume refuses
            assert isinstance(whole, tuple), name
        else:
            assert sparse == whole, name
            planned += 1
    assert planned > len(lines) // 2  # most cuts are resumed, not refused
