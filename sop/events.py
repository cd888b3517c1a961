"""What a run emits, and how hosts, steps and runs end (`Outcome`, `RunStatus`). The runner creates events; sinks (the terminal UI, the audit log) consume
them. Events are plain frozen records with no behaviour, each stamped (`at`) by the run's
`Clock`: passed in, the real `SystemClock` from the CLI, their own from tests and drills.

They are frozen dataclasses whose `repr`, `==` and hash come from one base class instead of
being generated for each of the twenty classes: each generated method is an `exec` at import,
and this module is imported by every run (25 ms -> 10 ms)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import field, fields
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from sop.records import dataclass

if TYPE_CHECKING:
    from sop.model import Link


class Clock(Protocol):
    """Time, passed in: the runner, drills and tabletops get one."""

    def now(self) -> float: ...

    def monotonic(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def now(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


# the vocabulary of results: `StrEnum` members are the strings the audit log has always
# held (`Outcome.SUCCESS == "success"`), so records written before these types read the same


class Outcome(StrEnum):
    """How a host's command, a step or a run ended."""

    SUCCESS = "success"  # a command (or every host's) exited as expected
    FAILURE = "failure"
    DONE = "done"  # a manual step the responder confirmed, a call, a step marked done
    UNATTENDED = "unattended"  # a manual step a `--yes` run passed: nobody confirmed doing it
    SKIPPED = "skipped"
    PARTIAL = "partial"  # succeeded on some hosts, then skipped or the rest excluded
    DRY_RUN = "dry-run"  # shown, not run
    INTERRUPTED = "interrupted"  # Ctrl-C
    ABORTED = "aborted"  # the responder ended the run
    ROLLED_BACK = "rolled-back"
    PAUSED = "paused"  # a run that stopped to go on later (`sop resume`): not finished

    @property
    def finished(self) -> bool:
        """A step with this outcome needs nothing more when its run is resumed."""
        return self in FINISHED


# partial is finished with a deviation: the responder chose to go on without the other hosts
# unattended too: the run went on past it (its record says nobody did it)
FINISHED = frozenset(
    {Outcome.SUCCESS, Outcome.DONE, Outcome.UNATTENDED, Outcome.SKIPPED, Outcome.PARTIAL}
)


class Reach(StrEnum):
    """What the pre-flight found when it tried a host before the first step."""

    OK = "ok"  # connected: the host key is known and the credentials accepted
    UNKNOWN_KEY = "unknown key"  # no known_hosts file lists the key it offered
    KEY_CHANGED = "key changed"  # known_hosts lists another key for it
    REFUSED = "refused"  # nothing listens on its port
    TIMEOUT = "timeout"  # no answer, or no SSH banner, within the connect timeout
    AUTH_FAILED = "auth failed"
    UNREACHABLE = "unreachable"  # no such name, no route, anything else on the way
    UNRESOLVABLE = "unresolvable target"  # a target that names no host of the inventory


class RunStatus(StrEnum):
    """What `sop runs` says of a run as a whole (sop.audit.runs decides it)."""

    LIVE = "live"  # a process holds the run's lock: it is being driven now
    PAUSED = "paused"  # its last record is a run-paused: `sop resume` goes on
    CRASHED = "crashed"  # no end record and nobody holds its lock: killed, or sop crashed
    STOPPED = "stopped"  # it stopped itself: its audit log could not be written (full disk)
    ABORTED = "aborted"  # finished: the responder aborted it, with a reason
    FINISHED = "finished"  # finished: the end of the SOP (success, failure, rolled back)

    @property
    def resumable(self) -> bool:
        return self in (RunStatus.PAUSED, RunStatus.CRASHED, RunStatus.STOPPED)


class PauseHow(StrEnum):
    """What paused a run (the `run-paused` record's `sop.pause`)."""

    QUIT = "quit"  # [q]uit at a prompt
    CTRL_C = "ctrl-c"  # Ctrl-C at a prompt, or while no command ran
    CTRL_D = "ctrl-d"  # Ctrl-D (the end of input) at a prompt
    STOPPED_WAITING = "stopped-waiting"  # the third Ctrl-C while commands ran: hosts in doubt
    NEEDS_RESPONDER = "needs-responder"  # --yes reached a step only a responder may confirm
    AWAITING_APPROVAL = "awaiting-approval"  # --yes waited --approval-timeout for an approval
    OUTPUT_CLOSED = "output-closed"  # its output could not be written (pipe closed, hung up)


