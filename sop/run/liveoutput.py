"""Hosts' output on its way to the responder, live: masked as it arrives (every complete line at
once, `redact.StreamRedactor`), and what the redactor holds back because it could begin a secret
is released, masked, after IDLE seconds without new output on that stream, so a prompt without
a newline (`Password: `) shows."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from types import TracebackType

from sop.redact import Redactor, StreamRedactor

IDLE = 0.05  # seconds without new output after which a held tail is released
Deliver = Callable[[str, str, str], None]  # (host, stream, masked text)


class _Stream:
    def __init__(self, redactor: StreamRedactor) -> None:
        self.redactor = redactor
        self.lock = threading.Lock()
        self.last = 0.0  # when it last got output (time.monotonic)


class LiveOutput:
    """One step's output streams (host, stdout|stderr). Safe to feed from a thread per host;
    with secrets to mask, a thread of its own releases idle tails while the step runs."""

    def __init__(self, redactor: Redactor, deliver: Deliver, idle: float = IDLE) -> None:
        self._redactor = redactor
        self._deliver = deliver
        self._idle = idle
        self._streams: dict[tuple[str, str], _Stream] = {}
        self._streams_lock = threading.Lock()
        self._held = threading.Event()  # a stream may hold something back
        self._done = threading.Event()
        self._releaser: threading.Thread | None = None

    def __enter__(self) -> LiveOutput:
        if self._redactor.longest:  # no secret: nothing is ever held back
            self._releaser = threading.Thread(
                target=self._release_idle, name="sop-live-output", daemon=True
            )
            self._releaser.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._done.set()
        self._held.set()
        if self._releaser is not None:
            self._releaser.join()
        for host, stream in list(self._streams):
            self._finish(host, stream)

    def feed(self, host: str, stream: str, text: str) -> None:
        one = self._stream(host, stream)
        with one.lock:
            one.last = time.monotonic()
            masked = one.redactor.feed(text)
            if masked:
                self._deliver(host, stream, masked)
            holding = one.redactor.holding
        if holding:
            self._held.set()

    def finish(self, host: str) -> None:
        """The host's command has ended: release what its streams hold, masked."""
        for stream in ("stdout", "stderr"):
            self._finish(host, stream)

    def _finish(self, host: str, stream: str) -> None:
        with self._streams_lock:
            one = self._streams.pop((host, stream), None)
        if one is None:
            return
        with one.lock:
            tail = one.redactor.flush()
            if tail:
                self._deliver(host, stream, tail)

    def _stream(self, host: str, stream: str) -> _Stream:
        with self._streams_lock:
            one = self._streams.get((host, stream))
            if one is None:
                one = self._streams[(host, stream)] = _Stream(self._redactor.stream())
            return one

    def _release_idle(self) -> None:
        while True:
            self._held.wait()
            if self._done.is_set():
                return
            self._held.clear()
            while (due := self._release_due()) is not None:
                if self._done.wait(max(0.0, due - time.monotonic())):
                    return

    def _release_due(self) -> float | None:
        """Release every tail held for IDLE seconds; when the next one is due, if any."""
        with self._streams_lock:
            streams = list(self._streams.items())
        now = time.monotonic()
        next_due: float | None = None
        for (host, stream), one in streams:
            with one.lock:
                if not one.redactor.holding:
                    continue
                due = one.last + self._idle
                if due <= now:
                    self._deliver(host, stream, one.redactor.flush())
                else:
                    next_due = due if next_due is None else min(next_due, due)
        return next_due
