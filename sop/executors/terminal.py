"""A command with the responder's terminal: an interactive step (`interactive: true`).

The command runs in a pseudo-terminal (a local pty, or an SSH channel with a pty) and `relay`
hands the responder's terminal to it: the terminal goes into raw mode, every key goes to the
command (Ctrl-C too: the command's terminal makes it a SIGINT, as in any shell), its output goes
to the terminal as it is, and a window size change follows (SIGWINCH). The session lasts until
the command exits or the responder detaches with DETACH_HELP, which ends it (sop hangs up).

What the command prints also goes to a `Watcher` (the run's recording, which masks it); what
the responder types goes to the command only."""

from __future__ import annotations

import contextlib
import os
import select
import signal
import termios
import threading
import time
import tty as ttymodes
from collections.abc import Iterator
from types import FrameType
from typing import Protocol, runtime_checkable

from sop.events import Outcome, SessionEnd
from sop.executors.base import HostResult, Job
from sop.model import Host
from sop.records import dataclass

ESCAPE = 0x1D  # Ctrl-]: the next key is for sop
DETACH = ord("d")  # Ctrl-] then d: detach
DETACH_HELP = "Ctrl-] then d"
CTRL_C = 0x03
SIGINT_STATUS = 128 + signal.SIGINT  # how a shell reports a command that Ctrl-C ended
READ_SIZE = 65536
POLL = 0.1  # seconds between looks at whether the command has ended
DEFAULT_SIZE = (80, 24)


@dataclass(frozen=True)
class Tty:
    """The responder's terminal: keys come from `input`, the command's output goes to `output`."""

    input: int
    output: int

    def size(self) -> tuple[int, int]:
        """(columns, rows) of the responder's terminal."""
        for fd in (self.output, self.input):
            with contextlib.suppress(OSError):
                size = os.get_terminal_size(fd)
                return size.columns, size.lines
        return DEFAULT_SIZE


class Watcher(Protocol):
    """Sees what the session shows (the recording): the command's output and size changes."""

    def output(self, data: bytes) -> None: ...

    def resize(self, columns: int, rows: int) -> None: ...


class Peer(Protocol):
    """The command's end of a session: a local pty or an SSH channel with a pty."""

    def fileno(self) -> int: ...

    def read(self) -> bytes:
        """What the command printed; b"" once it can print no more."""

    def write(self, data: bytes) -> None: ...

    def resize(self, columns: int, rows: int) -> None: ...

    def ended(self) -> bool:
        """Whether the command has exited."""

    def finish(self, hang_up: bool) -> int | None:
        """The command's exit status (None without one); `hang_up` ends it first."""


@dataclass(frozen=True)
class Relayed:
    detached: bool  # the responder detached (or their terminal went away)
    ctrl_c: bool  # the responder pressed Ctrl-C during the session


@dataclass(frozen=True)
class Session:
    """An interactive session's result, and how it ended."""

    result: HostResult
    ended: SessionEnd


class DetachKey:
    """Finds Ctrl-] d in what the responder types. Ctrl-] Ctrl-] sends one Ctrl-]; Ctrl-] with
    any other key sends both."""

    def __init__(self) -> None:
        self._escaped = False

    def feed(self, keys: bytes) -> tuple[bytes, bool]:
        """(what goes to the command, whether the responder detached)."""
        out = bytearray()
        for key in keys:
            if self._escaped:
                self._escaped = False
                if key == DETACH:
                    return bytes(out), True
                out += bytes([ESCAPE]) if key == ESCAPE else bytes([ESCAPE, key])
            elif key == ESCAPE:
                self._escaped = True
            else:
                out.append(key)
        return bytes(out), False


