"""Audit logs for the render tests: a fixed, synthetic history of the sample SOP (timestamps fixed,
so the pages are byte for byte the same), and helpers that turn a real run's log into a drill or
tamper with it."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

from sop.audit import chain
from sop.audit.escrow import escrow_key, key_folder
from sop.audit.log import AuditLog, SealState
from sop.audit.state import AUDIT

Fields = dict[str, Any]


def at(text: str) -> float:
    """`2026-11-02 09:15:00` (UTC) as seconds since the epoch."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC).timestamp()


def write_log(
    state_dir: Path, run_id: str, kind: str, operator: str, events: list[tuple[str, Fields]]
) -> Path:
    """A sealed log of `events`: (UTC time, the record's own fields), its key and head kept in
    the key folder ($SOP_AUDIT_KEYS) as sop's writer keeps them."""
    run_dir = state_dir / "runs" / run_id
    run_dir.mkdir(parents=True)
    common = {
        "event": {"kind": "event"},
        **({"tags": [kind]} if kind != "event" else {}),
        "sop": {"run_id": run_id, "id": "restart-api", "sha256": "0" * 64, "operator": operator},
    }
    log = sealed_log(run_dir / AUDIT, common, run_id)
    for when, fields in events:
        log.append(at(when), fields)
    log.close(0)
    return run_dir / AUDIT


def sealed_log(path: Path, common: Fields, run_id: str) -> AuditLog:
    key0 = os.urandom(32)
    keys = key_folder()
    escrow_key(keys, run_id, key0)
    seal = SealState(chain.key_id(key0), 0, key0)
    return AuditLog(path, common, seal=seal, escrow=keys.head(run_id))


def started(incident: str = "") -> Fields:
    out: Fields = {"event": {"action": "run-started"}, "sop": {"title": "Restart the API safely"}}
    if incident:
        out["labels"] = {"incident": incident}
    return out


def step(step_id: str, number: str, outcome: str, seconds: float, attempt: int = 1) -> Fields:
    return {
        "event": {
            "action": "step-finished",
            "outcome": "success" if outcome in ("success", "done") else "failure",
            "duration": int(seconds * 1e9),
        },
        "sop": {"step": step_id, "number": number, "attempt": attempt, "outcome": outcome},
    }


def host(step_id: str, name: str, exit_code: int | None, error: str = "") -> Fields:
    out: Fields = {
        "event": {"action": "host-finished", "outcome": "failure", "duration": 10**9},
        "sop": {
            "step": step_id,
            "number": "4",
            "attempt": 3,
            "outcome": "failure",
            "target": {"name": name},
        },
    }
    if exit_code is not None:
        out["process"] = {"exit_code": exit_code}
    if error:
        out["error"] = {"message": error}
    return out


def finished(outcome: str) -> Fields:
    return {
        "event": {"action": "run-finished", "outcome": "success"},
        "sop": {"outcome": outcome},
    }


def synthetic_state(state_dir: Path) -> Path:
    """The sample SOP's history: two real runs (the later one failed, with a handover), a drill,
    a crashed run with a torn last line, and a log someone edited."""
    write_log(
        state_dir,
        "20261102T091500-aaaaaaaa",
        "event",
        "alice",
        [
            ("2026-11-02 09:15:00", started("INC-101")),
            ("2026-11-02 09:17:00", step("check", "1", "done", 120)),
            ("2026-11-02 09:17:02", step("status", "2", "success", 1.2)),
            ("2026-11-02 09:17:40", step("restart", "3", "success", 35)),
            ("2026-11-02 09:17:45", step("warm", "4", "success", 4)),
            ("2026-11-02 09:17:46", finished("success")),
        ],
    )
    torn = write_log(
        state_dir,
        "20261110T120000-bbbbbbbb",
        "event",
        "alice",
        [
            ("2026-11-10 12:00:00", started()),
            ("2026-11-10 12:01:30", step("check", "1", "done", 100)),
        ],
    )
    with torn.open("ab") as handle:
        handle.write(b'{"seq": 2, "prev": "')
    write_log(
        state_dir,
        "20261120T224000-cccccccc",
        "event",
        "bob",
        [
            ("2026-11-20 22:40:00", started("INC-117")),
            ("2026-11-20 22:41:35", step("check", "1", "done", 95)),
            ("2026-11-20 22:41:37", step("status", "2", "success", 1.6)),
            (
                "2026-11-20 22:42:00",
                {"event": {"action": "handover"}, "sop": {"operator": "carol"}},
            ),
            ("2026-11-20 22:42:31", step("restart", "3", "success", 31)),
            ("2026-11-20 22:43:40", host("warm", "web-1", 22)),
            ("2026-11-20 22:43:41", host("warm", "web-2", None, "timed out after 60s")),
            ("2026-11-20 22:43:42", step("warm", "4", "failure", 62, attempt=3)),
            ("2026-11-20 22:43:50", finished("failure")),
        ],
    )
    write_log(
        state_dir,
        "20261125T100000-dddddddd",
        "drill",
        "dave",
        [
            ("2026-11-25 10:00:00", started()),
            ("2026-11-25 10:01:30", step("check", "1", "done", 90)),
            ("2026-11-25 10:01:31", step("status", "2", "success", 1)),
            ("2026-11-25 10:02:01", step("restart", "3", "success", 30)),
            ("2026-11-25 10:02:06", step("warm", "4", "success", 5)),
            ("2026-11-25 10:02:07", finished("success")),
        ],
    )
    edited = write_log(
        state_dir,
        "20261127T080000-eeeeeeee",
        "event",
        "mallory",
        [
            ("2026-11-27 08:00:00", started()),
            ("2026-11-27 08:00:01", step("check", "1", "done", 1)),
            ("2026-11-27 08:00:02", finished("success")),
        ],
    )
    tamper(edited, "mallory", "trusted-admin")
    return state_dir


def tamper(log: Path, old: str, new: str) -> None:
    """Edit the first line that mentions `old`, leaving the chain as it was."""
    lines = log.read_text().splitlines(keepends=True)
    number = next(i for i, line in enumerate(lines) if old in line)
    lines[number] = lines[number].replace(old, new)
    log.write_text("".join(lines))


def as_drill(log: Path, run_dir: Path) -> Path:
    """A real run's log written again as a drill's, by sop's writer under a key of its own:
    every record is tagged "drill" (its seals are the new run's)."""
    run_dir.mkdir(mode=0o700)
    records = [json.loads(line) for line in log.read_text().splitlines()]
    common = {"sop": {"run_id": run_dir.name}, "tags": ["drill"]}
    out = sealed_log(run_dir / AUDIT, common, run_dir.name)
    for record in records:
        if record["event"]["action"] == "seal":
            continue
        when = dt.datetime.fromisoformat(record["@timestamp"]).timestamp()
        fields = {k: v for k, v in record.items() if k != "@timestamp"}
        fields["event"] = {
            k: v for k, v in fields["event"].items() if k not in ("sequence", "hash")
        }
        fields["sop"] = {**fields["sop"], "run_id": run_dir.name}
        del fields["sop"]["prev"]
        fields["tags"] = ["drill"]
        out.append(when, fields)
    out.close(0)
    return run_dir / AUDIT
