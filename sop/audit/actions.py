"""The typed vocabulary of the audit log: every `event.action` sop writes.

`StrEnum` members are the strings the log has always held (`Action.SEAL == "seal"`), so logs
written before these types existed read the same. A log may hold actions this version does not
know (a newer sop wrote it): readers keep them as plain strings."""

from __future__ import annotations

from enum import StrEnum


class Action(StrEnum):
    """What an audit record says happened."""

    RUN_STARTED = "run-started"
    RUN_RESUMED = "run-resumed"
    PREFLIGHT = "preflight"  # the hosts tried before the first step: each one's result
    PREFLIGHT_CHOICE = "preflight-choice"  # a host not ok: re-check, continue or quit
    STEP_SHOWN = "step-shown"
    STEP_CONFIRMED = "step-confirmed"
    STEP_STARTED = "step-started"
    COMMAND_STARTED = "command-started"
    HOST_FINISHED = "host-finished"
    STEP_FINISHED = "step-finished"
    DEVIATION = "deviation"
    ANSWERED = "answered"
    DECIDED = "decided"  # a decide step's choice and the sections it leads to
    SECTION_SKIPPED = "section-skipped"  # its `when` is false, or a decision chose another
    SECTION_PASSED = "section-passed"  # a pass of a repeating section ended: again, done, limit
    CAPTURED = "captured"
    MENU_CHOICE = "menu-choice"
    HOST_EXCLUDED = "host-excluded"  # left out of every later step, with the reason
    INTERRUPTED = "interrupted"
    INTERACTIVE_SESSION = "interactive-session"  # a recorded session: its file and SHA-256
    STOPPING = "stopping"  # a Ctrl-C while commands ran: TERM, KILL, or stop waiting
    ROLLBACK_STARTED = "rollback-started"
    RUN_FINISHED = "run-finished"
    RUN_PAUSED = "run-paused"  # stopped to go on later (quit, Ctrl-C, Ctrl-D): not finished
    STATUS_UPDATE = "status-update"  # a status update the SOP asks for on a clock: its text
    STATUS_UPDATE_MISSED = "status-update-missed"  # one came due and none was given
    SEAL = "seal"  # an HMAC of the chain head (chain.py)
    STATE_SAVED = "state-saved"  # the hash of the resumable state, before it is written
    HANDOVER = "handover"  # a resume by another operator
    REPAIRED = "repaired"  # a torn last line was cut off on resume
    SOP_CHANGED = "sop-changed"  # resumed though the SOP file changed, with the reason
    UNPROVEN = "unproven"
    APPROVAL_REQUESTED = "approval-requested"  # a step waits for someone else's go-ahead
    APPROVED = "approved"  # someone other than the operator approved it: who, when, what
    REFUSED = "refused"  # ... or refused it, with a reason
    APPROVAL_REJECTED = "approval-rejected"  # an answer the run does not believe, and why
    NOTIFICATION = "notification"  # a [[notify]] delivery: delivered or given up, never the URL  # resumed after records no verified seal covered: names them