class Frozen:
    """repr, equality and hash from the dataclass fields, as `@dataclass(frozen=True)` would
    generate them. (An audit *record* is the JSON object the log holds; see sop/audit/.)"""

    __slots__ = ()

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, f.name) for f in fields(self))  # type: ignore[arg-type]

    def __repr__(self) -> str:
        shown = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in fields(self))  # type: ignore[arg-type]
        return f"{type(self).__qualname__}({shown})"

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, Frozen)
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())


@dataclass(frozen=True, eq=False, repr=False)
class StepRef(Frozen):
    """Which step an event is about: its id, its number as shown (`4`, `4.2`, `R1`), its title."""

    id: str
    number: str
    title: str
    kind: str
    sop_id: str
    depth: int = 0
    round: int = 1  # the pass of its section: 2 and up when the section repeats or is gone back to

    @property
    def key(self) -> str:
        return step_key(self.id, self.number, self.sop_id if self.depth else "", self.round)


def step_key(step_id: str, number: str, called_sop: str = "", round: int = 1) -> str:
    """How a step is named in saved state, on resume and in run history: its id, or
    SOP:number inside a called SOP (whose ids may repeat the caller's), and `@N` for the Nth
    pass of a section that repeats (`verify@2`). The audit reader builds it from a record's
    fields, the runner from a `StepRef`: one key for both."""
    key = f"{called_sop}:{number}" if called_sop else step_id
    return f"{key}@{round}" if round > 1 else key


@dataclass(frozen=True, eq=False, repr=False)
class Event(Frozen):
    """Base of all events; `at` is the clock's time when it happened (epoch seconds)."""

    at: float


@dataclass(frozen=True, eq=False, repr=False)
class RunStarted(Event):
    run_id: str
    trace_id: str
    sop_id: str
    sop_title: str
    sop_path: str
    sop_sha256: str
    operator: str
    incident: str | None
    inputs: Mapping[str, str]  # secrets already masked
    targets: tuple[str, ...]
    dry_run: bool = False
    resumed: bool = False
    drill: bool = False
    scenario: str = ""
    simulated: bool = False  # a drill whose results are simulated (not a --sandbox drill)
    inventory: str = ""  # the (first) inventory file the run's targets come from, if any
    inventories: tuple[str, ...] = ()  # every inventory it was read from, in order
    # the resolved inventory: user@address:port by host name
    hosts: Mapping[str, str] = field(default_factory=dict)
    inventory_notes: tuple[str, ...] = ()  # Ansible variables ignored, hosts overridden
    context: str = ""  # the SOP's context and impact (Markdown, rendered with the inputs)
    impact: str = ""
    links: tuple[tuple[str, str], ...] = ()  # its links: (title, url)
    severity: str = ""  # the run's severity (--severity, else the SOP's)
    status_every: float = 0.0  # seconds of run time between status updates (0: none asked)
    skips: Mapping[str, str] = field(default_factory=dict)  # --skip: step id -> reason


@dataclass(frozen=True, eq=False, repr=False)
class SectionStarted(Event):
    title: str
    depth: int = 0
    note: str = ""  # the heading's note, rendered Markdown
    section_id: str = ""
    round: int = 1  # its pass: 2 and up when it repeats or the run went back to it
    condition: str = ""  # when its steps run, in plain words (`sop.model.section_conditions`)


@dataclass(frozen=True, eq=False, repr=False)
class SectionSkipped(Event):
    """A section whose steps do not apply: its `when` is false, or a decision chose another."""

    title: str
    section_id: str
    reason: str
    depth: int = 0
    round: int = 1


@dataclass(frozen=True, eq=False, repr=False)
class SectionPassed(Event):
    """A pass of a repeating section ended: `verdict` "again" (its `until` does not hold: it
    runs again), "done" (it holds) or "limit" (it does not after `max` passes; the responder
    went on)."""

    title: str
    section_id: str
    round: int  # the pass that ended
    verdict: str
    reason: str
    depth: int = 0
    key: str = ""  # the pass's key in the audit log and on resume (`sop.run.scope.section_key`)


@dataclass(frozen=True, eq=False, repr=False)
class Decided(Event):
    """A decide step's answer and the sections it leads to."""

    step: StepRef
    choice: str  # an option's label, or "else"
    goto: tuple[str, ...]  # section ids
    how: str = "interactive"  # "interactive", "--answer", "scenario", "drill", "dry-run"


