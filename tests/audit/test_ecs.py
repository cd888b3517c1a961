"""Every kind of record sop writes conforms to ECS (tests/data/ecs/ecs_flat.yml, the fields of
the release records.ECS_VERSION names) and to the index template docs/siem.md ships."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from sop import events as ev
from sop.audit import chain
from sop.audit.actions import Action
from sop.audit.log import AuditLog, AuditSink, SealState
from sop.audit.records import ECS_VERSION
from sop.audit.session import common_fields
from sop.audit.trust import unproven_note
from sop.events import Escalation, Outcome, PauseHow

ROOT = Path(__file__).parent.parent.parent
FLAT: dict[str, Any] = yaml.safe_load((ROOT / "tests/data/ecs/ecs_flat.yml").read_text())
TEMPLATE = json.loads((ROOT / "docs/siem/index-template.json").read_text())
STEP = ev.StepRef("rotate", "2", "Rotate the logs", "run", "disk", depth=1)
AT = 1_700_000_000.0
TRACE, PARENT, RUN_SPAN = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", "b7ad6b7169203331"
STEP_SPAN, HOST_SPAN = "53995c3f42cd8ad8", "5fb397be34d26b51"


def events() -> list[ev.Event]:
    done = ev.HostFinished(
        AT, STEP, "web1", Outcome.FAILURE, 3, 1.5, "boom", "out", "err", 2, HOST_SPAN, STEP_SPAN
    )
    return [
        ev.RunStarted(
            AT,
            "r1",
            "t1",
            "disk",
            "Disk",
            "/s.yaml",
            "f" * 64,
            "ana",
            "INC-1",
            {"host": "web1", "token": "********"},
            ("web1",),
            drill=True,
            simulated=True,
            inventory="inv.yaml",
            inventories=("inv.yaml",),
            hosts={"web1": "u@10.0.0.1:22"},
            inventory_notes=("ansible_user ignored",),
            severity="sev1",
            status_every=900.0,
            skips={"verify": "checked by hand"},
        ),
        ev.RunStarted(
            AT,
            "r1",
            "t1",
            "disk",
            "Disk",
            "/s.yaml",
            "f" * 64,
            "bob",
            None,
            {},
            ("web1",),
            resumed=True,
        ),
        ev.Preflight(
            AT,
            1,
            (
                ev.HostReached("web1", "u@10.0.0.1:22", ev.Reach.OK, 0.1),
                ev.HostReached("web2", "u@10.0.0.2:22", ev.Reach.REFUSED, 0.2, "refused"),
            ),
            0.3,
            ("later",),
        ),
        ev.AuditNote(
            AT,
            Action.PREFLIGHT_CHOICE,
            "continue",
            {"choice": "continue", "not_ok": ["web2"], "reason": "r"},
        ),
        ev.Decided(AT, STEP, "yes", ("fix",), "--answer"),
        ev.SectionSkipped(AT, "Fix", "fix", "not chosen", round=2),
        ev.SectionPassed(AT, "Verify", "verify", 2, "again", "not yet", key="verify@2"),
        ev.StepShown(
            AT,
            STEP,
            note="n",
            command="rm x",
            hosts=("web1",),
            stdin="y",
            excluded={"web2": "dead"},
        ),
        ev.StepConfirmed(AT, STEP, "typed", "rm x", ("web1",), 2, stdin="y"),
        ev.StepStarted(AT, STEP, 2, ("web1",), "rm x", STEP_SPAN, RUN_SPAN),
        ev.CommandStarted(AT, STEP, "web1", "rm x", 2, HOST_SPAN, STEP_SPAN),
        done,
        ev.StepFinished(
            AT, STEP, Outcome.PARTIAL, 2.0, 2, (done,), "excluded: web2", STEP_SPAN, RUN_SPAN
        ),
        ev.Deviation(AT, STEP, "edit", "typo", "rm x", "rm y"),
        ev.Answered(AT, STEP, "culprit", "app.log"),
        ev.Captured(AT, STEP, "usage", {"a": "1"}),
        ev.MenuChoice(AT, STEP, "retry", "flaky"),
        ev.HostExcluded(AT, STEP, "web2", "dead"),
        ev.Interrupted(AT, STEP),
        ev.Stopping(AT, STEP, Escalation.TERM, ("web1",)),
        ev.SessionEnded(
            AT,
            STEP,
            "web1",
            ev.SessionEnd.EXIT,
            0,
            "session-2-rotate-web1.cast",
            "e",
            9,
            span_id=HOST_SPAN,
            parent_span_id=STEP_SPAN,
        ),
        ev.RollbackStarted(AT, "abort"),
        ev.RunPaused(AT, PauseHow.QUIT, STEP, 3.0, "quit", {"rotate": Outcome.FAILURE}),
        ev.RunFinished(AT, Outcome.SUCCESS, 4.0, {"rotate": Outcome.SUCCESS}),
        ev.AuditNote(AT, Action.HANDOVER, "ana handed over", {"from": "ana", "to": "bob"}),
        ev.AuditNote(AT, Action.SOP_CHANGED, "fixed", {"old_sha256": "a", "new_sha256": "b"}),
        ev.AuditNote(AT, *unproven_note(3, 4)),
        ev.AuditNote(AT, Action.REPAIRED, "cut", {"line": 9, "bytes": 12, "sha256": "c"}),
        ev.AuditNote(AT, "drill-guard", "blocked", {"blocked": ["curl"]}),
        ev.StatusUpdate(AT, "web1 drained, rotating", AT - 30, 900.0, severity="sev1", step=STEP),
        ev.StatusUpdate(AT, "", AT - 30, 900.0, ev.StatusHow.UNATTENDED),
        ev.Notified(AT, "run-started", "https://hooks.slack.com", True, 1, 0.2),
        ev.Notified(AT, "step-failed", "pager", False, 4, 7.5, "pager exited with 2"),
        ev.ApprovalRequested(
            AT, STEP, "b" * 64, "rm x", ("web1",), "y", {"host": "web1"}, "ir-lead"
        ),
        ev.ApprovalAnswered(AT, STEP, True, "bob", 1001, "b" * 64, "ir-lead", AT),
        ev.ApprovalAnswered(AT, STEP, False, "bob", 1001, "b" * 64, "", AT, "not now"),
        ev.ApprovalRejected(AT, STEP, "rotate.1002.json", "for something else", "eve", 1002),
        ev.ApprovalRejected(AT, STEP, "rotate.1003.json", "a link", "", 1003, given=None),
        ev.ApprovalRejected(AT, STEP, "rotate.1004.json", "its own", "ana", 1004, given=AT),
    ]


def written(tmp_path: Path, kind: str) -> list[dict[str, Any]]:
    common = common_fields(run_id="r1", trace_id=TRACE, span_id=RUN_SPAN, parent_span_id=PARENT,
                           sop_id="disk", sha256="f" * 64, operator="ana", incident="INC-1",
                           kind=kind, scenario="s")  # fmt: skip
    key0 = bytes(32)
    log = AuditLog(tmp_path / f"{kind}.jsonl", common, seal=SealState(chain.key_id(key0), 0, key0))
    sink = AuditSink(log)
    for event in events():
        sink.emit(event)
    log.append(AT, {"event": {"action": Action.STATE_SAVED}, "sop": {"state_sha256": "d"}})
    log.close(AT)
    return [json.loads(line) for line in log.path.read_text().splitlines()]


@pytest.fixture(scope="module")
def records(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("ecs")
    return written(tmp, "event") + written(tmp, "drill")


def flat(value: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Dotted field names and values; a list of objects is walked into (as ES maps it)."""
    for key, item in value.items():
        name = f"{prefix}{key}"
        if item == []:
            continue  # indexes as nothing
        if isinstance(item, dict):
            yield from flat(item, f"{name}.")
        elif isinstance(item, list) and item and all(isinstance(i, dict) for i in item):
            for each in item:
                yield from flat(each, f"{name}.")
        else:
            yield name, item


