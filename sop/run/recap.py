"""The recap a resumed (or handed over) run opens with: what its audit log says was done, by
whom and when, and where a step in doubt may still be running. Built from `AuditEntry`s only;
the terminal UI prints it (`sop.cli.ui`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from sop import events as ev
from sop.audit.actions import Action
from sop.audit.reader import AuditEntry
from sop.events import Outcome

NOTES: Mapping[str, str] = {  # the records a recap notes, and the kind of note each makes
    Action.DEVIATION: "deviation",
    Action.ANSWERED: "answer",
    Action.HOST_EXCLUDED: "excluded",
    Action.ROLLBACK_STARTED: "rollback",
    Action.RUN_PAUSED: "paused",
    Action.HANDOVER: "handover",
    Action.APPROVED: "approval",
    Action.REFUSED: "approval",
}


def build_recap(
    covered: Sequence[AuditEntry],
    unproven: Sequence[AuditEntry],
    outcomes: Mapping[str, Outcome],
    in_doubt: Iterable[str],
) -> ev.Recap:
    """`covered`: the records a verified seal covers (what resume trusts); `unproven`: those
    after it, which can only add hosts a step in doubt may still be running on. `outcomes`
    and `in_doubt`: the step keys resume restored as ended and as in doubt."""
    doubtful = set(in_doubt)
    last_finished: dict[str, AuditEntry] = {}
    notes: list[ev.RecapNote] = []
    for e in covered:
        if e.action == Action.STEP_FINISHED:
            last_finished.pop(e.step_key, None)  # kept in the order steps last finished
            last_finished[e.step_key] = e
        elif e.action in NOTES and not e.resumed:  # a rollback once, where it started
            notes.append(ev.RecapNote(NOTES[e.action], e.number, _note_text(e), e.operator, e.time))
    steps = tuple(
        ev.RecapStep(e.number, e.step_title, e.outcome, e.operator, e.time, e.reason)
        for key, e in last_finished.items()
        if key in outcomes and key not in doubtful
    )
    notes += _in_doubt([*covered, *unproven], doubtful)
    first = covered[0] if covered else AuditEntry("")
    return ev.Recap(0.0, first.time, first.operator, steps, tuple(notes))


def _note_text(e: AuditEntry) -> str:
    if e.action == Action.DEVIATION:
        done = f": {e.deviation_replacement}" if e.deviation_kind == "off-script" else ""
        edited = (
            f": `{e.deviation_original}` -> `{e.deviation_replacement}`"
            if e.deviation_kind == "edit"
            else ""
        )
        return f"{e.deviation_kind}{done}{edited} (why: {e.reason})"
    if e.action == Action.ANSWERED:
        return f"{e.answer_name} = {e.answer_value}"  # a secret's value is masked in the log
    if e.action == Action.HOST_EXCLUDED:
        return f"{e.host} excluded: {e.reason}"
    if e.action == Action.ROLLBACK_STARTED:
        return f"rollback chosen ({e.reason}): resume goes on with it"
    if e.action in (Action.APPROVED, Action.REFUSED):
        verb = "approved" if e.action == Action.APPROVED else "refused"
        by = e.approver + (f" as {e.role}" if e.role else "")
        return f"{e.step_title}: {verb} by {by}" + (f" ({e.reason})" if e.reason else "")
    return e.message or e.reason


def _in_doubt(entries: Sequence[AuditEntry], keys: set[str]) -> list[ev.RecapNote]:
    """For each step in doubt: the hosts where its command started and never reported an end
    (it may still be running there), else how it ended: interrupted, or with no record of what
    ran."""
    running: dict[str, dict[str, None]] = {}
    last: dict[str, AuditEntry] = {}
    interrupted: dict[str, tuple[str, ...]] = {}
    for e in entries:
        key = e.step_key
        if key not in keys or not (e.step_id or e.number):
            continue
        last[key] = e
        hosts = running.setdefault(key, {})
        if e.action == Action.STEP_STARTED:
            hosts.update(dict.fromkeys(e.hosts))
            interrupted.pop(key, None)
        elif e.action == Action.COMMAND_STARTED:
            hosts[e.host] = None
        elif e.action == Action.HOST_FINISHED:
            hosts.pop(e.host, None)
        elif e.action == Action.STOPPING and e.hosts:  # stopped waiting: these may still run
            hosts.update(dict.fromkeys(e.hosts))
        elif e.action == Action.STEP_FINISHED:
            hosts.clear()
            interrupted[key] = tuple(r.host for r in e.results if r.outcome == Outcome.INTERRUPTED)
    notes = []
    for key, e in last.items():
        if running.get(key):
            text = f"may still be running on {', '.join(running[key])}"
        elif interrupted.get(key):
            text = (
                f"interrupted (Ctrl-C) on {', '.join(interrupted[key])}: "
                "it may have done part of its work"
            )
        else:
            text = "started; no record of how it ended"
        notes.append(
            ev.RecapNote("in-doubt", e.number, f"{e.step_title}: {text}", e.operator, e.time)
        )
    return notes
