"""`sop report`: a postmortem-ready timeline of a run, from its audit entries, with the chain's
verification status at the top; and the plain table of `sop audit show`."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path

from sop.audit.actions import Action
from sop.audit.reader import AuditEntry, log_file
from sop.audit.trust import read_run_log, status_of, summary, verify_run
from sop.audit.verify import Verification
from sop.events import Outcome
from sop.records import dataclass
from sop.text import markdown_code, markdown_list, markdown_table, markdown_text, visible

SHOWN_ACTIONS = frozenset(
    {
        Action.RUN_STARTED,
        Action.RUN_RESUMED,
        Action.PREFLIGHT,
        Action.PREFLIGHT_CHOICE,
        Action.STEP_CONFIRMED,
        Action.COMMAND_STARTED,
        Action.HOST_FINISHED,
        Action.STEP_FINISHED,
        Action.DEVIATION,
        Action.ANSWERED,
        Action.MENU_CHOICE,
        Action.HOST_EXCLUDED,
        Action.INTERRUPTED,
        Action.INTERACTIVE_SESSION,
        Action.ROLLBACK_STARTED,
        Action.RUN_FINISHED,
        Action.RUN_PAUSED,
        Action.HANDOVER,
        Action.REPAIRED,
        Action.SOP_CHANGED,
        Action.STATUS_UPDATE,
        Action.STATUS_UPDATE_MISSED,
        Action.APPROVAL_REQUESTED,
        Action.APPROVED,
        Action.REFUSED,
        Action.APPROVAL_REJECTED,
    }
)
APPROVAL_ACTIONS = (Action.APPROVED, Action.REFUSED, Action.APPROVAL_REJECTED)


def run_report(path: Path, fmt: str = "markdown", key: Path | None = None) -> str:
    """`sop report`: the timeline of the audit log at `path` with its verification status, as
    Markdown or (`fmt="json"`) JSON. The log is parsed once for both."""
    run = read_run_log(path)
    log = log_file(run.path, run.data)  # parsed once, for the timeline and the verification
    verification = verify_run(run, key_file=key, parsed=log.parsed)
    if fmt == "json":
        return as_json(log.entries, verification)
    return markdown(log.entries, verification)


@dataclass(frozen=True)
class TimelineRow:
    """One line of the timeline; its fields are the members of `sop report --format json`."""

    time: str
    who: str
    action: str
    step: str
    host: str
    command: str
    outcome: str
    duration_s: float | None
    detail: str


# step outcomes the deviations list names: succeeded on some hosts only; a manual step nobody did
NOTED_OUTCOMES = (Outcome.PARTIAL, Outcome.UNATTENDED)


def status_line(verification: Verification) -> str:
    return summary(verification)


def timeline(entries: Sequence[AuditEntry]) -> list[TimelineRow]:
    return [
        TimelineRow(
            time=e.time,
            who=e.operator,
            action=e.action,
            step=" ".join(x for x in (e.number, e.step_title or e.sop_title) if x),
            host=e.host or ", ".join(e.hosts),
            command=e.command,
            outcome=e.outcome or e.ecs_outcome,
            duration_s=None if e.seconds is None else round(e.seconds, 3),
            detail=_detail(e),
        )
        for e in entries
        if e.action in SHOWN_ACTIONS
    ]


def _detail(e: AuditEntry) -> str:
    if e.action == Action.DEVIATION:
        extra = ""
        if e.deviation_kind == "edit":
            extra = f" (was `{e.deviation_original}`, ran `{e.deviation_replacement}`)"
        elif e.deviation_kind == "off-script":
            extra = f" (what I did: {e.deviation_replacement})"
        return f"{e.deviation_kind}: {e.reason}{extra}"
    if e.action == Action.HOST_EXCLUDED:
        return f"excluded for the rest of the run: {e.reason}"
    if e.action == Action.STATUS_UPDATE:
        return e.status_text
    if e.action == Action.STATUS_UPDATE_MISSED:
        return f"due {e.status_due}: none given ({e.status_how})"
    if e.action == Action.APPROVAL_REQUESTED:
        who = f"the {e.role}" if e.role else "someone other than the operator"
        return f"waits for {who} (binding {e.binding[:16]})"
    if e.action in (Action.APPROVED, Action.REFUSED):
        by = e.approver + (f" as {e.role}" if e.role else "")
        verb = "approved" if e.action == Action.APPROVED else "refused"
        return f"{verb} by {by} at {e.given}" + (f": {e.reason}" if e.reason else "")
    if e.action == Action.APPROVAL_REJECTED:
        return f"answer by {e.approver or 'unknown'} not accepted: {e.reason}"
    if e.action == Action.STEP_FINISHED and e.outcome == Outcome.PARTIAL:
        hosts = "; ".join(
            f"{r.host} {r.outcome}" + (f" (exit {r.exit_code})" if r.exit_code else "")
            for r in e.results
        )
        return f"{e.reason} [{hosts}]" if e.reason else hosts
    if e.action == Action.ANSWERED:
        return f"{e.answer_name} = {e.answer_value}"
    if e.action == Action.MENU_CHOICE:
        return e.choice + (f": {e.reason}" if e.reason else "")
    if e.action == Action.STEP_CONFIRMED:
        return f"confirmed ({e.confirmation})"
    if e.action == Action.HOST_FINISHED:
        code = f"exit {e.exit_code}" if e.exit_code is not None else ""
        return code + (f" {e.error}" if e.error else "")
    if e.action in (Action.RUN_STARTED, Action.RUN_RESUMED):
        inputs = ", ".join(f"{k}={v}" for k, v in e.inputs.items())
        return f"{e.sop_title} ({inputs})" if inputs else e.sop_title
    if e.action in (Action.STEP_FINISHED, Action.RUN_FINISHED) and e.reason:
        return e.reason  # a run-finished record's: why the run was aborted
    if e.action == Action.PREFLIGHT:
        return "; ".join(
            f"{r.host} {r.outcome}" + (f": {r.error.partition(chr(10))[0]}" if r.error else "")
            for r in e.results
        )
    if e.action == Action.INTERACTIVE_SESSION:
        ended = {
            "exit": "the command exited",
            "ctrl-c": "ended with Ctrl-C",
            "detached": "the responder detached",
        }.get(e.session_ended, e.session_ended)
        if not e.recording:
            return f"interactive session: {ended}; not recorded"
        return (
            f"interactive session: {ended}; recording {e.recording} (sha256 {e.recording_sha256})"
        )
    return e.message


def markdown(entries: Sequence[AuditEntry], verification: Verification) -> str:
    """The timeline as Markdown. Every value comes from the log (SOP text, host output, answers,
    a host's error): each is quoted as literal text or as exact inline code, never markup."""
    first = entries[0] if entries else AuditEntry(action="")
    rows = timeline(entries)
    lines = [
        f"# Incident timeline: {markdown_text(first.sop_title or first.sop_id)}",
        "",
        f"- Audit log: **{markdown_text(status_line(verification))}**",
        *(f"- Note: {markdown_text(note)}" for note in verification.notes),
        f"- Run: {markdown_code(first.run_id)}, trace {markdown_code(first.trace_id)}",
        f"- SOP: {markdown_code(first.sop_id)} "
        f"(sha256 {markdown_code(first.sop_sha256[:16] + '...')})",
    ]
    if first.incident:
        lines.append(f"- Incident: {markdown_text(first.incident)}")
    lines += [""]
    lines += markdown_table(
        ("time (UTC)", "who", "step", "host", "what", "outcome", "duration", "detail"),
        (
            (
                row.time,
                row.who,
                row.step,
                row.host,
                markdown_code(row.command) if row.command else row.action,
                row.outcome,
                f"{row.duration_s:.2f}s" if row.duration_s is not None else "",
                row.detail,
            )
            for row in rows
        ),
    )
    lines += ["", "## Approvals", ""]
    lines += markdown_list(
        f"{d.time} step {d.step}: {d.detail}" for d in rows if d.action in APPROVAL_ACTIONS
    )
    lines += ["", "## Deviations", ""]
    lines += markdown_list(
        f"{d.time} step {d.step}{f' on {d.host}' if d.host else ''}: {d.detail}"
        for d in rows
        if d.action in (Action.DEVIATION, Action.HOST_EXCLUDED)
        or (d.action == Action.STEP_FINISHED and d.outcome in NOTED_OUTCOMES)
    )
    updates = [r for r in rows if r.action in (Action.STATUS_UPDATE, Action.STATUS_UPDATE_MISSED)]
    if updates:  # a run whose SOP asks for status updates and one came due
        lines += ["", "## Status updates", ""]
        lines += markdown_list(
            f"{u.time} ({u.who}): {u.detail}"
            if u.action == Action.STATUS_UPDATE
            else f"{u.time}: {u.detail}"
            for u in updates
        )
    return "\n".join(lines) + "\n"


def as_json(entries: Sequence[AuditEntry], verification: Verification) -> str:
    return json.dumps(
        {
            "verification": {
                "ok": verification.ok,
                "proven": verification.proven,
                "status": status_of(verification),
                "summary": status_line(verification),
                "unsealed": verification.unsealed,
                "notes": verification.notes,
                "findings": [str(f) for f in verification.findings],
            },
            "timeline": [dataclasses.asdict(row) for row in timeline(entries)],
        },
        indent=2,
        ensure_ascii=False,
    )


def table(entries: Sequence[AuditEntry]) -> list[list[str]]:
    """The rows of `sop audit show`, every cell made visible."""
    return [
        [
            visible(cell)
            for cell in (
                str(e.seq),
                e.time,
                e.action,
                e.number,
                e.host,
                e.outcome,
                e.command[:60],
            )
        ]
        for e in entries
    ]