@dataclass(frozen=True, eq=False, repr=False)
class StepShown(Event):
    step: StepRef
    prose: str = ""  # rendered Markdown
    note: str = ""
    command: str = ""  # rendered command, script, or task call
    hosts: tuple[str, ...] = ()
    confirm: str = "auto"
    stdin: str | None = None  # the rendered text the command reads on stdin
    plain: str = ""  # a message shown verbatim (errors, host output): never read as Markdown
    excluded: Mapping[str, str] = field(default_factory=dict)  # targets left out: host -> why
    links: tuple[Link, ...] = ()  # the step's own links (dashboards, documents)
    ok_exit: tuple[int, ...] = (0,)  # the exit codes that count as success
    confirm_word: str = ""  # what a typed confirmation will ask for (rendered)
    interactive: bool = False  # the command gets the responder's terminal


@dataclass(frozen=True, eq=False, repr=False)
class StepConfirmed(Event):
    step: StepRef
    how: str  # "interactive", "typed", "--yes", "--confirm", "never"
    command: str = ""
    hosts: tuple[str, ...] = ()
    attempt: int = 1
    stdin: str | None = None


@dataclass(frozen=True, eq=False, repr=False)
class StepStarted(Event):
    """An attempt of a step starts its commands (again, for each of its `retries`): all under
    the attempt's step span, `span_id`, a child of the run span `parent_span_id`."""

    step: StepRef
    attempt: int
    hosts: tuple[str, ...]
    command: str
    span_id: str = ""
    parent_span_id: str = ""


@dataclass(frozen=True, eq=False, repr=False)
class HostStarted(Event):
    """A host of a step took its place in the fan-out: sop connects, then runs the command.
    Not audited (`CommandStarted` is); the terminal counts the hosts running from it."""

    step: StepRef
    host: str
    attempt: int


@dataclass(frozen=True, eq=False, repr=False)
class CommandStarted(Event):
    """A command inside a task, or the command of a run/script step, on one host."""

    step: StepRef
    host: str
    command: str
    attempt: int
    span_id: str = ""  # the host span (its command's TRACEPARENT), a child of the step span
    parent_span_id: str = ""


@dataclass(frozen=True, eq=False, repr=False)
class Output(Event):
    step: StepRef
    host: str
    stream: str  # "stdout" | "stderr"
    text: str
    multi_host: bool = False


@dataclass(frozen=True, eq=False, repr=False)
class HostFinished(Event):
    step: StepRef
    host: str
    outcome: Outcome  # of one host: success, failure or interrupted
    exit_code: int | None
    duration: float
    error: str = ""
    stdout: str = ""
    stderr: str = ""
    attempt: int = 1
    span_id: str = ""  # the host span, as in `CommandStarted`
    parent_span_id: str = ""


@dataclass(frozen=True, eq=False, repr=False)
class StepFinished(Event):
    step: StepRef
    outcome: Outcome  # of the step
    duration: float
    attempt: int = 1
    results: tuple[HostFinished, ...] = ()
    reason: str = ""
    span_id: str = ""  # the attempt's step span (its `StepStarted`'s; a new one if none)
    parent_span_id: str = ""  # the run span


@dataclass(frozen=True, eq=False, repr=False)
class Deviation(Event):
    """The responder left the script: skipped a step, edited a command, marked done."""

    step: StepRef
    kind: str  # "skip" | "edit" | "mark-done"
    reason: str
    original: str = ""
    replacement: str = ""


@dataclass(frozen=True, eq=False, repr=False)
class Answered(Event):
    step: StepRef
    name: str
    value: str  # masked when secret


@dataclass(frozen=True, eq=False, repr=False)
class Captured(Event):
    """A step's output stored in a variable (one value, or host -> value)."""

    step: StepRef
    name: str
    value: str | Mapping[str, str]


@dataclass(frozen=True, eq=False, repr=False)
class StepRestored(Event):
    """On resume: a step that finished before the interruption is shown as done."""

    step: StepRef
    outcome: Outcome


@dataclass(frozen=True, eq=False, repr=False)
class MenuChoice(Event):
    step: StepRef
    choice: str  # "retry", "retry-all", "exclude", "skip", "abort", "rollback", "canary-go", ...
    reason: str = ""


@dataclass(frozen=True, eq=False, repr=False)
class HostExcluded(Event):
    """The responder left a host out of the rest of the run (a dead host, say)."""

    step: StepRef
    host: str
    reason: str


@dataclass(frozen=True, eq=False, repr=False)
class Interrupted(Event):
    step: StepRef | None


class Escalation(StrEnum):
    """What each Ctrl-C does while commands run (sop.run.fanout)."""

    TERM = "term"  # the first: SIGTERM to the commands' process groups
    KILL = "kill"  # the second, or the grace period over: SIGKILL
    STOP_WAITING = "stop-waiting"  # the third: the hosts still running are in doubt


