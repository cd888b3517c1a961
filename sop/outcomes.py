"""The typed vocabulary of results: what a host, a step and a run can end as.

`StrEnum` members are the strings the audit log has always held (`Outcome.SUCCESS == "success"`),
so records written before these types existed read the same."""

from __future__ import annotations

from enum import StrEnum


class Outcome(StrEnum):
    """How a host's command, a step or a run ended."""

    SUCCESS = "success"  # a command (or every host's) exited as expected
    FAILURE = "failure"
    DONE = "done"  # a manual step the responder confirmed, a call, a step marked done
    SKIPPED = "skipped"
    PARTIAL = "partial"  # succeeded on some hosts, then skipped or the rest excluded
    DRY_RUN = "dry-run"  # shown, not run
    INTERRUPTED = "interrupted"  # Ctrl-C
    ABORTED = "aborted"  # the responder ended the run
    ROLLED_BACK = "rolled-back"

    @property
    def finished(self) -> bool:
        """A step with this outcome needs nothing more when its run is resumed."""
        return self in FINISHED


# partial is finished with a deviation: the responder chose to go on without the other hosts
FINISHED = frozenset({Outcome.SUCCESS, Outcome.DONE, Outcome.SKIPPED, Outcome.PARTIAL})


class RunStatus(StrEnum):
    """What `sop runs` says of a run as a whole."""

    FINISHED = "finished"
    UNFINISHED = "unfinished"  # no run-finished record: crashed, killed, or still going
