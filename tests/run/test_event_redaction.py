"""Events masked on their way to the sinks (run/scope.py: redact_event)."""

from __future__ import annotations

from sop import events as ev
from sop.events import Outcome
from sop.redact import MASK, Redactor
from sop.run.scope import redact_event

STEP = ev.StepRef("rotate", "2", "Rotate the token", "run", "tokens")


def finished(stdout: str) -> ev.HostFinished:
    return ev.HostFinished(
        at=1.0,
        step=STEP,
        host="web1",
        outcome=Outcome.SUCCESS,
        exit_code=0,
        duration=0.5,
        stdout=stdout,
    )


def test_an_event_goes_by_untouched_until_the_run_holds_a_secret() -> None:
    redactor = Redactor()
    event = finished("new token: s3cr3t-t0ken-value\n")
    assert redact_event(event, redactor) is event
    redactor.add("s3cr3t-t0ken-value")  # a secret captured later in the run
    masked = redact_event(event, redactor)
    assert masked.stdout == f"new token: {MASK}\n"
    assert (masked.host, masked.step, masked.exit_code) == ("web1", STEP, 0)


def test_an_event_without_the_secret_stays_the_same_object() -> None:
    event = finished("rotated\n")
    assert redact_event(event, Redactor(["s3cr3t-t0ken-value"])) is event