@dataclass(frozen=True, eq=False, repr=False)
class Stopping(Event):
    """The responder pressed Ctrl-C while a step ran: `escalation` was done to the commands
    still running on `hosts`. After TERM, KILL follows in `grace` seconds."""

    step: StepRef
    escalation: Escalation
    hosts: tuple[str, ...]
    grace: float = 0.0


class SessionEnd(StrEnum):
    """How an interactive step's session ended (sop.executors.terminal)."""

    EXIT = "exit"  # the command exited by itself
    CTRL_C = "ctrl-c"  # the responder pressed Ctrl-C and the command ended of it
    DETACHED = "detached"  # the responder detached (Ctrl-] then d): sop hung up on it


@dataclass(frozen=True, eq=False, repr=False)
class SessionStarted(Event):
    """An interactive step hands the responder's terminal to its command on `host`."""

    step: StepRef
    host: str
    detach: str  # the keys that detach, as the responder reads them
    recording: str = ""  # the file in the run's folder that records the session's output


@dataclass(frozen=True, eq=False, repr=False)
class SessionEnded(Event):
    """The terminal is sop's again: how the session ended, and its recording (asciicast v2,
    masked) in the run's folder with its SHA-256, for the audit trail."""

    step: StepRef
    host: str
    ended: SessionEnd
    exit_code: int | None
    recording: str = ""  # "" when the run has no folder (a test's run)
    sha256: str = ""
    size: int = 0
    attempt: int = 1
    span_id: str = ""  # the host span, as in `CommandStarted`
    parent_span_id: str = ""


@dataclass(frozen=True, eq=False, repr=False)
class RollbackStarted(Event):
    """A rollback starts, at `step` (the step whose failure menu chose it), or, `resumed`,
    goes on after a resume where it paused."""

    reason: str = ""
    step: StepRef | None = None
    resumed: bool = False


@dataclass(frozen=True, eq=False, repr=False)
class RunFinished(Event):
    outcome: Outcome  # of the run
    duration: float
    steps: Mapping[str, Outcome] = field(default_factory=dict)  # step key -> outcome
    reason: str = ""  # why it did not succeed


@dataclass(frozen=True, eq=False, repr=False)
class RunPaused(Event):
    """The run stops here to go on later (`sop resume`): it is not finished."""

    how: PauseHow
    step: StepRef | None  # the step it paused at (None: before the first)
    duration: float
    reason: str  # what paused it, in words
    steps: Mapping[str, Outcome] = field(default_factory=dict)  # step key -> outcome so far


@dataclass(frozen=True, eq=False, repr=False)
class StatusUpdateDue(Event):
    """A status update came due while a step ran: the run asks for it at the next prompt (or
    before the next step). Not audited (the update's record says when it came due)."""

    every: float  # seconds of run time between updates
    step: StepRef | None = None
    running: bool = False  # a step's command runs: asked for once it is done


class StatusHow(StrEnum):
    """How a status update that came due was answered (`sop.status.how`)."""

    GIVEN = "given"  # the responder wrote it
    DECLINED = "declined"  # the responder gave none (an empty answer)
    UNATTENDED = "unattended"  # a --yes run: nobody was asked


@dataclass(frozen=True, eq=False, repr=False)
class StatusUpdate(Event):
    """A status update the run asked for, every `every` seconds of run time: its text, or
    that none was given (`how`)."""

    text: str  # "" when none was given
    due: float  # when it came due (epoch seconds)
    every: float
    how: StatusHow = StatusHow.GIVEN
    severity: str = ""
    step: StepRef | None = None  # the step the run was at (None: before the first)

    @property
    def given(self) -> bool:
        return self.how == StatusHow.GIVEN


@dataclass(frozen=True, eq=False, repr=False)
class RecapStep(Frozen):
    """A step as it ended before a resume (its last step-finished record)."""

    number: str
    title: str
    outcome: str  # an `Outcome` when this sop knows it
    operator: str
    time: str  # ISO 8601, UTC, as the audit log holds it
    reason: str = ""


@dataclass(frozen=True, eq=False, repr=False)
class RecapNote(Frozen):
    """A deviation, an answer, an excluded host or a pause before a resume, as one line."""

    kind: str  # "deviation", "answer", "excluded", "paused", "handover", "in-doubt"
    number: str  # the step's number ("" for none)
    text: str  # what happened (an answer's value as the log holds it: secrets masked; for a
    # step in doubt, the hosts where it may still be running)
    operator: str
    time: str


