"""What the runner is given (a clock, a responder, options) and what it gives back."""

from __future__ import annotations

import getpass
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import field
from enum import StrEnum
from typing import Protocol

from sop.errors import ExitCode, SopError
from sop.events import Outcome, PauseHow
from sop.executors.terminal import Tty
from sop.model import Input
from sop.records import dataclass


class ConfirmationRequired(SopError):
    """A non-interactive run reached a step that `--yes` does not answer."""


class AwaitingApproval(SopError):
    """An unattended run waited `--approval-timeout` for someone else's go-ahead: it pauses."""

    exit_code = ExitCode.PAUSED


class EndOfInput(SopError):
    """The responder closed the input at a prompt (Ctrl-D). In a run it pauses the run; at a
    question outside one it ends the command, as Ctrl-C does."""

    exit_code = ExitCode.INTERRUPTED


class Prompter(Protocol):
    """The responder. Every method may raise KeyboardInterrupt (Ctrl-C) or EndOfInput (Ctrl-D)."""

    def ask(self, question: Input) -> str: ...

    def choose(
        self, prompt: str, choices: Sequence[tuple[str, str]], default: str | None = None
    ) -> str: ...

    def text(self, prompt: str) -> str: ...

    def edit(self, command: str) -> str: ...

    def warn(self, message: str) -> None:
        """Say why a value was refused, before it is asked again."""

    def terminal(self) -> Tty | None:
        """The responder's terminal, for an interactive step to hand to its command (None:
        there is none to hand over)."""

    def wait(self, prompt: str, ready: Callable[[], bool]) -> bool:
        """Show `prompt` and wait until `ready()` (asked about twice a second) is true: True;
        False when the responder asks to pause (q and Enter)."""


@dataclass(frozen=True)
class DrillOptions:
    """A fire drill: recorded as one (`event.kind: drill`), and unless it runs against a sandbox
    (`simulate=False`), nothing is run: executors return the SOP's drill results."""

    simulate: bool = True
    scenario: str = ""  # the SOP's drill scenario that overrides results; "" for none
    pace: float = 1.0  # how much of each simulated delay to wait (0: none)


class PreflightMode(StrEnum):
    """What the pre-flight (every targeted host tried before the first step) does."""

    CHECK = "check"  # a host not ok: the responder re-checks, goes on or quits; --yes stops
    WARN = "warn"  # show the table and go on whatever it says
    OFF = "off"  # no pre-flight: each host is first tried at its first step


@dataclass(frozen=True)
class RunOptions:
    yes: bool = False
    dry_run: bool = False
    confirm: frozenset[str] = frozenset()  # step ids --yes may confirm although they ask for more
    answers: Mapping[str, str] = field(default_factory=dict)  # -a NAME=VALUE
    on: tuple[str, ...] | None = None  # --on: replaces the SOP's default target
    incident: str | None = None
    operator: str = ""
    run_id: str = ""
    trace_id: str = ""  # --trace-id, an incoming TRACEPARENT's, or the resumed run's
    span_id: str = ""  # the run span (run/tracecontext.py); "": a new one
    parent_span_id: str = ""  # the span the run is a child of (TRACEPARENT), "" for none
    drill: DrillOptions | None = None  # None: a real run
    preflight: PreflightMode = PreflightMode.CHECK
    severity: str = ""  # --severity: which of the SOP's status_updates applies ("": its own)
    skip: Mapping[str, str] = field(default_factory=dict)  # --skip STEP=REASON
    start_at: str = ""  # --start-at STEP=REASON: the first step walked; those before skipped
    start_at_reason: str = ""
    roles: frozenset[str] = frozenset()  # the roles the operator holds (--role)
    approval_timeout: float = 900.0  # seconds an unattended run waits for an approval

    @property
    def event_kind(self) -> str:
        """The ECS `event.kind` of the audit records."""
        return "event" if self.drill is None else "drill"

    @property
    def simulated(self) -> bool:
        """Nothing is run: a drill without a sandbox."""
        return self.drill is not None and self.drill.simulate

    @property
    def executes(self) -> bool:
        """Whether this run executes the SOP's code: its commands on the hosts and the Python of
        its tasks module. Only a real run does; a dry run and a simulated drill run nothing and
        never import the tasks (an SOP folder may come from a pull request)."""
        return not (self.dry_run or self.simulated)


@dataclass(frozen=True)
class RunResult:
    outcome: Outcome  # success | failure | aborted | rolled-back | paused
    run_id: str
    trace_id: str
    steps: Mapping[str, str]  # step key -> outcome (resumed ones as the audit log holds them)
    paused: PauseHow | None = None  # what paused it, when the outcome is paused

    @property
    def exit_code(self) -> ExitCode:
        """0 for success; a paused run 130 after Ctrl-C (as shells report it), 141 when its
        output could not be written (a pipe's reader left: 128 + SIGPIPE), else 4."""
        if self.paused is PauseHow.OUTPUT_CLOSED:
            return ExitCode.OUTPUT_CLOSED
        if self.outcome == Outcome.PAUSED:
            by_ctrl_c = self.paused in (PauseHow.CTRL_C, PauseHow.STOPPED_WAITING)
            return ExitCode.INTERRUPTED if by_ctrl_c else ExitCode.PAUSED
        return ExitCode.OK if self.outcome == Outcome.SUCCESS else ExitCode.FAILED


def default_operator() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name in this environment
        return str(os.getuid())
