"""Handing a terminal to a command (sop/executors/terminal.py): the detach keys, how a session
counts, and a local session relayed between a pseudo-terminal (the responder's) and a command."""

from __future__ import annotations

import os
import select
import threading

from sop.events import Outcome, SessionEnd
from sop.executors.base import Job
from sop.executors.local import LocalExecutor
from sop.executors.terminal import DetachKey, Relayed, Session, Tty, session_result
from sop.model import LOCAL_HOST


def test_ctrl_bracket_then_d_detaches_and_other_keys_pass() -> None:
    keys = DetachKey()
    assert keys.feed(b"ls\r") == (b"ls\r", False)
    assert keys.feed(b"a\x1d") == (b"a", False)  # held: the next key decides
    assert keys.feed(b"x") == (b"\x1dx", False)
    assert keys.feed(b"\x1d\x1d") == (b"\x1d", False)  # twice sends one
    assert keys.feed(b"q\x1dd\x03") == (b"q", True)


def test_how_a_session_counts() -> None:
    detached = session_result("h1", None, Relayed(True, False), 1.0)
    assert (detached.ended, detached.result.outcome, detached.result.note) == (
        SessionEnd.DETACHED,
        Outcome.SUCCESS,
        "ended by the responder (detached: Ctrl-] then d)",
    )
    for code in (130, None):
        ended = session_result("h1", code, Relayed(False, True), 1.0)
        assert (ended.ended, ended.result.outcome, ended.result.note) == (
            SessionEnd.CTRL_C,
            Outcome.SUCCESS,
            "ended by the responder (Ctrl-C)",
        )
    failed = session_result("h1", 1, Relayed(False, True), 1.0)  # Ctrl-C, then an error
    assert (failed.ended, failed.result.outcome) == (SessionEnd.EXIT, Outcome.FAILURE)
    lost = session_result("h1", None, Relayed(False, False), 1.0)
    assert (lost.result.outcome, lost.result.error) == (
        Outcome.FAILURE,
        "the session closed before the command ended",
    )


class Watched:
    def __init__(self) -> None:
        self.shown = bytearray()
        self.sizes: list[tuple[int, int]] = []

    def output(self, data: bytes) -> None:
        self.shown += data

    def resize(self, columns: int, rows: int) -> None:
        self.sizes.append((columns, rows))


def read_all(fd: int) -> bytes:
    out = b""
    while select.select([fd], [], [], 0.2)[0]:
        try:
            out += os.read(fd, 65536)
        except OSError:
            break
    return out


def test_a_local_session_gets_the_keys_and_its_output_reaches_terminal_and_watcher() -> None:
    master, slave = os.openpty()  # the responder's terminal: they type into `master`
    watched = Watched()
    done: list[Session] = []
    command = 'read -r line; echo "got $line from $SOP_STEP"; exit 3'
    job = Job("run", command, env={"SOP_STEP": "ask"}, step_id="ask")

    def interact() -> None:
        done.append(LocalExecutor().interact(job, LOCAL_HOST, Tty(slave, slave), watched))

    worker = threading.Thread(target=interact)
    worker.start()
    os.write(master, b"hello\r")
    worker.join(10)
    shown = read_all(master)
    os.close(master)
    os.close(slave)
    [session] = done
    assert (session.ended, session.result.exit_code, session.result.outcome) == (
        SessionEnd.EXIT,
        3,
        Outcome.FAILURE,
    )
    assert b"got hello from ask" in shown
    assert b"got hello from ask" in watched.shown