TYPES = {
    "keyword": str, "wildcard": str, "match_only_text": str, "date": str, "long": int,
    "boolean": bool, "double": float,
}  # fmt: skip


def test_every_action_is_written(records: list[dict[str, Any]]) -> None:
    assert {r["event"]["action"] for r in records} >= set(Action)


def test_every_record_conforms_to_ecs(records: list[dict[str, Any]]) -> None:
    for record in records:
        assert record["ecs"]["version"] == ECS_VERSION == "9.3.0"
        assert record["message"] and record["log"]["level"] in {"info", "warning", "error"}
        for name, value in flat(record):
            if name.startswith("sop."):
                continue
            field = FLAT.get(name) or (FLAT["labels"] if name.startswith("labels.") else None)
            assert field is not None, f"{name} is no ECS field"
            values = value if isinstance(value, list) else [value]
            if isinstance(value, list):
                assert "array" in field["normalize"], name
            kind = str if field["type"] == "object" else TYPES[field["type"]]
            assert all(type(v) is kind for v in values), (name, value)
            allowed = {a["name"]: a for a in field.get("allowed_values", [])}
            assert not allowed or set(values) <= set(allowed), (name, value)
        event = record["event"]
        for category in event["category"]:
            expected = FLAT["event.category"]["allowed_values"]
            types = next(a["expected_event_types"] for a in expected if a["name"] == category)
            assert set(event["type"]) <= set(types), (category, event["type"])


def test_each_record_names_its_span_and_the_span_s_parent(records: list[dict[str, Any]]) -> None:
    """ECS `span.id`: the run span, a step attempt's (a child of the run span) or a host's (a
    child of the step span); `sop.parent_span_id` the parent, for the run the incoming one."""
    spans = {
        (r["event"]["action"], r["trace"]["id"], r["span"]["id"], r["sop"]["parent_span_id"])
        for r in records
        if r["event"]["action"] in ("run-started", "seal", "step-started", "host-finished")
    }
    assert spans == {
        ("run-started", TRACE, RUN_SPAN, PARENT),
        ("seal", TRACE, RUN_SPAN, PARENT),
        ("step-started", TRACE, STEP_SPAN, RUN_SPAN),
        ("host-finished", TRACE, HOST_SPAN, STEP_SPAN),
    }
    by_span = {r["event"]["action"]: r["span"]["id"] for r in records}
    assert by_span["step-finished"] == STEP_SPAN
    assert by_span["command-started"] == by_span["interactive-session"] == HOST_SPAN
    assert by_span["step-shown"] == by_span["run-finished"] == RUN_SPAN


def test_a_drill_is_an_event_tagged_drill(records: list[dict[str, Any]]) -> None:
    assert {r["event"]["kind"] for r in records} == {"event"}
    assert {tuple(r.get("tags", ())) for r in records} == {(), ("drill",)}


def template_fields(properties: dict[str, Any], prefix: str = "") -> set[str]:
    out = set()
    for key, mapping in properties.items():
        if "properties" in mapping:
            out |= template_fields(mapping["properties"], f"{prefix}{key}.")
        else:
            out.add(f"{prefix}{key}")
    return out


def test_no_record_has_a_field_beyond_the_template(records: list[dict[str, Any]]) -> None:
    mappings = TEMPLATE["template"]["mappings"]
    assert mappings["properties"]["sop"]["dynamic"] == "strict"
    known = template_fields(mappings["properties"])
    for record in records:
        names = {n for n, _ in flat(record) if not n.startswith("labels.")}
        assert names <= known, names - known
