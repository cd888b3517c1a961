"""Status updates on a clock: an SOP's `status_updates` asks the responder for one every so
many minutes of run time (by the run's severity), and the audit log records each.

The clock counts run time: from the start (or the last update) while the run is live; a pause
does not count, and a resumed run goes on from where the schedule stood (`since`, rebuilt from
the audit log). An update that comes due is asked for at the next question the run asks, before
the next step, or while the run waits for an approval (the wait goes on after it), never while a
step's command runs: then a line says it is due. A run
nobody answers (`--yes`) records that it came due and none was given; either way the next one
is due a whole interval later. A simulated drill scales the interval by its `--pace`, as it
does its simulated delays (`--pace 0`: no update comes due)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sop import events as ev
from sop.events import Clock, StatusHow
from sop.executors.terminal import Tty
from sop.model import Input, Sop
from sop.run.options import Prompter, RunOptions

QUESTION = "Status update for the team (Enter: none)"


def status_every(sop: Sop, options: RunOptions) -> float:
    """Seconds of run time between the status updates this run asks for; 0 for none (the SOP
    asks for none at the run's severity, a dry run, a drill at --pace 0)."""
    every = sop.status_every(run_severity(sop, options))
    if every is None or options.dry_run:
        return 0.0
    if options.simulated and options.drill is not None:
        return every * options.drill.pace
    return every


def run_severity(sop: Sop, options: RunOptions) -> str:
    return options.severity or sop.severity or ""


class Reminders:
    """The schedule of one run's status updates. `since`: seconds of run time since the last
    update (or the start) when this part of the run began (a resumed run's)."""

    def __init__(
        self,
        every: float,
        severity: str,
        clock: Clock,
        emit: Callable[[ev.Event], None],
        since: float = 0.0,
    ) -> None:
        self.every = every
        self.severity = severity
        self._clock = clock
        self._emit = emit
        self._last = clock.monotonic() - since  # when the last update was (run time)
        self._announced = False
        self._asking = False

    def overdue(self) -> float | None:
        """Seconds since the next update came due; None when it is not due yet."""
        late = self._clock.monotonic() - self._last - self.every
        return late if late >= 0 else None

    def announce(self, step: ev.StepRef | None, running: bool) -> None:
        """Say once that an update is due (while a step runs: asked for when it is done)."""
        if self._announced or self.overdue() is None:
            return
        self._announced = True
        self._emit(ev.StatusUpdateDue(self._clock.now(), self.every, step, running))

    def remind(self, prompter: Prompter | None, step: ev.StepRef | None) -> None:
        """At a question or between steps: ask for the update if one is due (`prompter` None:
        nobody is asked, and the record says none was given)."""
        late = self.overdue()
        if late is None or self._asking:
            return
        self._asking = True
        try:
            self.announce(step, running=False)
            due = self._clock.now() - late
            if prompter is None:
                text, how = "", StatusHow.UNATTENDED
            else:
                text = prompter.text(QUESTION).strip()
                how = StatusHow.GIVEN if text else StatusHow.DECLINED
            self._last = self._clock.monotonic()
            self._announced = False
            self._emit(
                ev.StatusUpdate(self._clock.now(), text, due, self.every, how, self.severity, step)
            )
        finally:
            self._asking = False


class RemindingPrompter:
    """The responder, asked for a status update that is due before any other question."""

    def __init__(
        self, inner: Prompter, remind: Callable[[], None], due: Callable[[], bool]
    ) -> None:
        """`remind`: ask for the update if one is due; `due`: whether one is."""
        self.inner = inner
        self._remind = remind
        self._due = due

    def ask(self, question: Input) -> str:
        self._remind()
        return self.inner.ask(question)

    def choose(
        self, prompt: str, choices: Sequence[tuple[str, str]], default: str | None = None
    ) -> str:
        self._remind()
        return self.inner.choose(prompt, choices, default)

    def text(self, prompt: str) -> str:
        self._remind()
        return self.inner.text(prompt)

    def edit(self, command: str) -> str:
        self._remind()
        return self.inner.edit(command)

    def warn(self, message: str) -> None:
        self.inner.warn(message)

    def terminal(self) -> Tty | None:
        return self.inner.terminal()

    def wait(self, prompt: str, ready: Callable[[], bool]) -> bool:
        """Waiting for an approval: a status update that falls due meanwhile is asked for,
        then the wait goes on (False: the responder paused)."""
        while True:
            self._remind()
            came_due = False

            def ready_or_due() -> bool:
                nonlocal came_due
                if ready():
                    return True
                came_due = self._due()
                return came_due

            if not self.inner.wait(prompt, ready_or_due):
                return False
            if not came_due:
                return True
