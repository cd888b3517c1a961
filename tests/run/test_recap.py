"""The recap a resumed run opens with, built from audit entries and printed by the terminal UI:
which steps ended how, by whom and when, the deviations and answers, and where a step in doubt
may still be running."""

from __future__ import annotations

import io

from rich.console import Console

from sop.audit.actions import Action
from sop.audit.reader import AuditEntry, HostOutcome
from sop.cli.ui import TerminalUI
from sop.events import Outcome
from sop.run.recap import build_recap

T = "2026-11-28T14:06:12.000Z"


def step(action: str, key: str, number: str, **fields: object) -> AuditEntry:
    return AuditEntry(
        action=action, step_id=key, number=number, step_title=key.title(), time=T,
        operator="alice", **fields,  # type: ignore[arg-type]
    )  # fmt: skip


STARTED = AuditEntry(action=Action.RUN_STARTED, time=T, operator="alice")


def test_hosts_that_never_reported_an_end_are_where_a_step_in_doubt_may_still_run() -> None:
    entries = [
        STARTED,
        step(Action.STEP_FINISHED, "look", "1", outcome=Outcome.DONE),
        step(Action.STEP_STARTED, "deploy", "2", hosts=("web1", "web2", "web3")),
        step(Action.COMMAND_STARTED, "deploy", "2", host="web1"),
        step(Action.HOST_FINISHED, "deploy", "2", host="web2", outcome=Outcome.SUCCESS),
        step(Action.STEP_STARTED, "restart", "3", hosts=("web1",)),
        step(Action.HOST_FINISHED, "restart", "3", host="web1", outcome=Outcome.INTERRUPTED),
        step(
            Action.STEP_FINISHED,
            "restart",
            "3",
            outcome=Outcome.INTERRUPTED,
            results=(HostOutcome("web1", Outcome.INTERRUPTED),),
        ),
    ]
    outcomes = {"look": Outcome.DONE, "restart": Outcome.INTERRUPTED}

    recap = build_recap(entries, (), outcomes, ["deploy", "restart"])

    assert [(s.number, s.outcome) for s in recap.steps] == [("1", "done")]
    assert [(n.kind, n.number, n.text) for n in recap.notes] == [
        ("in-doubt", "2", "Deploy: may still be running on web1, web3"),
        (
            "in-doubt",
            "3",
            "Restart: interrupted (Ctrl-C) on web1: it may have done part of its work",
        ),
    ]


def test_the_records_after_the_last_seal_add_hosts_that_may_still_run() -> None:
    covered = [STARTED, step(Action.STEP_STARTED, "deploy", "1", hosts=("web1",))]
    unproven = [step(Action.COMMAND_STARTED, "deploy", "1", host="web2")]
    recap = build_recap(covered, unproven, {}, ["deploy"])
    assert [n.text for n in recap.notes] == ["Deploy: may still be running on web1, web2"]


def test_the_terminal_shows_the_recap_before_the_run_goes_on() -> None:
    entries = [
        STARTED,
        step(Action.ANSWERED, "look", "1", answer_name="token", answer_value="********"),
        step(Action.STEP_FINISHED, "look", "1", outcome=Outcome.DONE),
        step(Action.DEVIATION, "clean", "2", deviation_kind="skip", reason="disk is fine"),
        step(Action.STEP_FINISHED, "clean", "2", outcome=Outcome.SKIPPED, reason="disk is fine"),
        AuditEntry(
            action=Action.RUN_PAUSED,
            number="3",
            reason="quit at step 3 (deploy)",
            message="quit at step 3 (deploy)",
            operator="alice",
            time=T,
        ),
        step(Action.STEP_STARTED, "deploy", "3", hosts=("web1",)),
    ]
    recap = build_recap(entries, (), {"look": Outcome.DONE, "clean": Outcome.SKIPPED}, ["deploy"])
    buffer = io.StringIO()
    TerminalUI(Console(file=buffer, width=100, color_system=None)).emit(recap)
    shown = [line.rstrip() for line in buffer.getvalue().splitlines()]
    assert shown == [
        "Recap: so far " + "─" * 86,
        "started 2026-11-28 14:06:12 UTC by alice",
        "  ✔ done  step 1 · Look  alice, 2026-11-28 14:06:12 UTC",
        "  ⤼ skipped  step 2 · Clean  alice, 2026-11-28 14:06:12 UTC: disk is fine",
        "Deviations",
        "  step 2 · skip (why: disk is fine)  alice, 2026-11-28 14:06:12 UTC",
        "Answers",
        "  step 1 · token = ********  alice, 2026-11-28 14:06:12 UTC",
        "Pauses and handovers",
        "  step 3 · quit at step 3 (deploy)  alice, 2026-11-28 14:06:12 UTC",
        "In doubt (decided next)",
        "  step 3 · Deploy: may still be running on web1  alice, 2026-11-28 14:06:12 UTC",
        "─" * 100,
    ]
