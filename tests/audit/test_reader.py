"""The typed reader: every record as an AuditEntry, old logs with missing fields included."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from sop import events as ev
from sop.audit import chain
from sop.audit.actions import Action
from sop.audit.log import AuditSink
from sop.audit.reader import (
    AuditEntry,
    MissingLogError,
    entry,
    read_log,
    read_logs,
    read_run,
)
from sop.audit.records import body
from sop.audit.session import common_fields
from sop.events import Outcome
from tests.render.auditlogs import sealed_log

COMMON = common_fields(
    run_id="r1",
    trace_id="t1",
    span_id="00f067aa0ba902b7",
    sop_id="demo",
    sha256="f" * 64,
    operator="ana",
    incident="INC-7",
    kind="drill",
    scenario="disk-full",
)
STEP = ev.StepRef("rotate", "2", "Rotate the logs", "run", "disk", depth=1)


def write_run(run_dir: Path) -> Path:
    """A run's log as sop writes it (sealed, its key and head in the key folder), named after
    its folder, left open (no seal at the end)."""
    run_dir.mkdir(parents=True)
    common = {**COMMON, "sop": {**COMMON["sop"], "run_id": run_dir.name}}
    log = sealed_log(run_dir / "audit.jsonl", common, run_dir.name)
    sink = AuditSink(log)
    sink.emit(ev.AuditNote(1_700_000_000.0, Action.HANDOVER, "bob handed over", {"from": "bob"}))
    sink.emit(
        ev.HostFinished(
            1_700_000_001.5,
            STEP,
            host="web1",
            outcome="failure",
            exit_code=3,
            stdout="one\ntwo\n",
            stderr="",
            duration=1.25,
            attempt=2,
        )
    )
    sink.emit(ev.Deviation(1_700_000_002.0, STEP, "edit", "typo", "rm -rf /", "rm -rf ./x"))
    os.close(log.fd)
    return run_dir / "audit.jsonl"


def test_a_written_log_reads_back_as_typed_entries(tmp_path: Path) -> None:
    path = write_run(tmp_path / "runs" / "r1")
    log = read_log(path)
    assert log.run_id == "r1"
    assert log.verify().ok
    note, host, deviation = (e for e in log.entries if e.action != Action.SEAL)
    assert note.action is Action.HANDOVER
    assert (note.seq, note.operator, note.incident, note.scenario) == (
        0,
        "ana",
        "INC-7",
        "disk-full",
    )
    assert (note.event_kind, note.trace_id, note.message) == ("drill", "t1", "bob handed over")
    assert host.action is Action.HOST_FINISHED
    assert host.outcome is Outcome.FAILURE
    assert (host.host, host.exit_code, host.attempt, host.duration_ns) == (
        "web1",
        3,
        2,
        1_250_000_000,
    )
    assert (host.step_id, host.number, host.step_title, host.called_sop) == (
        "rotate",
        "2",
        "Rotate the logs",
        "disk",
    )
    assert host.output_tail == "one\ntwo\n"
    assert host.ecs_outcome == "failure"
    assert host.time == "2023-11-14T22:13:21.500Z"
    assert host.at == 1_700_000_001.5
    assert (deviation.deviation_kind, deviation.reason) == ("edit", "typo")
    assert (deviation.deviation_original, deviation.deviation_replacement) == (
        "rm -rf /",
        "rm -rf ./x",
    )
    assert read_run(path.parent) == log.entries


def test_a_step_has_one_key_in_the_runner_and_in_the_log() -> None:
    shown = entry(body(ev.StepShown(0.0, STEP)) or {})
    assert shown.step_key == STEP.key == "disk:2"
    top = ev.StepRef("check", "1", "Check", "prose", "demo")
    assert entry(body(ev.StepShown(0.0, top)) or {}).step_key == top.key == "check"


def test_a_record_from_an_older_sop_reads_with_its_missing_fields_empty(tmp_path: Path) -> None:
    """No attempt, duration, exit code, trace, user or labels: an early version's line, in
    plain json.dumps form rather than the writer's canonical form."""
    record = {
        "@timestamp": "2025-01-02T03:04:05.000Z",
        "event": {"action": "step-finished"},
        "sop": {"run_id": "old", "step": "a", "number": "1", "outcome": "success"},
        "seq": 0,
        "prev": chain.GENESIS,
    }
    record["hash"] = chain.link_hash(chain.GENESIS, record)
    path = tmp_path / "audit.jsonl"
    path.write_text(json.dumps(record) + "\n")
    log = read_log(path)
    assert log.verify().ok
    assert log.entries == (
        AuditEntry(
            action=Action.STEP_FINISHED,
            seq=0,
            time="2025-01-02T03:04:05.000Z",
            run_id="old",
            step_id="a",
            number="1",
            outcome=Outcome.SUCCESS,
        ),
    )
    (old,) = log.entries
    assert (old.attempt, old.duration_ns, old.seconds, old.exit_code) == (None, None, None, None)
    assert (old.operator, old.trace_id, old.incident, old.hosts) == ("", "", "", ())


def test_unknown_values_stay_plain_strings_and_odd_shapes_read_as_empty() -> None:
    newer = entry({"event": {"action": "signed"}, "sop": {"outcome": "vetoed", "attempt": True}})
    assert (newer.action, newer.outcome, newer.attempt) == ("signed", "vetoed", None)
    assert not isinstance(newer.action, Action)
    odd = entry({"event": "step-shown", "sop": ["x"], "seq": "3"})
    assert odd == AuditEntry(action="")
    assert odd.at == 0.0
    assert odd.step_key == ""


def test_a_run_title_and_a_step_title_are_told_apart() -> None:
    started = entry({"event": {"action": "run-started"}, "sop": {"title": "Disk full"}})
    assert (started.sop_title, started.step_title) == ("Disk full", "")
    step = entry({"event": {"action": "step-shown"}, "sop": {"step": "a", "title": "Look"}})
    assert (step.sop_title, step.step_title) == ("", "Look")


def test_a_torn_tail_is_no_entry(tmp_path: Path) -> None:
    path = write_run(tmp_path / "r1")
    with path.open("ab") as handle:
        handle.write(b'{"seq": 4, "ha')
    log = read_log(path)
    assert len(log.entries) == 4  # three records and the seal after the first
    assert log.verify().only_torn


def test_a_missing_log_says_so(tmp_path: Path) -> None:
    with pytest.raises(MissingLogError) as caught:
        read_log(tmp_path / "audit.jsonl")
    assert str(caught.value) == f"no audit log at {tmp_path / 'audit.jsonl'}"


def test_read_logs_checks_each_run_and_follows_no_symbolic_link(tmp_path: Path) -> None:
    write_run(tmp_path / "runs" / "r1")
    write_run(tmp_path / "elsewhere")
    (tmp_path / "runs" / "r2").symlink_to(tmp_path / "elsewhere")
    edited = write_run(tmp_path / "runs" / "r3")
    edited.write_bytes(edited.read_bytes().replace(b"web1", b"web2"))
    logs = read_logs(tmp_path)
    assert [(log.run_id, len(log.entries), log.torn) for log in logs] == [
        ("r1", 2, False),  # what the seal covers: the first record and its seal
        ("r3", 4, False),  # untrusted: every entry, to name its SOP
    ]
    assert logs[0].problem == ""
    assert logs[1].problem == "line 3: edited: the record does not match its hash"
