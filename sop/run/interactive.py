"""An interactive step's session: the responder's terminal handed to the command on its one
host (`executors/terminal.py`), its output recorded, masked, in the run's folder as asciicast v2
(`audit/recording.py`), and the recording's SHA-256 in the audit log (`interactive-session`)."""

from __future__ import annotations

import re

from sop import events as ev
from sop.audit.recording import CastRecording, Recorded
from sop.events import Outcome
from sop.executors.base import HostResult, Job
from sop.executors.terminal import DETACH_HELP, Attaching, Tty
from sop.model import Host
from sop.run.options import ConfirmationRequired
from sop.run.services import Services

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def needs_terminal(s: Services, ref: ev.StepRef) -> Tty:
    """The responder's terminal for an interactive step, or ConfirmationRequired before the
    step is confirmed: a run with --yes, or without a terminal, cannot hand one over."""
    if s.options.yes:
        raise ConfirmationRequired(
            f"step {ref.number} ({ref.id}) is interactive: it hands the responder's terminal to "
            f"its command, and a run with --yes has nobody at the terminal. Continue in a "
            f"terminal: sop resume {s.run_id}"
        )
    tty = s.prompt().terminal()
    if tty is None:
        raise ConfirmationRequired(
            f"step {ref.number} ({ref.id}) is interactive: it hands the responder's terminal to "
            "its command, and this run has no terminal"
        )
    return tty


class _Unrecorded:
    """Where a session's output goes in a run without a folder (a test's run): nowhere."""

    name = ""

    def output(self, data: bytes) -> None:
        pass

    def resize(self, columns: int, rows: int) -> None:
        pass

    def close(self) -> Recorded:
        return Recorded("", "", 0)


def run_session(
    s: Services, job: Job, host: Host, ref: ev.StepRef, attempt: int, parent: str
) -> HostResult:
    """Hand the terminal to `job` on `host` until it exits or the responder detaches, under a
    host span that is a child of the step span `parent`."""
    tty = needs_terminal(s, ref)
    executor = s.fanout.executors.for_host(host)
    if not isinstance(executor, Attaching):
        why = "this run's executor cannot hand a terminal to a command"
        return HostResult(host.name, Outcome.FAILURE, None, "", "", 0.0, why)
    job, span = s.fanout.host_span(job)
    s.emit(ev.CommandStarted(s.clock.now(), ref, host.name, job.command, attempt, span, parent))
    recording: CastRecording | _Unrecorded = _Unrecorded()
    if s.run_dir is not None:
        stem = _UNSAFE.sub("_", f"session-{ref.number}-{ref.id}-{host.name}")
        recording = CastRecording.create(
            s.run_dir,
            stem,
            tty.size(),
            s.redactor,
            title=f"{ref.sop_id} step {ref.number} ({ref.id}) on {host.name}",
            at=s.clock.now(),
        )
    s.emit(ev.SessionStarted(s.clock.now(), ref, host.name, DETACH_HELP, recording.name))
    try:
        session = executor.interact(job, host, tty, recording)
    finally:
        recorded = recording.close()
    result = session.result
    s.emit(
        ev.SessionEnded(
            s.clock.now(),
            ref,
            host.name,
            session.ended,
            result.exit_code,
            recorded.name,
            recorded.sha256,
            recorded.size,
            attempt,
            span,
            parent,
        )
    )
    s.emit(
        ev.HostFinished(
            s.clock.now(),
            ref,
            host.name,
            result.outcome,
            result.exit_code,
            result.duration,
            result.error,
            attempt=attempt,
            span_id=span,
            parent_span_id=parent,
        )
    )
    return result
