"""`sop report`: a postmortem-ready timeline of a run, from its audit log, with the chain's
verification status at the top; and the plain table of `sop audit show`."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sop.audit.verify import Verification

SHOWN_ACTIONS = (
    "run-started",
    "run-resumed",
    "step-confirmed",
    "command-started",
    "host-finished",
    "step-finished",
    "deviation",
    "answered",
    "menu-choice",
    "interrupted",
    "rollback-started",
    "run-finished",
    "handover",
    "repaired",
    "sop-changed",
)


def status_line(verification: Verification) -> str:
    seq, digest = verification.head
    if verification.ok:
        seals = (
            f", {verification.seals_checked} seal(s) verified" if verification.seals_checked else ""
        )
        return f"verified: {verification.records} records, head {seq}:{digest}{seals}"
    return "NOT VERIFIED: " + "; ".join(str(f) for f in verification.findings)


def timeline(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for r in records:
        action = r.get("event", {}).get("action", "")
        if action not in SHOWN_ACTIONS:
            continue
        sop = r.get("sop", {})
        rows.append(
            {
                "time": r.get("@timestamp", ""),
                "who": r.get("user", {}).get("name", ""),
                "action": action,
                "step": " ".join(
                    x for x in (str(sop.get("number", "")), str(sop.get("title", ""))) if x
                ).strip(),
                "host": r.get("host", {}).get("name", "") or ", ".join(sop.get("hosts", []) or []),
                "command": r.get("process", {}).get("command_line", ""),
                "outcome": sop.get("outcome", "") or r.get("event", {}).get("outcome", ""),
                "duration_s": round(r["event"]["duration"] / 1e9, 3)
                if "duration" in r.get("event", {})
                else None,
                "detail": _detail(action, r),
            }
        )
    return rows


def _detail(action: str, r: dict[str, Any]) -> str:
    sop = r.get("sop", {})
    if action == "deviation":
        d = sop.get("deviation", {})
        extra = (
            f" (was `{d.get('original')}`, ran `{d.get('replacement')}`)"
            if d.get("kind") == "edit"
            else ""
        )
        return f"{d.get('kind')}: {d.get('reason')}{extra}"
    if action == "answered":
        a = sop.get("answer", {})
        return f"{a.get('name')} = {a.get('value')}"
    if action == "menu-choice":
        return f"{sop.get('choice')}" + (f": {sop.get('reason')}" if sop.get("reason") else "")
    if action == "step-confirmed":
        return f"confirmed ({sop.get('confirmation')})"
    if action == "host-finished":
        code = r.get("process", {}).get("exit_code")
        error = r.get("error", {}).get("message", "")
        return (f"exit {code}" if code is not None else "") + (f" {error}" if error else "")
    if action in ("run-started", "run-resumed"):
        inputs = ", ".join(f"{k}={v}" for k, v in sop.get("inputs", {}).items())
        return f"{sop.get('title', '')} ({inputs})" if inputs else str(sop.get("title", ""))
    if action == "step-finished" and sop.get("reason"):
        return str(sop["reason"])
    return str(r.get("message", ""))


def markdown(records: Sequence[dict[str, Any]], verification: Verification) -> str:
    first = records[0] if records else {}
    sop = first.get("sop", {})
    lines = [
        f"# Incident timeline: {sop.get('title', sop.get('id', ''))}",
        "",
        f"- Audit log: **{status_line(verification)}**",
        f"- Run: `{sop.get('run_id', '')}`, trace `{first.get('trace', {}).get('id', '')}`",
        f"- SOP: `{sop.get('id', '')}` (sha256 `{str(sop.get('sha256', ''))[:16]}...`)",
    ]
    if first.get("labels", {}).get("incident"):
        lines.append(f"- Incident: {first['labels']['incident']}")
    lines += [
        "",
        "| time (UTC) | who | step | host | what | outcome | duration | detail |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in timeline(records):
        what = f"`{row['command']}`" if row["command"] else row["action"]
        duration = f"{row['duration_s']:.2f}s" if row["duration_s"] is not None else ""
        cells = [
            row["time"],
            row["who"],
            row["step"],
            row["host"],
            what,
            row["outcome"],
            duration,
            row["detail"],
        ]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    deviations = [r for r in timeline(records) if r["action"] == "deviation"]
    lines += ["", "## Deviations", ""]
    lines += [f"- {d['time']} step {d['step']}: {d['detail']}" for d in deviations] or ["- none"]
    return "\n".join(lines) + "\n"


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def as_json(records: Sequence[dict[str, Any]], verification: Verification) -> str:
    return json.dumps(
        {
            "verification": {
                "ok": verification.ok,
                "status": status_line(verification),
                "findings": [str(f) for f in verification.findings],
            },
            "timeline": timeline(records),
        },
        indent=2,
        ensure_ascii=False,
    )


def table(records: Sequence[dict[str, Any]]) -> list[list[str]]:
    return [
        [
            str(r.get("seq")),
            r.get("@timestamp", ""),
            r.get("event", {}).get("action", ""),
            str(r.get("sop", {}).get("number", "")),
            r.get("host", {}).get("name", ""),
            str(r.get("sop", {}).get("outcome", "")),
            str(r.get("process", {}).get("command_line", ""))[:60],
        ]
        for r in records
    ]
