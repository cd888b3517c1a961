"""Where a run's screen output goes: a stream that, once it cannot be written, throws away
what follows and tells the run once, instead of failing wherever the write happened."""

from __future__ import annotations

import threading
from typing import Any, TextIO

from sop.errors import OutputClosed


class ClosingOutput:
    """`stream` (the terminal, or the pipe or file stdout goes to), for a run's rich Console.
    The first write or flush that fails (the pipe's reader left, the terminal hung up, the
    file's disk is full) closes it: from then on everything written is thrown away, and the
    main thread is told, once, by `OutputClosed` from the write it makes then (the run pauses
    there: `sop.run.runner`). Other threads (hosts' output, the progress ticker) never raise:
    a host's command goes on to its end, as confirmed, and its results reach the audit log."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self.failure: OSError | None = None
        self._told = False

    def write(self, text: str) -> int:
        if self.failure is None:
            try:
                return self._stream.write(text)
            except OSError as exc:
                self.failure = exc
        self._tell()
        return len(text)

    def flush(self) -> None:
        if self.failure is None:
            try:
                self._stream.flush()
                return
            except OSError as exc:
                self.failure = exc
        self._tell()

    def _tell(self) -> None:
        if not self._told and threading.current_thread() is threading.main_thread():
            self._told = True
            assert self.failure is not None
            raise OutputClosed(self.failure.strerror or str(self.failure)) from self.failure

    def __getattr__(self, name: str) -> Any:  # isatty, fileno, encoding: the stream's
        return getattr(self._stream, name)
