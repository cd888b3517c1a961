"""What the audit trail keeps of per-host failure handling and of the responder's words: a
partial step with each host's result, an excluded host, the canary's answer, the off-script
"what I did"; and how `sop report`, the drill report and resume read them back."""

from __future__ import annotations

import os
from pathlib import Path

from sop import events as ev
from sop.audit.actions import Action
from sop.audit.log import AuditLog, AuditSink
from sop.audit.reader import HostOutcome, read_log
from sop.audit.records import body
from sop.audit.report import markdown, timeline
from sop.audit.session import common_fields
from sop.drill.report import build_report, report_markdown
from sop.events import Outcome
from sop.run.resume import _restore

COMMON = common_fields(
    run_id="r1",
    trace_id="t1",
    span_id="00f067aa0ba902b7",
    sop_id="deploy",
    sha256="f" * 64,
    operator="ana",
    incident=None,
    kind="event",
)
STEP = ev.StepRef("deploy", "2", "Deploy", "run", "deploy")
AT = 1_700_000_000.0


def host(name: str, outcome: Outcome, code: int | None, attempt: int = 1) -> ev.HostFinished:
    return ev.HostFinished(AT, STEP, name, outcome, code, 0.5, attempt=attempt)


def write_log(path: Path) -> Path:
    path.mkdir(parents=True)
    log = AuditLog(path / "audit.jsonl", COMMON)
    sink = AuditSink(log)
    sink.emit(ev.MenuChoice(AT, STEP, "canary-go"))
    sink.emit(
        ev.StepFinished(
            AT + 1,
            STEP,
            Outcome.FAILURE,
            2.0,
            results=(host("web1", Outcome.SUCCESS, 0), host("web2", Outcome.FAILURE, 3)),
        )
    )
    sink.emit(
        ev.Deviation(AT + 2, STEP, "off-script", "web2 was stuck", replacement="restarted nginx")
    )
    sink.emit(ev.MenuChoice(AT + 3, STEP, "exclude", "disk died"))
    sink.emit(ev.HostExcluded(AT + 3, STEP, "web2", "disk died"))
    sink.emit(
        ev.StepFinished(
            AT + 4,
            STEP,
            Outcome.PARTIAL,
            0.0,
            results=(host("web1", Outcome.SUCCESS, 0), host("web2", Outcome.FAILURE, 3, 2)),
            reason="excluded: web2 (disk died)",
        )
    )
    os.close(log.fd)
    return path / "audit.jsonl"


def test_a_partial_step_keeps_each_hosts_result_and_the_exclusion(tmp_path: Path) -> None:
    entries = read_log(write_log(tmp_path / "r1")).entries

    canary, _, _, _, excluded, partial = entries
    assert (canary.action, canary.choice) == (Action.MENU_CHOICE, "canary-go")
    assert (excluded.action, excluded.host, excluded.reason) == (
        Action.HOST_EXCLUDED,
        "web2",
        "disk died",
    )
    assert partial.outcome is Outcome.PARTIAL
    assert partial.results == (
        HostOutcome("web1", Outcome.SUCCESS, 0, 1),
        HostOutcome("web2", Outcome.FAILURE, 3, 2),
    )
    assert partial.hosts == ("web1", "web2")


def test_sop_report_shows_the_exclusion_the_partial_step_and_what_was_done_off_script(
    tmp_path: Path,
) -> None:
    log = read_log(write_log(tmp_path / "r1"))
    details = [(row.action, row.host, row.outcome, row.detail) for row in timeline(log.entries)]

    assert details == [
        (Action.MENU_CHOICE, "", "", "canary-go"),
        (Action.STEP_FINISHED, "web1, web2", Outcome.FAILURE, ""),
        (Action.DEVIATION, "", "", "off-script: web2 was stuck (what I did: restarted nginx)"),
        (Action.MENU_CHOICE, "", "", "exclude: disk died"),
        (Action.HOST_EXCLUDED, "web2", "", "excluded for the rest of the run: disk died"),
        (
            Action.STEP_FINISHED,
            "web1, web2",
            Outcome.PARTIAL,
            "excluded: web2 (disk died) [web1 success; web2 failure (exit 3)]",
        ),
    ]
    deviations = markdown(log.entries, log.verify()).split("## Deviations\n\n")[1]
    assert deviations == (
        "- 2023-11-14T22:13:22.000Z step 2 Deploy: off-script: web2 was stuck "
        "(what I did: restarted nginx)\n"
        "- 2023-11-14T22:13:23.000Z step 2 Deploy on web2: excluded for the rest of the run: "
        "disk died\n"
        "- 2023-11-14T22:13:24.000Z step 2 Deploy on web1, web2: excluded: web2 (disk died) "
        "\\[web1 success; web2 failure (exit 3)\\]\n"
    )


def test_the_drill_report_lists_the_partial_step_and_the_exclusion(tmp_path: Path) -> None:
    report = build_report(read_log(write_log(tmp_path / "r1")).entries, None)

    assert [(s.number, s.outcome) for s in report.steps] == [("2", Outcome.PARTIAL)]
    assert report.partial == {"2": ("web2",)}
    assert report.skipped == ()
    # the canary's answer is not what the responder chose at the failure menu
    assert [(f.host, f.choice) for f in report.failures] == []
    assert [(d.kind, d.reason) for d in report.deviations] == [
        ("off-script", "web2 was stuck"),
        ("excluded web2", "disk died"),
    ]
    section = report_markdown(report).split("## Skipped steps and deviations\n\n")[1]
    assert section.split("\n\n")[0] == (
        "- Step 2: partial, not done on web2\n"
        "- Step 2 Deploy: off-script: web2 was stuck\n"
        "- Step 2 Deploy: excluded web2: disk died"
    )


def test_resume_takes_partial_as_finished_and_keeps_the_host_excluded(tmp_path: Path) -> None:
    restored = _restore(read_log(write_log(tmp_path / "r1")).entries, (), {})

    assert restored.outcomes == {"deploy": Outcome.PARTIAL}
    assert Outcome.PARTIAL.finished
    assert restored.in_doubt == {}
    assert restored.excluded == {"web2": "disk died"}


def test_the_step_shown_record_names_the_hosts_left_out_and_why() -> None:
    shown = ev.StepShown(AT, STEP, command="./deploy", hosts=("web1",), excluded={"web2": "dead"})
    record = body(shown) or {}
    assert record["sop"]["hosts"] == ["web1"]
    assert record["sop"]["excluded"] == [{"host": "web2", "reason": "dead"}]
    assert "excluded" not in (body(ev.StepShown(AT, STEP, command="./deploy")) or {})["sop"]
