"""Logs written in the first record format (tests/data/audit-v1, before ECS conformance) still
verify with their keys and read back the same, through the one reader."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from sop.audit.actions import Action
from sop.audit.reader import read_entries
from sop.audit.report import run_report
from sop.audit.verify import verify_bytes
from sop.events import Outcome

DATA = Path(__file__).parent.parent / "data" / "audit-v1"
RUN, DRILL = "20261206T080648-7e322d42", "20261206T080652-e6e139f2"
RUN_HEAD = (55, "bebed33338ba76f9232bc49ee536fc1ba60bcfc8a02e019e3f92598f2aadaaa7")


def key(run_id: str) -> bytes:
    return bytes.fromhex((DATA / "keys" / f"{run_id}.key").read_text().strip())


@pytest.mark.parametrize(("name", "run_id"), [("run", RUN), ("drill", DRILL)])
def test_an_old_log_verifies_with_its_key(name: str, run_id: str) -> None:
    result = verify_bytes((DATA / f"{name}.jsonl").read_bytes(), key0=key(run_id))
    assert result.findings == []
    assert result.proven
    assert result.records == 56


def test_an_old_log_verifies_against_its_anchor_and_catches_an_edit() -> None:
    data = (DATA / "run.jsonl").read_bytes()
    assert verify_bytes(data, key0=key(RUN), anchor=RUN_HEAD).findings == []
    edited = data.replace(b'"workdir":"/tmp/ecsfx/work"', b'"workdir":"/tmp/ecsfx/wirk"', 1)
    findings = verify_bytes(edited, key0=key(RUN)).findings
    assert [str(f) for f in findings][:1] == ["line 1: edited: the record does not match its hash"]


def test_an_old_log_reads_back_typed() -> None:
    entries = read_entries(DATA / "run.jsonl")
    first, last = entries[0], entries[-2]
    assert (first.action, first.seq, first.run_id, first.operator, first.incident) == (
        Action.RUN_STARTED,
        0,
        RUN,
        "root",
        "INC-42",
    )
    assert dict(first.inputs) == {"keep": "2", "workdir": "/tmp/ecsfx/work"}
    assert first.event_kind == "event"
    assert (last.action, last.outcome) == (Action.RUN_FINISHED, Outcome.SUCCESS)
    finished = [e for e in entries if e.action == Action.HOST_FINISHED]
    assert {e.host for e in finished} == {"local"}
    assert [e.step_id for e in finished] == ["setup", "usage", "rotate", "verify"]


def test_an_old_drill_reads_as_a_drill() -> None:
    entries = read_entries(DATA / "drill.jsonl")
    assert entries[0].event_kind == "drill"
    assert entries[0].drill_simulated is True


def test_an_old_log_reports(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.mkdir(mode=0o700)
    shutil.copy(DATA / "keys" / f"{RUN}.key", keys)
    (keys / f"{RUN}.key").chmod(0o600)
    log = tmp_path / "audit.jsonl"
    shutil.copy(DATA / "run.jsonl", log)
    log.chmod(0o600)
    report = run_report(log, key=keys / f"{RUN}.key")
    assert f"head {RUN_HEAD[0]}:{RUN_HEAD[1]}, 20 seal(s) verified**" in report
    assert (
        "| root | 4 Rotate the big log, keep the newest | local | host-finished | success |"
        in report
    )
    assert "(keep=2, workdir=/tmp/ecsfx/work)" in report
