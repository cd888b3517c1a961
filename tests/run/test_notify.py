"""Notifications against a real local webhook and a real command: what each notifier gets, the
audit record of each delivery, retries, a webhook that hangs (the run is not held up), and no
secret in any message."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from sop import events as ev
from sop.events import SystemClock
from sop.model import Notifier
from sop.run.launch import Launched, RunRequest, launch
from sop.run.notify import Notifications
from sop.run.options import DrillOptions, RunOptions
from tests.webhook import HANG, webhook

SECRET = "s3cr3t-canary-0a1b2c"
SOP = """\
sop: 1
id: rotate
title: Rotate the token
owner: team
reviewed: 2026-11-01
inputs:
  host: {}
  token: {secret: true}
steps:
  - id: use
    title: Use the token on {{ host }}
    run: 'echo "$SOP_SECRET_TOKEN"; echo "bad $SOP_SECRET_TOKEN" >&2; exit 3'
"""


def run(tmp_path: Path, *notifiers: Notifier, **options: Any) -> Launched:
    sop = tmp_path / "rotate.yaml"
    sop.write_text(SOP)
    secret = tmp_path / "token"
    secret.write_text(SECRET)
    request = RunRequest(
        sop=str(sop),
        inputs={"host": "web1"},
        secret_files={"token": secret},
        state_dir=tmp_path / "state",
        notifiers=notifiers,
        options=RunOptions(yes=True, operator="ana", incident="INC-7", **options),
    )
    return launch(request, prompter=None, asker=None, sinks=[], clock=SystemClock())


def records(launched: Launched, action: str = "notification") -> list[dict[str, Any]]:
    assert launched.run_dir is not None
    lines = (launched.run_dir / "audit.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r["event"]["action"] == action]


def delivered(record: dict[str, Any]) -> tuple[str, str, str, int, str]:
    note = record["sop"]["notification"]
    return (
        note["event"],
        note["target"],
        record["event"]["outcome"],
        note["attempts"],
        record.get("error", {}).get("message", ""),
    )


def test_a_webhook_hears_of_the_run_as_json_and_each_delivery_is_recorded(
    tmp_path: Path,
) -> None:
    with webhook() as hook:
        launched = run(tmp_path, Notifier(url=hook.url, format="json"))

    run_id = launched.result.run_id
    about = {"run_id": run_id, "sop": {"id": "rotate", "title": "Rotate the token"}}
    about |= {"operator": "ana", "incident": "INC-7"}
    started, failed, finished = hook.received
    assert {k: started[k] for k in ("event", "text", "inputs", *about)} == {
        "event": "run-started",
        "text": f"sop: ana started rotate (run {run_id} for INC-7) with host=web1, token=********",
        "inputs": {"host": "web1", "token": "********"},
        **about,
    }
    assert {k: failed[k] for k in ("event", "text", "step", "hosts")} == {
        "event": "step-failed",
        "text": f"sop: step 1 (Use the token on web1) of rotate (run {run_id} for INC-7) "
        "failed on local (exit 3)",
        "step": {"id": "use", "number": "1", "title": "Use the token on web1"},
        "hosts": [{"host": "local", "exit_code": 3, "error": ""}],
    }
    assert (finished["event"], finished["outcome"]) == ("run-finished", "failure")
    target = f"http://127.0.0.1:{hook.server.server_address[1]}"
    assert [delivered(r) for r in records(launched)] == [
        ("run-started", target, "success", 1, ""),
        ("step-failed", target, "success", 1, ""),
        ("run-finished", target, "success", 1, ""),
    ]
    log = (launched.run_dir / "audit.jsonl").read_text()  # type: ignore[operator]
    assert "token-in-the-path" not in log  # a webhook's path is often its secret
    assert SECRET not in log and all(SECRET.encode() not in body for body in hook.bodies)


def test_a_slack_webhook_gets_text_only_for_the_events_it_wants(tmp_path: Path) -> None:
    with webhook() as hook:
        launched = run(
            tmp_path, Notifier(url=hook.url, format="slack", events=frozenset({"run-finished"}))
        )

    assert hook.received == [
        {
            "text": f"sop: rotate (run {launched.result.run_id} for INC-7) finished: failure "
            "(step 1 (use) failed: local: exit 3)"
        }
    ]


def test_a_step_waiting_for_an_approval_is_announced_with_how_to_give_it(tmp_path: Path) -> None:
    sop = tmp_path / "gated.yaml"
    sop.write_text(
        "sop: 1\nid: gated\ntitle: Gated\nowner: t\nreviewed: 2026-11-01\n"
        "steps:\n  - id: wipe\n    title: Wipe\n    approval: required\n    run: 'true'\n"
    )
    wants = frozenset({"approval-needed", "run-paused"})
    with webhook() as hook:
        launched = launch(
            RunRequest(
                sop=str(sop),
                state_dir=tmp_path / "state",
                notifiers=(Notifier(url=hook.url, format="json", events=wants),),
                options=RunOptions(yes=True, operator="ana", approval_timeout=0.0),
            ),
            prompter=None, asker=None, sinks=[], clock=SystemClock(),
        )  # fmt: skip
    run_id = launched.result.run_id
    needed, paused = hook.received
    assert {k: needed[k] for k in ("event", "text", "step", "role", "hosts")} == {
        "event": "approval-needed",
        "text": f"sop: step 1 (Wipe) of gated (run {run_id}) waits for someone other than the "
        f"operator: sop approve {run_id} wipe",
        "step": {"id": "wipe", "number": "1", "title": "Wipe"},
        "role": "",
        "hosts": ["local"],
    }
    assert paused["event"] == "run-paused" and launched.result.exit_code == 4


def test_a_failing_webhook_is_retried_with_backoff_until_it_answers(tmp_path: Path) -> None:
    with webhook(500, 503, 200) as hook:
        launched = run(
            tmp_path, Notifier(url=hook.url, events=frozenset({"run-started"}), retries=3)
        )

    assert len(hook.bodies) == 3
    assert [delivered(r)[2:] for r in records(launched)] == [("success", 3, "")]
    first, second = records(launched, "run-started")[0], records(launched)[0]
    # backoff of 1 s, then 2 s: the notification ended at least 3 s after the run started
    assert second["event"]["duration"] >= 3e9 and first["event"]["sequence"] == 0


def test_a_webhook_that_keeps_failing_is_recorded_as_not_delivered(tmp_path: Path) -> None:
    with webhook(500) as hook:
        launched = run(
            tmp_path, Notifier(url=hook.url, events=frozenset({"run-started"}), retries=1)
        )

    assert len(hook.bodies) == 2
    [record] = records(launched)
    assert delivered(record)[2:] == ("failure", 2, "HTTP 500 Internal Server Error")
    assert record["message"] == (
        f"notification run-started to {Notifier(url=hook.url).label}: not delivered "
        "(HTTP 500 Internal Server Error)"
    )


def test_a_webhook_that_hangs_does_not_hold_the_run_up(tmp_path: Path) -> None:
    with webhook(HANG) as hook:
        began = time.monotonic()
        launched = run(tmp_path, Notifier(url=hook.url, timeout=1, retries=0))
        took = time.monotonic() - began

    [started] = records(launched, "run-started")
    [finished] = records(launched, "run-finished")
    walked = _seconds(finished["@timestamp"]) - _seconds(started["@timestamp"])
    assert walked < 0.9  # the three deliveries took a second each, one after the other
    assert took < 3 + 2  # then the end of the run waited for them (each within its timeout)
    assert [delivered(r)[0::2] for r in records(launched)] == [
        ("run-started", "failure", "no answer within 1 s"),
        ("step-failed", "failure", "no answer within 1 s"),
        ("run-finished", "failure", "no answer within 1 s"),
    ]


def _seconds(stamp: str) -> float:
    import datetime as dt

    return dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def test_a_command_gets_the_message_on_its_stdin_and_its_failure_is_recorded(
    tmp_path: Path,
) -> None:
    got = tmp_path / "got.jsonl"
    script = f"import sys; open({str(got)!r}, 'a').write(sys.stdin.read() + '\\n')"
    failing = "import sys; sys.stderr.write('pager down'); sys.exit(2)"
    launched = run(
        tmp_path,
        Notifier(command=(sys.executable, "-c", script), events=frozenset({"step-failed"})),
        Notifier(
            command=(sys.executable, "-c", failing),
            events=frozenset({"run-finished"}),
            name="pager",
            retries=0,
        ),
    )

    [message] = [json.loads(line) for line in got.read_text().splitlines()]
    assert (message["event"], message["step"]["id"], message["hosts"]) == (
        "step-failed",
        "use",
        [{"host": "local", "exit_code": 3, "error": ""}],
    )
    assert [delivered(r) for r in records(launched)] == [
        ("step-failed", sys.executable, "success", 1, ""),
        ("run-finished", "pager", "failure", 1, f"{sys.executable} exited with 2: pager down"),
    ]


@pytest.mark.parametrize("options", [{"dry_run": True}, {"drill": DrillOptions()}])
def test_a_dry_run_or_a_drill_notifies_nobody(tmp_path: Path, options: dict[str, Any]) -> None:
    with webhook() as hook:
        run(tmp_path, Notifier(url=hook.url), **options)

    assert hook.bodies == []


def test_what_is_still_undelivered_when_the_run_ends_is_recorded_as_such() -> None:
    recorded: list[ev.Event] = []
    with webhook(HANG) as hook:
        sink = Notifications(
            [Notifier(url=hook.url, timeout=5)], SystemClock(), recorded.append, drain=0.3
        )
        sink.emit(
            ev.RunStarted(0.0, "r1", "t1", "disk", "Disk", "/d.yaml", "0", "ana", None, {}, ())
        )
        sink.emit(ev.RunFinished(0.0, ev.Outcome.SUCCESS, 1.0, {}))
        began = time.monotonic()
        sink.close()
        assert time.monotonic() - began < 1

    why = "sop exited before it was delivered (waited 0.3 s)"
    assert [(e.notice, e.delivered, e.error) for e in recorded] == [  # type: ignore[attr-defined]
        ("run-started", False, why),
        ("run-finished", False, why),
    ]


def test_a_status_update_the_responder_gave_is_news_and_a_missed_one_is_not() -> None:
    from sop.audit.records import timestamp
    from sop.run.notify import news

    run: dict[str, Any] = {
        "run_id": "r1",
        "sop": {"id": "rotate", "title": "Rotate"},
        "operator": "ana",
        "incident": "INC-7",
    }
    step = ev.StepRef("use", "1", "Use the token", "run", "rotate")
    given = ev.StatusUpdate(1_700_000_000.0, "web1 drained", 1_699_999_990.0, 900.0,
                            severity="sev1", step=step)  # fmt: skip
    assert news(given, run) == (
        "status-update",
        {
            "event": "status-update",
            "@timestamp": timestamp(1_700_000_000.0),
            "text": "sop: status update on rotate (run r1 for INC-7): web1 drained",
            **run,
            "status": {"text": "web1 drained", "severity": "sev1"},
        },
    )
    missed = ev.StatusUpdate(1_700_000_000.0, "", 1_699_999_990.0, 900.0, ev.StatusHow.UNATTENDED)
    assert news(missed, run) is None
