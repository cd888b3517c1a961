"""The drill report: time per step against the SOP's target, deviations, injected failures and
what the responder chose, where they hesitated."""

from __future__ import annotations

import datetime as dt
import json
import statistics
from collections.abc import Sequence
from typing import Any


def _at(record: dict[str, Any]) -> float:
    stamp = str(record.get("@timestamp", "")).replace("Z", "+00:00")
    return dt.datetime.fromisoformat(stamp).timestamp() if stamp else 0.0


def build_report(records: Sequence[dict[str, Any]], target_minutes: int | None) -> dict[str, Any]:
    """The drill report as data, from the run's audit records."""
    first = records[0]
    steps: dict[str, dict[str, Any]] = {}
    order: list[str] = []
    failures: list[dict[str, Any]] = []
    deviations: list[dict[str, Any]] = []
    answers: dict[str, str] = {}
    finished = next((r for r in reversed(records) if r["event"]["action"] == "run-finished"), None)
    for r in records:
        action = r["event"]["action"]
        sop = r.get("sop", {})
        number = str(sop.get("number", ""))
        if not number:
            continue
        step = steps.setdefault(
            number,
            {
                "number": number,
                "id": sop.get("step"),
                "title": sop.get("title", ""),
                "kind": sop.get("kind", ""),
                "outcome": "",
                "seconds": 0.0,
                "hesitation": 0.0,
                "attempts": 0,
                "_shown": None,
            },
        )
        if number not in order:
            order.append(number)
        if action == "step-shown" and step["_shown"] is None:
            step["_shown"] = _at(r)
        elif (
            action in ("step-confirmed", "deviation", "menu-choice") and step["_shown"] is not None
        ):
            step["hesitation"] = max(step["hesitation"], round(_at(r) - step["_shown"], 3))
            step["_shown"] = None
        if action == "step-finished":
            step["outcome"] = sop.get("outcome", "")
            step["seconds"] += r["event"].get("duration", 0) / 1e9
            step["attempts"] = max(step["attempts"], int(sop.get("attempt", 1)))
        elif action == "host-finished" and sop.get("outcome") != "success":
            failures.append(
                {
                    "step": number,
                    "title": step["title"],
                    "host": r.get("host", {}).get("name", ""),
                    "exit_code": r.get("process", {}).get("exit_code"),
                    "error": r.get("error", {}).get("message", ""),
                    "choice": "",
                }
            )
        elif action == "menu-choice" and failures and failures[-1]["step"] == number:
            failures[-1]["choice"] = sop.get("choice", "")
        elif action == "deviation":
            d = sop.get("deviation", {})
            deviations.append(
                {
                    "step": number,
                    "title": step["title"],
                    "kind": d.get("kind"),
                    "reason": d.get("reason"),
                }
            )
        elif action == "answered":
            a = sop.get("answer", {})
            answers[str(a.get("name"))] = str(a.get("value"))
    rows = []
    for number in order:
        step = steps[number]
        step.pop("_shown")
        step["seconds"] = round(step["seconds"], 3)
        rows.append(step)
    total = finished["event"]["duration"] / 1e9 if finished else _at(records[-1]) - _at(first)
    hesitations = sorted((s for s in rows if s["hesitation"] > 0), key=lambda s: -s["hesitation"])[
        :3
    ]
    return {
        "sop": first["sop"]["id"],
        "title": first["sop"].get("title", ""),
        "run_id": first["sop"]["run_id"],
        "operator": first.get("user", {}).get("name", ""),
        "started": first.get("@timestamp", ""),
        "scenario": first.get("labels", {}).get("scenario", ""),
        "outcome": finished["sop"]["outcome"] if finished else "unfinished",
        "total_seconds": round(total, 3),
        "target_minutes": target_minutes,
        "within_target": None if target_minutes is None else total <= target_minutes * 60,
        "steps": rows,
        "skipped": [s["number"] for s in rows if s["outcome"] == "skipped"],
        "deviations": deviations,
        "failures": failures,
        "answers": answers,
        "hesitations": [
            {"step": s["number"], "title": s["title"], "seconds": s["hesitation"]}
            for s in hesitations
        ],
        "median_step_seconds": round(statistics.median([s["seconds"] for s in rows]), 3)
        if rows
        else 0.0,
    }


def report_json(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def report_markdown(report: dict[str, Any]) -> str:
    target = report["target_minutes"]
    verdict = (
        ""
        if target is None
        else (" (within" if report["within_target"] else " (OVER") + f" the {target} min target)"
    )
    lines = [
        f"# Drill report: {report['title']}",
        "",
        f"- SOP `{report['sop']}`, run `{report['run_id']}`, by {report['operator']}, {report['started']}",
        f"- Scenario: {report['scenario'] or 'the SOP as written'}",
        f"- Outcome: **{report['outcome']}** in {report['total_seconds']:.1f}s{verdict}",
        "",
        "## Steps",
        "",
        "| step | title | outcome | attempts | time | hesitation |",
        "|---|---|---|---|---|---|",
    ]
    for s in report["steps"]:
        lines.append(
            f"| {s['number']} | {_cell(s['title'])} | {s['outcome']} | {s['attempts'] or ''} | "
            f"{s['seconds']:.1f}s | {s['hesitation']:.1f}s |"
        )
    lines += ["", "## Where the responder hesitated longest (the retro's agenda)", ""]
    lines += [
        f"1. Step {h['step']} {_cell(h['title'])}: {h['seconds']:.1f}s"
        for h in report["hesitations"]
    ] or ["- nowhere"]
    lines += ["", "## Failures and what the responder chose", ""]
    lines += [
        f"- Step {f['step']} on {f['host']}: "
        + (f"exit {f['exit_code']}" if f["exit_code"] is not None else f["error"])
        + (f" → {f['choice']}" if f["choice"] else "")
        for f in report["failures"]
    ] or ["- none"]
    lines += ["", "## Skipped steps and deviations", ""]
    lines += [
        f"- Step {d['step']} {_cell(d['title'])}: {d['kind']}: {_cell(d['reason'])}"
        for d in report["deviations"]
    ] or ["- none"]
    lines += ["", "## Answers", ""]
    lines += [f"- {k} = {_cell(v)}" for k, v in report["answers"].items()] or ["- none"]
    return "\n".join(lines) + "\n"
