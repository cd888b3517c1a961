"""The progress of a step while its hosts run: how many are done, failed, running, and for how
long (`… 4 of 6 done, 1 failed, 1 running — 0:12 (step 4)`), once the step has run for
SHOW_AFTER seconds.

On a terminal it is one line below the output, rewritten in place: hidden before anything else
is printed and drawn again after, so the hosts' lines scroll above it; never after half a line
(a prompt without a newline). Elsewhere (a pipe, a CI log) it is a plain line every PLAIN_EVERY
seconds. The state comes from the run's events; the time from a `Clock`: a `Ticker` calls
`tick` while hosts run, tests call it with a fake clock. No rich here: the line is a few bytes
written straight to the terminal, so it costs the output it follows next to nothing."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import field

from sop import events as ev
from sop.events import Clock, Outcome
from sop.records import dataclass
from sop.text import visible

SHOW_AFTER = 2.0  # seconds a step runs before its progress shows
PLAIN_EVERY = 10.0  # seconds between two plain progress lines
TICK = 0.25  # seconds between two looks at the clock while hosts run
CLEAR = "\r\x1b[K"  # to the start of the line, and erase it


def elapsed(seconds: float) -> str:
    """`0:07`, `12:34`, `1:02:03`."""
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02}:{secs:02}" if hours else f"{minutes}:{secs:02}"


@dataclass
class HostCounts:
    """One fan-out of a step: its hosts, those started and those finished (with how)."""

    step: ev.StepRef
    hosts: tuple[str, ...]
    started_at: float  # the clock's monotonic time
    running: set[str] = field(default_factory=set)
    finished: dict[str, Outcome] = field(default_factory=dict)

    def text(self, now: float) -> str:
        done = len(self.finished)
        failed = sum(outcome != Outcome.SUCCESS for outcome in self.finished.values())
        waiting = len(self.hosts) - done - len(self.running)
        parts = [f"{done} of {len(self.hosts)} done"]
        parts += [f"{failed} failed"] if failed else []
        parts += [f"{len(self.running)} running"]
        parts += [f"{waiting} waiting"] if waiting > 0 else []
        return f"… {', '.join(parts)} — {elapsed(now - self.started_at)} (step {self.step.number})"


class Progress:
    """The progress of the step that runs now, written with `write` (live: in place)."""

    def __init__(
        self,
        write: Callable[[str], object],
        flush: Callable[[], None],
        clock: Clock,
        *,
        live: bool,
        width: Callable[[], int],
    ) -> None:
        self._write = write
        self._flush = flush
        self._clock = clock
        self._live = live
        self._width = width
        self._columns = 80  # the terminal's width when last measured (`show(measure=True)`)
        self._counts: HostCounts | None = None
        self._drawn = ""  # the line on the terminal now (live)
        self._next_plain = 0.0

    @property
    def active(self) -> bool:
        """A step's hosts are running (or about to): there is progress to show."""
        return self._counts is not None

    def update(self, event: ev.Event) -> None:
        """Follow the run: a fan-out starts, its hosts start and finish, the step ends."""
        counts = self._counts
        if isinstance(event, ev.StepStarted):
            started = self._clock.monotonic()
            self._counts = HostCounts(event.step, event.hosts, started)
            self._next_plain = started + SHOW_AFTER
            self._columns = self._width()
        elif counts is None:
            return
        elif isinstance(event, ev.HostStarted):
            counts.running.add(event.host)
        elif isinstance(event, ev.HostFinished):
            counts.running.discard(event.host)
            counts.finished[event.host] = event.outcome
        elif isinstance(
            event, ev.StepFinished | ev.Interrupted | ev.RunFinished | ev.RunPaused
        ) or (isinstance(event, ev.Stopping) and event.escalation == ev.Escalation.STOP_WAITING):
            self._counts = None

    def hide(self, flush: bool = False) -> None:
        """Take the line off the terminal, before something else is printed (which flushes
        it: the terminal gets both at once), or with `flush`, now."""
        if self._drawn:
            self._write(CLEAR)
            self._drawn = ""
            if flush:
                self._flush()

    def show(self, at_line_start: bool, *, measure: bool = False) -> None:
        """Live: draw the line as it is now (or take it away when no host runs), cut to the
        terminal's width, which `measure` reads again (the ticker does, four times a second:
        a terminal resized while a step runs gets a line that fits). Plain: a line when one is
        due."""
        if measure and self._live:
            self._columns = self._width()
        line = self._line(at_line_start)
        if not self._live:
            if line:
                self._write(line + "\n")
                self._flush()
                self._next_plain = self._clock.monotonic() + PLAIN_EVERY
            return
        if line != self._drawn:
            self._write(CLEAR + line)
            self._flush()
            self._drawn = line

    def _line(self, at_line_start: bool) -> str:
        counts = self._counts
        if counts is None or not counts.running or not at_line_start:
            return ""
        now = self._clock.monotonic()
        if now - counts.started_at < SHOW_AFTER or (not self._live and now < self._next_plain):
            return ""
        text = visible(counts.text(now))
        return text[: max(1, self._columns - 1)] if self._live else text


class Ticker:
    """Calls `tick` every `every` seconds on a thread of its own, until stopped."""

    def __init__(self, tick: Callable[[], None], every: float = TICK) -> None:
        self._tick = tick
        self._every = every
        self._stopped = threading.Event()
        threading.Thread(target=self._loop, name="sop-progress", daemon=True).start()

    def stop(self) -> None:
        self._stopped.set()

    def _loop(self) -> None:
        while not self._stopped.wait(self._every):
            self._tick()
