"""What resume makes of each step's last record: typed outcomes, and an outcome it does not know
(a log written by a newer sop) left to the responder as a step in doubt, never taken as done."""

from __future__ import annotations

from sop.audit.actions import Action
from sop.audit.reader import AuditEntry
from sop.events import Outcome
from sop.run.resume import _restore


def finished(step: str, outcome: str) -> AuditEntry:
    return AuditEntry(
        action=Action.STEP_FINISHED, step_id=step, number="1", outcome=outcome, time="t"
    )


def test_a_known_outcome_is_restored_as_an_outcome() -> None:
    restored = _restore([finished("a", Outcome.SUCCESS), finished("b", Outcome.SKIPPED)], (), {})
    assert restored.outcomes == {"a": Outcome.SUCCESS, "b": Outcome.SKIPPED}
    assert all(isinstance(o, Outcome) for o in restored.outcomes.values())
    assert restored.in_doubt == {}


def test_an_outcome_this_sop_does_not_know_is_in_doubt() -> None:
    restored = _restore([finished("a", "half-done")], (), {})
    assert restored.outcomes == {}
    assert restored.in_doubt == {"a": "- t: finished as 'half-done'"}


def test_a_later_known_outcome_settles_it() -> None:
    restored = _restore([finished("a", "half-done"), finished("a", Outcome.SUCCESS)], (), {})
    assert restored.outcomes == {"a": Outcome.SUCCESS}
    assert restored.in_doubt == {}


def test_a_step_interrupted_by_ctrl_c_is_in_doubt_until_a_later_record_settles_it() -> None:
    restored = _restore([finished("a", Outcome.INTERRUPTED)], (), {})
    assert restored.in_doubt == {"a": "- t: finished (interrupted)"}
    settled = _restore([finished("a", Outcome.INTERRUPTED), finished("a", Outcome.SKIPPED)], (), {})
    assert (settled.in_doubt, settled.outcomes) == ({}, {"a": Outcome.SKIPPED})