def relay(peer: Peer, tty: Tty, watcher: Watcher) -> Relayed:
    """Hand the responder's terminal to `peer` until the command has ended and its output is
    in, or the responder detaches."""
    keys = DetachKey()
    ctrl_c = False
    with _window_changes() as resized, _raw(tty.input):
        while True:
            ready = _ready([peer.fileno(), tty.input, resized])
            if resized in ready:
                os.read(resized, 64)
                columns, rows = tty.size()
                peer.resize(columns, rows)
                watcher.resize(columns, rows)
            if tty.input in ready:
                typed = _read(tty.input)
                if not typed:  # the responder's terminal is gone: as a detach
                    return Relayed(True, ctrl_c)
                sent, detached = keys.feed(typed)
                ctrl_c = ctrl_c or CTRL_C in sent
                if sent:
                    peer.write(sent)
                if detached:
                    return Relayed(True, ctrl_c)
            if peer.fileno() in ready and not _show(peer.read(), tty, watcher):
                return Relayed(False, ctrl_c)
            if not ready and peer.ended():  # exited; a child may hold its terminal open
                while _ready([peer.fileno()]) and _show(peer.read(), tty, watcher):
                    pass
                return Relayed(False, ctrl_c)


def _ready(fds: list[int]) -> set[int]:
    """Those of `fds` with something to read (or at their end), after at most POLL seconds.
    poll(), not select(): a run on many hosts holds descriptors numbered past 1024, which
    select() refuses."""
    waiting = select.poll()
    for fd in fds:
        waiting.register(fd, select.POLLIN)
    return {fd for fd, _ in waiting.poll(POLL * 1000)}


def _show(data: bytes, tty: Tty, watcher: Watcher) -> bool:
    """Write the command's output to the terminal and the watcher; False at its end."""
    if not data:
        return False
    view = memoryview(data)
    while view:
        view = view[os.write(tty.output, view) :]
    watcher.output(data)
    return True


def _read(fd: int) -> bytes:
    try:
        return os.read(fd, READ_SIZE)
    except OSError:  # EIO: the terminal hung up
        return b""


@contextlib.contextmanager
def _raw(fd: int) -> Iterator[None]:
    """The terminal in raw mode (every key as it is typed, no echo, no signals), restored after."""
    if not os.isatty(fd):
        yield
        return
    saved = termios.tcgetattr(fd)
    ttymodes.setraw(fd, termios.TCSANOW)
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


@contextlib.contextmanager
def _window_changes() -> Iterator[int]:
    """A file descriptor that becomes readable when the terminal's size changes (SIGWINCH, in
    the main thread; elsewhere never)."""
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)
    previous = None
    main = threading.current_thread() is threading.main_thread()

    def changed(signum: int, frame: FrameType | None) -> None:
        with contextlib.suppress(OSError):
            os.write(wake_write, b"w")

    if main:
        previous = signal.signal(signal.SIGWINCH, changed)
    try:
        yield wake_read
    finally:
        if main:
            signal.signal(signal.SIGWINCH, previous)
        os.close(wake_read)
        os.close(wake_write)


def attend(peer: Peer, tty: Tty, watcher: Watcher, host: str, started: float) -> Session:
    """`relay` until the session ends, then finish it (hanging up if the responder detached,
    or if anything went wrong) and say how it counts; `started`: the monotonic clock's time."""
    try:
        relayed = relay(peer, tty, watcher)
    except BaseException:
        peer.finish(hang_up=True)
        raise
    code = peer.finish(hang_up=relayed.detached)
    return session_result(host, code, relayed, time.monotonic() - started)


def session_result(
    host: str, code: int | None, relayed: Relayed, duration: float, error: str = ""
) -> Session:
    """How the session counts: ended by the responder (detached, or Ctrl-C that ended the
    command) is a success with a note, not a failure; otherwise the command's exit status."""
    if relayed.detached:
        note = f"ended by the responder (detached: {DETACH_HELP})"
        return Session(
            HostResult(host, Outcome.SUCCESS, code, "", "", duration, note=note),
            SessionEnd.DETACHED,
        )
    if relayed.ctrl_c and code in (None, SIGINT_STATUS):
        note = "ended by the responder (Ctrl-C)"
        return Session(
            HostResult(host, Outcome.SUCCESS, code, "", "", duration, note=note), SessionEnd.CTRL_C
        )
    if code is None and not error:
        error = "the session closed before the command ended"
    outcome = Outcome.SUCCESS if code == 0 else Outcome.FAILURE
    return Session(HostResult(host, outcome, code, "", "", duration, error), SessionEnd.EXIT)


@runtime_checkable
class Attaching(Protocol):
    """An executor that can hand the responder's terminal to a command (local, SSH)."""

    def interact(self, job: Job, host: Host, tty: Tty, watcher: Watcher) -> Session: ...
