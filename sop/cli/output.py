"""Where a run's screen output goes while it walks: stdout and stderr that, once they cannot be
written (the reader of a pipe left, the terminal hung up, the disk of a file is full), throw
away what follows and tell the run once, instead of failing wherever the write happened; and
a hang-up of the responder's terminal (SIGHUP) that pauses the run instead of killing sop."""

from __future__ import annotations

import contextlib
import errno
import signal
import sys
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Any, TextIO

from sop.errors import OutputClosed

HUNG_UP = "the terminal hung up"


class Outlets:
    """The run's output, closed as a whole: the first write or flush that fails on stdout or
    stderr (or a hang-up of the terminal) closes both. From then on everything written is thrown
    away, and the main thread is told, once, by `OutputClosed` from the write it makes then (the
    run pauses there: `sop.run.runner`). Other threads (hosts' output, the progress ticker)
    never raise: a host's command goes on to its end, as confirmed, and its results reach the
    audit log."""

    def __init__(self) -> None:
        self.failure: OSError | None = None
        self._told = False

    def wrap(self, stream: TextIO) -> ClosingOutput:
        return ClosingOutput(stream, self)

    def fail(self, exc: OSError) -> None:
        if self.failure is None:
            self.failure = exc

    def hang_up(self) -> None:
        """The terminal hung up: as a failed write, before any write finds out."""
        self.fail(OSError(errno.EIO, HUNG_UP))

    def tell(self) -> None:
        if not self._told and threading.current_thread() is threading.main_thread():
            self._told = True
            assert self.failure is not None
            raise OutputClosed(self.failure.strerror or str(self.failure)) from self.failure

    @contextlib.contextmanager
    def in_use(self, stdout: ClosingOutput, stderr: ClosingOutput) -> Iterator[None]:
        """sys.stdout and sys.stderr are `stdout` and `stderr` (so that every write, click's,
        rich's and Python's, goes through them), and SIGHUP closes them, for the block. From the
        main thread only; elsewhere the block runs as it is."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        saved = sys.stdout, sys.stderr

        def hung_up(signum: int, frame: FrameType | None) -> None:
            self.hang_up()

        previous = signal.signal(signal.SIGHUP, hung_up)
        sys.stdout, sys.stderr = stdout, stderr
        try:
            yield
        finally:
            sys.stdout, sys.stderr = saved
            signal.signal(signal.SIGHUP, previous)


class ClosingOutput:
    """One stream of `Outlets` (the terminal, or the pipe or file it goes to)."""

    def __init__(self, stream: TextIO, outlets: Outlets) -> None:
        self._stream = stream
        self._outlets = outlets

    @property
    def failure(self) -> OSError | None:
        return self._outlets.failure

    def write(self, text: str) -> int:
        if self._outlets.failure is None:
            try:
                return self._stream.write(text)
            except OSError as exc:
                self._outlets.fail(exc)
        self._outlets.tell()
        return len(text)

    def flush(self) -> None:
        if self._outlets.failure is None:
            try:
                self._stream.flush()
                return
            except OSError as exc:
                self._outlets.fail(exc)
        self._outlets.tell()

    def __getattr__(self, name: str) -> Any:  # isatty, fileno, encoding: the stream's
        return getattr(self._stream, name)
