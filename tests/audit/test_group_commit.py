"""The run's audit sink writes records in order under the run's lock and waits for the disk
outside it: host threads that wait together share fsyncs, each returns only once an fsync has
covered its record, and the key folder never hears of a seal the disk does not hold yet."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pytest

from sop.audit import chain
from sop.audit import log as audit_log
from sop.audit.escrow import EscrowedHead
from sop.audit.log import AuditLog, SealState
from sop.audit.verify import verify_bytes

KEY0 = bytes(range(32))
HOSTS = 16


class Disk:
    """os.fsync and the head writer, instrumented: what each fsync covered (the log's size
    when it began), slowed so that threads pile up behind it."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, log_path: Path) -> None:
        self.covered: list[int] = []
        self.heads_ahead: list[int] = []
        self._path = log_path
        real_fsync, real_head = os.fsync, audit_log.write_head

        def fsync(fd: int) -> None:
            size = os.fstat(fd).st_size
            time.sleep(0.02)
            real_fsync(fd)
            self.covered.append(size)

        def write_head(path: Path, run_id: str, head: EscrowedHead) -> None:
            durable = self._path.read_bytes()[: max(self.covered, default=0)]
            if f'"hash":"{head.hash}"'.encode() not in durable:
                self.heads_ahead.append(head.seq)
            real_head(path, run_id, head)

        monkeypatch.setattr(audit_log.os, "fsync", fsync)
        monkeypatch.setattr(audit_log, "write_head", write_head)


def new_log(tmp_path: Path) -> AuditLog:
    common = {"event": {"kind": "event"}, "sop": {"run_id": "r1", "id": "demo", "sha256": "0" * 64}}
    state = SealState(chain.key_id(KEY0), 0, KEY0)
    return AuditLog(tmp_path / "audit.jsonl", common, seal=state, escrow=tmp_path / "r1.head")


def test_hosts_waiting_together_share_fsyncs_and_each_waits_for_its_own_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = new_log(tmp_path)
    disk = Disk(monkeypatch, log.path)
    run_lock = threading.Lock()
    start = threading.Barrier(HOSTS)
    durable_when_back: list[bool] = []

    def host(n: int) -> None:
        start.wait()
        with run_lock:  # the runner's lock: one writer at a time, in order
            log.write(1_700_000_000 + n, {"event": {"action": "command-started"}})
            end = os.fstat(log.fd).st_size
        log.sync()
        durable_when_back.append(max(disk.covered) >= end)

    threads = [threading.Thread(target=host, args=(n,)) for n in range(HOSTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    log.close(1_700_000_100)

    assert durable_when_back == [True] * HOSTS
    assert len(disk.covered) < HOSTS // 2, disk.covered  # shared, not one per host
    assert disk.heads_ahead == []
    data = log.path.read_bytes()
    result = verify_bytes(data, key0=KEY0)
    assert result.ok, result.findings
    actions = [json.loads(line)["event"]["action"] for line in data.splitlines()]
    assert actions.count("command-started") == HOSTS
    assert actions.count("seal") == HOSTS  # one after each command-started
    head = json.loads((tmp_path / "r1.head").read_text())
    assert (head["seq"], head["hash"]) == result.head


def test_append_is_on_disk_when_it_returns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = new_log(tmp_path)
    disk = Disk(monkeypatch, log.path)
    for n in range(3):
        log.append(1_700_000_000 + n, {"event": {"action": "step-confirmed"}})
        assert max(disk.covered) == log.path.stat().st_size
    assert disk.heads_ahead == []
    log.close(1_700_000_100)


def test_a_failed_fsync_breaks_the_log_for_every_waiter_and_later_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = new_log(tmp_path)

    def full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(audit_log.os, "fsync", full)
    log.write(1_700_000_000, {"event": {"action": "command-started"}})
    message = (
        f"cannot write the audit log {log.path}: No space left on device; "
        "the run stopped before the next command. The records written before are kept: once "
        "the log can be written again, `sop resume r1` goes on"
    )
    with pytest.raises(audit_log.AuditWriteError) as first:
        log.sync()
    assert str(first.value) == message
    with pytest.raises(audit_log.AuditWriteError) as later:
        log.write(1_700_000_001, {"event": {"action": "command-started"}})
    assert str(later.value) == message
    assert not (tmp_path / "r1.head").exists()  # nothing vouches for what may not be on disk


def test_the_key_folder_hears_of_each_seal_once_not_at_every_sync(tmp_path: Path) -> None:
    """Replacing the head file costs a rename (about a millisecond on a busy disk): it happens
    after a seal's fsync, not after every record's."""
    log = new_log(tmp_path)
    head_file = tmp_path / "r1.head"
    log.append(time.time(), {"event": {"action": "run-started"}})  # record 0 is sealed
    first = head_file.stat().st_ino
    for n in range(1, chain.SEAL_EVERY - 2):
        log.append(time.time(), {"event": {"action": "host-finished"}, "sop": {"n": n}})
    assert not log.sealed
    assert head_file.stat().st_ino == first  # not replaced: no seal since
    log.append(time.time(), {"event": {"action": "step-finished"}})  # sealed at once
    assert log.sealed
    assert head_file.stat().st_ino != first
    assert json.loads(head_file.read_text())["seq"] == log.head.seq
    log.close(time.time())


def test_a_state_that_cannot_be_saved_stops_the_run_and_the_lock_file_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sop.audit import session as audit_session
    from sop.audit.runs import run_status
    from sop.audit.state import stop_note
    from sop.events import RunStatus

    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    (state / "runs").mkdir(mode=0o700)
    monkeypatch.setenv("SOP_AUDIT_KEYS", str(tmp_path / "keys"))
    session = audit_session.start_session(state, "r2", {"sop": {"run_id": "r2"}})

    def full(path: Path, text: str, *, sync: bool = True) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(audit_session, "write_private", full)
    with pytest.raises(audit_log.AuditWriteError) as stopped:
        session.persist({"variables": {}}, 1_700_000_000)
    why = (
        f"cannot save the run state {session.run_dir / 'state.json'}: No space left on device; "
        "the run stopped before the next command. The records written before are kept: once "
        "the log can be written again, `sop resume r2` goes on"
    )
    assert str(stopped.value) == why
    session.close(1_700_000_001)
    assert stop_note(session.run_dir) == why
    assert run_status([], locked=False, stopped=why) == (RunStatus.STOPPED, why)
