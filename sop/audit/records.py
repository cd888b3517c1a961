"""Runner events as audit records that conform to the Elastic Common Schema (ECS_VERSION, nested
objects), so that a SIEM ingests the log as is (docs/siem.md).

A *record* is this JSON object (a `dict` until log.py writes it as one line); reader.py gives
the typed view of a record that was read back, an `AuditEntry`. Every record has `message`,
`log.level`, `event.kind`, `event.category` and `event.type` (`ecs_fields`); what sop adds
beyond ECS lives under `sop.*`, whose names are fixed: names that come from an SOP (step ids,
input names, hosts) are values, never keys (`sop.inputs: [{name, value}]`), so the mapping is
bounded (docs/siem.md ships it as an index template)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from sop import events as ev
from sop.audit.actions import Action
from sop.events import Outcome

TAIL = 2000  # characters of output kept (redacted) per host
ECS_VERSION = "9.3.0"  # the release whose fields the records use (tests/data/ecs/ecs_flat.yml)

# event.category and event.type per action (ECS allowed values); other actions: process, info
_CATEGORY_TYPE: dict[str, tuple[str, str]] = {
    Action.RUN_STARTED: ("process", "start"),
    Action.RUN_RESUMED: ("process", "start"),
    Action.STEP_STARTED: ("process", "start"),
    Action.COMMAND_STARTED: ("process", "start"),
    Action.ROLLBACK_STARTED: ("process", "start"),
    Action.HOST_FINISHED: ("process", "end"),
    Action.STEP_FINISHED: ("process", "end"),
    Action.RUN_FINISHED: ("process", "end"),
    Action.RUN_PAUSED: ("process", "end"),
    Action.INTERRUPTED: ("process", "end"),
    Action.STOPPING: ("process", "change"),
    Action.HOST_EXCLUDED: ("host", "change"),
    Action.SEAL: ("configuration", "info"),
    Action.STATE_SAVED: ("configuration", "change"),
    Action.SOP_CHANGED: ("configuration", "change"),
    Action.REPAIRED: ("file", "change"),
    Action.HANDOVER: ("session", "start"),
    Action.INTERACTIVE_SESSION: ("session", "end"),
    Action.PREFLIGHT: ("network", "connection"),
    Action.PREFLIGHT_CHOICE: ("process", "info"),
    Action.NOTIFICATION: ("network", "info"),
    Action.APPROVAL_REQUESTED: ("iam", "info"),
    Action.APPROVED: ("iam", "info"),
    Action.REFUSED: ("iam", "info"),
    Action.APPROVAL_REJECTED: ("iam", "info"),
}
_WARNINGS = frozenset(
    {
        Action.DEVIATION,
        Action.INTERRUPTED,
        Action.STOPPING,
        Action.HOST_EXCLUDED,
        Action.ROLLBACK_STARTED,
        Action.REPAIRED,
        Action.SOP_CHANGED,
        Action.UNPROVEN,
        Action.STATUS_UPDATE_MISSED,
        Action.REFUSED,
        Action.APPROVAL_REJECTED,
    }
)


def timestamp(at: float) -> str:
    """ISO 8601 in UTC with milliseconds, as ECS wants `@timestamp`."""
    moment = dt.datetime.fromtimestamp(at, tz=dt.UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


def ecs_outcome(outcome: str) -> str:
    if outcome in _ECS_SUCCESS:
        return "success"
    if outcome in _ECS_FAILURE:
        return "failure"
    return "unknown"


_ECS_SUCCESS = frozenset({Outcome.SUCCESS, Outcome.DONE})
_ECS_FAILURE = frozenset(
    {Outcome.FAILURE, Outcome.INTERRUPTED, Outcome.ABORTED, Outcome.ROLLED_BACK}
)


STOPPING_MESSAGES = {
    ev.Escalation.TERM: "Ctrl-C: SIGTERM sent to the commands still running on {hosts}",
    ev.Escalation.KILL: "SIGKILL sent to the commands still running on {hosts}",
    ev.Escalation.STOP_WAITING: "the responder stopped waiting for {hosts}: "
    "their commands may still be running (in doubt)",
}


def ecs_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """`fields` (a record's own part: `body`, a seal, a note) with what ECS wants on every
    record: `event.category` and `event.type` by action, `log.level`, and a `message`."""
    event = fields["event"]
    action = event["action"]
    category, kind = _CATEGORY_TYPE.get(action, ("process", "info"))
    level = (
        "warning"
        if action in _WARNINGS  # a refusal fails the request, and is no error of sop's
        else "error"
        if event.get("outcome") == "failure"
        else "info"
    )
    return {
        **fields,
        "event": {**event, "category": [category], "type": [kind]},
        "log": {"level": level},
        "message": fields.get("message") or summary(action, fields.get("sop", {})),
    }


def summary(action: str, sop: Mapping[str, Any]) -> str:
    """The `message` of a record that has none of its own, from its action and `sop` fields;
    readers take a message equal to it as no message (reader.py)."""
    text = str(action)
    if "number" in sop:
        text += f": step {sop['number']} {sop.get('title', '')}".rstrip()
    elif "title" in sop:
        text += f": {sop['title']}"
    target = sop.get("target")
    if isinstance(target, dict) and target.get("name"):
        text += f" on {target['name']}"
    if "outcome" in sop:
        text += f" ({sop['outcome']})"
    return text


def _step(ref: ev.StepRef, attempt: int | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "step": ref.id,
        "number": ref.number,
        "title": ref.title,
        "kind": ref.kind,
    }
    if ref.depth:
        out["called_sop"] = ref.sop_id
    if ref.round > 1:
        out["round"] = ref.round
    if attempt is not None:
        out["attempt"] = attempt
    return out


def _spanned(out: dict[str, Any], span_id: str, parent_span_id: str) -> dict[str, Any]:
    """`out` with a step's or host's span (ECS `span.id`) and its parent (`sop.parent_span_id`)
    in place of the run span the common fields give; as it is for an event that has none."""
    if span_id:
        out["span"] = {"id": span_id}
        out["sop"]["parent_span_id"] = parent_span_id
    return out


def _output(stdout: str, stderr: str) -> dict[str, Any]:
    both = stdout + stderr
    return {
        "sha256": hashlib.sha256(both.encode()).hexdigest(),
        "bytes": len(both.encode()),
        "tail": both[-TAIL:],
    }


def _steps(steps: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"step": key, "outcome": outcome} for key, outcome in steps.items()]


def _resolved(hosts: Mapping[str, str]) -> list[dict[str, str]]:
    """The inventory's hosts as run-started names them: `user@address:port` by name."""
    return [{"name": name, "address": address} for name, address in hosts.items()]


def _host_result(result: ev.HostFinished) -> dict[str, Any]:
    """One host's result in its step's record: a partial step says which hosts did what."""
    out: dict[str, Any] = {
        "host": result.host,
        "outcome": result.outcome,
        "attempt": result.attempt,
    }
    if result.exit_code is not None:
        out["exit_code"] = result.exit_code
    if result.error:
        out["error"] = result.error
    return out


def _reached(result: ev.HostReached) -> dict[str, Any]:
    """One host's pre-flight result (as `outcome`: `ok`, `unknown key`, ...), and when it is
    not ok, the whole message."""
    out: dict[str, Any] = {"host": result.host, "address": result.address, "outcome": result.reach}
    out["duration"] = int(result.duration * 1e9)
    if result.error:
        out["error"] = result.error
    return out


def body(event: ev.Event) -> dict[str, Any] | None:
    """The event-specific part of a record, or None for events that are not audited (output
    chunks: each host's result carries a digest and a redacted tail of its output)."""
    if isinstance(event, ev.RunStarted):
        drill = {"drill": {"simulated": event.simulated}} if event.drill else {}
        return {
            "event": {"action": Action.RUN_RESUMED if event.resumed else Action.RUN_STARTED},
            "sop": {
                "title": event.sop_title,
                "path": event.sop_path,
                "inputs": [{"name": k, "value": v} for k, v in event.inputs.items()],
                "targets": list(event.targets),
                "dry_run": event.dry_run,
                **({"inventory": event.inventory} if event.inventory else {}),
                **({"inventories": list(event.inventories)} if event.inventories else {}),
                **({"resolved": _resolved(event.hosts)} if event.hosts else {}),
                **(
                    {"inventory_notes": list(event.inventory_notes)}
                    if event.inventory_notes
                    else {}
                ),
                **({"severity": event.severity} if event.severity else {}),
                **({"status": {"every": event.status_every}} if event.status_every else {}),
                **(
                    {"skip": [{"step": k, "reason": v} for k, v in event.skips.items()]}
                    if event.skips
                    else {}
                ),
                **drill,
            },
        }
    if isinstance(event, ev.Preflight):
        return {
            "event": {
                "action": Action.PREFLIGHT,
                "outcome": "success" if event.ok else "failure",
                "duration": int(event.duration * 1e9),
            },
            "sop": {
                "round": event.round,
                "hosts": [r.host for r in event.results],
                "results": [_reached(r) for r in event.results],
                "unchecked": list(event.unchecked),
            },
        }
    if isinstance(event, ev.StepShown):
        out: dict[str, Any] = {"event": {"action": Action.STEP_SHOWN}, "sop": _step(event.step)}
        if event.command:
            out["process"] = {"command_line": event.command}
            out["sop"]["hosts"] = list(event.hosts)
        if event.stdin is not None:
            out["sop"]["stdin"] = event.stdin
        if event.excluded:
            out["sop"]["excluded"] = [
                {"host": host, "reason": why} for host, why in event.excluded.items()
            ]
        if event.note or event.plain:
            out["message"] = "\n".join(x for x in (event.note, event.plain) if x)
        return out
    if isinstance(event, ev.StepConfirmed):
        return {
            "event": {"action": Action.STEP_CONFIRMED},
            "sop": {
                **_step(event.step, event.attempt),
                "confirmation": event.how,
                "hosts": list(event.hosts),
                **({"stdin": event.stdin} if event.stdin is not None else {}),
            },
            "process": {"command_line": event.command},
        }
    if isinstance(event, ev.StepStarted):
        out = {
            "event": {"action": Action.STEP_STARTED},
            "sop": {**_step(event.step, event.attempt), "hosts": list(event.hosts)},
            "process": {"command_line": event.command},
        }
        return _spanned(out, event.span_id, event.parent_span_id)
    if isinstance(event, ev.CommandStarted):
        out = {
            "event": {"action": Action.COMMAND_STARTED},
            "sop": {**_step(event.step, event.attempt), "target": {"name": event.host}},
            "process": {"command_line": event.command},
        }
        return _spanned(out, event.span_id, event.parent_span_id)
    if isinstance(event, ev.HostFinished):
        out = {
            "event": {
                "action": Action.HOST_FINISHED,
                "outcome": ecs_outcome(event.outcome),
                "duration": int(event.duration * 1e9),
            },
            "sop": {
                **_step(event.step, event.attempt),
                "outcome": event.outcome,
                "output": _output(event.stdout, event.stderr),
                "target": {"name": event.host},
            },
        }
        if event.exit_code is not None:
            out["process"] = {"exit_code": event.exit_code}
        if event.error:
            out["error"] = {"message": event.error}
        return _spanned(out, event.span_id, event.parent_span_id)
    if isinstance(event, ev.StepFinished):
        out = {
            "event": {
                "action": Action.STEP_FINISHED,
                "outcome": ecs_outcome(event.outcome),
                "duration": int(event.duration * 1e9),
            },
            "sop": {
                **_step(event.step, event.attempt),
                "outcome": event.outcome,
                "reason": event.reason,
                "hosts": [r.host for r in event.results],
                "results": [_host_result(r) for r in event.results],
            },
        }
        return _spanned(out, event.span_id, event.parent_span_id)
    if isinstance(event, ev.Deviation):
        return {
            "event": {"action": Action.DEVIATION},
            "sop": {
                **_step(event.step),
                "deviation": {
                    "kind": event.kind,
                    "reason": event.reason,
                    "original": event.original,
                    "replacement": event.replacement,
                },
            },
        }
    if isinstance(event, ev.Answered):
        return {
            "event": {"action": Action.ANSWERED},
            "sop": {**_step(event.step), "answer": {"name": event.name, "value": event.value}},
        }
    if isinstance(event, ev.Decided):
        return {
            "event": {"action": Action.DECIDED},
            "sop": {
                **_step(event.step),
                "choice": event.choice,
                "goto": list(event.goto),
                "confirmation": event.how,
            },
        }
    if isinstance(event, ev.SectionSkipped):
        section = {"id": event.section_id, "title": event.title, "round": event.round}
        return {
            "event": {"action": Action.SECTION_SKIPPED},
            "sop": {"section": section, "reason": event.reason},
        }
    if isinstance(event, ev.SectionPassed):
        section = {
            "id": event.section_id,
            "title": event.title,
            "round": event.round,
            "key": event.key,
        }
        return {
            "event": {"action": Action.SECTION_PASSED},
            "sop": {"section": section, "choice": event.verdict, "reason": event.reason},
        }
    if isinstance(event, ev.Captured):
        text = (
            event.value
            if isinstance(event.value, str)
            else json.dumps(dict(event.value), sort_keys=True)
        )
        return {
            "event": {"action": Action.CAPTURED},
            "sop": {**_step(event.step), "capture": {"name": event.name, **_output(text, "")}},
        }
    if isinstance(event, ev.MenuChoice):
        return {
            "event": {"action": Action.MENU_CHOICE},
            "sop": {**_step(event.step), "choice": event.choice, "reason": event.reason},
        }
    if isinstance(event, ev.HostExcluded):
        return {
            "event": {"action": Action.HOST_EXCLUDED},
            "sop": {**_step(event.step), "reason": event.reason, "target": {"name": event.host}},
        }
    if isinstance(event, ev.Interrupted):
        return {
            "event": {"action": Action.INTERRUPTED},
            "sop": _step(event.step) if event.step else {},
        }
    if isinstance(event, ev.Stopping):
        return {
            "event": {"action": Action.STOPPING},
            "sop": {
                **_step(event.step),
                "escalation": event.escalation,
                "hosts": list(event.hosts),
            },
            "message": STOPPING_MESSAGES[event.escalation].format(hosts=", ".join(event.hosts)),
        }
    if isinstance(event, ev.SessionEnded):
        session: dict[str, Any] = {"ended": event.ended}
        if event.recording:
            session["recording"] = {
                "file": event.recording,
                "sha256": event.sha256,
                "bytes": event.size,
            }
        out = {
            "event": {"action": Action.INTERACTIVE_SESSION},
            "sop": {
                **_step(event.step, event.attempt),
                "session": session,
                "target": {"name": event.host},
            },
        }
        if event.exit_code is not None:
            out["process"] = {"exit_code": event.exit_code}
        return _spanned(out, event.span_id, event.parent_span_id)
    if isinstance(event, ev.RollbackStarted):
        return {
            "event": {"action": Action.ROLLBACK_STARTED},
            "sop": {
                **(_step(event.step) if event.step else {}),
                "reason": event.reason,
                **({"resumed": True} if event.resumed else {}),
            },
        }
    if isinstance(event, ev.RunFinished):
        return {
            "event": {
                "action": Action.RUN_FINISHED,
                "outcome": ecs_outcome(event.outcome),
                "duration": int(event.duration * 1e9),
            },
            "sop": {
                "outcome": event.outcome,
                "steps": _steps(event.steps),
                **({"reason": event.reason} if event.reason else {}),
            },
        }
    if isinstance(event, ev.RunPaused):
        return {
            "event": {"action": Action.RUN_PAUSED, "duration": int(event.duration * 1e9)},
            "sop": {
                **(_step(event.step) if event.step else {}),
                "pause": event.how,
                "reason": event.reason,
                "steps": _steps(event.steps),
            },
            "message": event.reason,
        }
    if isinstance(event, ev.Notified):
        out = {
            "event": {
                "action": Action.NOTIFICATION,
                "outcome": "success" if event.delivered else "failure",
                "duration": int(event.duration * 1e9),
            },
            "sop": {
                "notification": {
                    "event": event.notice,
                    "target": event.target,
                    "attempts": event.attempts,
                }
            },
            "message": f"notification {event.notice} to {event.target}: "
            + ("delivered" if event.delivered else f"not delivered ({event.error})"),
        }
        if event.error:
            out["error"] = {"message": event.error}
        return out
    if isinstance(event, ev.StatusUpdate):
        return _status_update(event)
    if isinstance(event, ev.ApprovalRequested):
        request = {"binding": event.binding, "role": event.role, "task": event.task}
        return {
            "event": {"action": Action.APPROVAL_REQUESTED},
            "sop": {
                **_step(event.step),
                "hosts": list(event.hosts),
                **({"stdin": event.stdin} if event.stdin is not None else {}),
                "inputs": [{"name": k, "value": v} for k, v in event.inputs.items()],
                "approval": request,
            },
            "process": {"command_line": event.command},
        }
    if isinstance(event, ev.ApprovalAnswered):
        approval: dict[str, Any] = {
            "binding": event.binding,
            "role": event.role,
            "approver": {"name": event.approver, "id": str(event.approver_id)},
            "given": timestamp(event.given),
            "simulated": event.simulated,
        }
        verb = "approved" if event.approved else "refused"
        out = {
            "event": {
                "action": Action.APPROVED if event.approved else Action.REFUSED,
                "outcome": "success" if event.approved else "failure",
            },
            "sop": {**_step(event.step), "approval": approval, "reason": event.reason},
            "related": {"user": [event.approver]},
            "message": f"step {event.step.number} {event.step.title} {verb} by "
            f"{event.approver}"
            + (f" as {event.role}" if event.role else "")
            + (f": {event.reason}" if event.reason else ""),
        }
        return out
    if isinstance(event, ev.ApprovalRejected):
        rejected: dict[str, Any] = {
            "file": event.file,
            "approver": {"name": event.approver, "id": str(event.approver_id)},
        }
        if event.given is not None:
            rejected["given"] = timestamp(event.given)
        return {
            "event": {"action": Action.APPROVAL_REJECTED},
            "sop": {
                **_step(event.step),
                "approval": rejected,
                "reason": event.reason,
            },
            "message": f"an answer for step {event.step.number} not accepted ({event.file}): "
            f"{event.reason}",
        }
    if isinstance(event, ev.AuditNote):
        return {
            "event": {"action": event.action},
            "sop": dict(event.fields),
            "message": event.message,
        }
    return None


def _status_update(event: ev.StatusUpdate) -> dict[str, Any]:
    """A status update's record: its text (masked like all free text), or that none was given."""
    status = {
        "text": event.text,
        "how": event.how,
        "due": timestamp(event.due),
        "every": event.every,
        **({"severity": event.severity} if event.severity else {}),
    }
    when = f" at step {event.step.number} {event.step.title}" if event.step else ""
    message = (
        f"status update{when}: {event.text}"
        if event.given
        else f"status update due {status['due']}{when}: none given ({event.how})"
    )
    return {
        "event": {"action": Action.STATUS_UPDATE if event.given else Action.STATUS_UPDATE_MISSED},
        "sop": {**(_step(event.step) if event.step else {}), "status": status},
        "message": message,
    }