@dataclass(frozen=True, eq=False, repr=False)
class Recap(Event):
    """On resume and handover, before anything else: what the run did so far, from its audit
    log. Not audited (the log holds every part of it already)."""

    started: str  # time of the run-started record
    operator: str  # who started the run
    steps: tuple[RecapStep, ...] = ()  # finished steps, in the order they finished
    notes: tuple[RecapNote, ...] = ()  # in the order they happened; steps in doubt last


@dataclass(frozen=True, eq=False, repr=False)
class HostReached(Frozen):
    """One host (or one target that names none) as the pre-flight found it (a part of the
    `Preflight` event)."""

    host: str
    address: str  # user@address:port as the inventory gives it; "" for an unresolvable target
    reach: Reach
    duration: float = 0.0
    error: str = ""  # why not ok: the first line for the table, then how to fix it


@dataclass(frozen=True, eq=False, repr=False)
class Preflight(Event):
    """The pre-flight's check `round` (1, then each re-check) of the hosts the run's steps
    target, before the first step: every host's result, and the targets it could not check
    yet (each: which step, and why: a value known only later)."""

    round: int
    results: tuple[HostReached, ...]
    duration: float
    unchecked: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return all(r.reach == Reach.OK for r in self.results)


class Sink(Protocol):
    """Receives every event of a run, in order."""

    def emit(self, event: Event) -> None: ...


@runtime_checkable
class DurableSink(Sink, Protocol):
    """A sink whose records must be on disk before the run goes on: `emit` writes them (in
    order, under the run's lock) and `settle` waits for the disk (outside the lock, so that the
    records of several hosts share one wait)."""

    def settle(self) -> None: ...


@dataclass(frozen=True, eq=False, repr=False)
class Notified(Event):
    """A notification's delivery ended: delivered, or given up (after its retries, or when sop
    exited first). `target` is the notifier's label, never a webhook's whole URL."""

    notice: str  # the run's news it carried: run-started, step-failed, run-paused, run-finished
    target: str
    delivered: bool
    attempts: int
    duration: float
    error: str = ""


@dataclass(frozen=True, eq=False, repr=False)
class Warned(Event):
    """Something the responder should know that is no part of the run and not audited: its
    spans could not be exported (after the audit log closed). One line."""

    message: str


@dataclass(frozen=True, eq=False, repr=False)
class LimitRaised(Event):
    """sop raised one of the process's soft limits before connecting to `hosts` remote hosts
    (`run/openfiles.py`). Not audited: `--debug` shows it."""

    limit: str  # "RLIMIT_NOFILE"
    soft_before: int
    soft: int
    hard: int
    hosts: int


@dataclass(frozen=True, eq=False, repr=False)
class ApprovalRequested(Event):
    """A step waits for someone other than the operator (`approval`, or a `role` the run does
    not hold): what they are shown, and its `binding`, the hash an approval must carry."""

    step: StepRef
    binding: str  # sop.audit.approvals.binding() of what follows
    command: str
    hosts: tuple[str, ...]
    stdin: str | None
    inputs: Mapping[str, str]  # the run's inputs as shown (secrets masked)
    role: str = ""  # the role the approver must state ("" anyone)
    task: str = ""  # the step's own role when it is someone else's task ("" an approval)


@dataclass(frozen=True, eq=False, repr=False)
class ApprovalAnswered(Event):
    """Someone other than the operator approved (or refused) a step: who (the OS account that
    owns the answer), the role they stated, when they answered, and the binding it approves."""

    step: StepRef
    approved: bool
    approver: str  # user name (as the password database says), or "uid N"
    approver_id: int
    binding: str
    role: str = ""
    given: float = 0.0  # when the approver answered (epoch seconds)
    reason: str = ""  # a refusal's reason
    simulated: bool = False  # a drill's: nobody was asked


@dataclass(frozen=True, eq=False, repr=False)
class ApprovalRejected(Event):
    """An answer the run does not accept (the operator's own, for something else, writable by
    others ...): recorded, and the run goes on waiting."""

    step: StepRef
    file: str
    reason: str
    approver: str = ""
    approver_id: int = -1
    given: float | None = None  # when the answer says it was given (None: no answer sop wrote)


@dataclass(frozen=True, eq=False, repr=False)
class AuditNote(Event):
    """Something only the audit trail needs to hear about: a resume, a handover, a repair."""

    action: str  # an `sop.audit.actions.Action`: "handover", "repaired", "sop-changed"
    message: str = ""
    fields: Mapping[str, object] = field(default_factory=dict)
