"""A host's output reaches the responder live, masked: complete lines at once, a held tail (it
could begin a secret) after a short idle time, everything when the host is done."""

from __future__ import annotations

import threading
import time

from sop.redact import MASK, Redactor
from sop.run.liveoutput import LiveOutput

SECRET = "Hunter2Hunter2xyz"


class Terminal:
    def __init__(self) -> None:
        self.lines: list[tuple[str, str, str]] = []
        self.changed = threading.Condition()

    def __call__(self, host: str, stream: str, text: str) -> None:
        with self.changed:
            self.lines.append((host, stream, text))
            self.changed.notify_all()

    def shown(self, host: str = "h1", stream: str = "stdout") -> str:
        with self.changed:
            return "".join(t for h, s, t in self.lines if (h, s) == (host, stream))

    def wait_for(self, text: str, timeout: float) -> float:
        """How long it took until `text` was shown."""
        started = time.monotonic()
        with self.changed:
            assert self.changed.wait_for(lambda: text in self.shown(), timeout), self.lines
        return time.monotonic() - started


def test_a_complete_line_is_shown_at_once_and_a_secret_in_it_masked() -> None:
    terminal = Terminal()
    with LiveOutput(Redactor([SECRET]), terminal, idle=60) as live:
        live.feed("h1", "stdout", f"token {SECRET} ok\n")
        assert terminal.shown() == f"token {MASK} ok\n"
        live.finish("h1")


def test_a_prompt_without_newline_is_shown_after_the_idle_time() -> None:
    terminal = Terminal()
    with LiveOutput(Redactor([SECRET]), terminal, idle=0.05) as live:
        live.feed("h1", "stdout", "Password: H")
        assert terminal.wait_for("Password: H", timeout=2) < 0.5
        live.finish("h1")


def test_a_secret_printed_in_pieces_faster_than_the_idle_time_is_masked() -> None:
    terminal = Terminal()
    with LiveOutput(Redactor([SECRET]), terminal, idle=60) as live:
        live.feed("h1", "stderr", "x Hunter2")
        live.feed("h1", "stderr", "Hunter2x")
        live.feed("h1", "stderr", "yz y\n")
        live.finish("h1")
    assert terminal.shown(stream="stderr") == f"x {MASK} y\n"


def test_what_is_held_is_released_when_the_host_is_done() -> None:
    terminal = Terminal()
    with LiveOutput(Redactor([SECRET]), terminal, idle=60) as live:
        live.feed("h1", "stdout", "end Hunter")
        live.feed("h2", "stdout", "other\n")
        live.finish("h1")
        assert terminal.shown() == "end Hunter"
        assert terminal.shown("h2") == "other\n"


def test_without_secrets_output_passes_through_unchanged() -> None:
    terminal = Terminal()
    with LiveOutput(Redactor(), terminal) as live:
        live.feed("h1", "stdout", "Password: ")
        assert terminal.shown() == "Password: "
