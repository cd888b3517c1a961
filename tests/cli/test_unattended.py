"""`--skip STEP=REASON` and `--start-at STEP=REASON` through the real CLI: each skipped step
is a deviation with the reason, unknown ids are refused with the SOP's ids, a step only a
decision leads to cannot be the start, and a resume keeps them; a `--yes` run records the
status updates that came due and were not given, and `sop report` lists them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from sop.cli import cli

SOP = """\
sop: 1
id: fix
title: Fix it
owner: team
steps:
  - id: look
    run: echo look
    confirm: never
  - heading: Repair
    id: repair
    when: "false"
  - id: patch
    run: echo patch
    confirm: never
  - heading: Check
  - id: confirm_it
    run: echo confirm
    confirm: always
  - id: verify
    run: echo verify
    confirm: never
rollback:
  - id: undo
    run: echo undo
"""

DECIDING = """\
sop: 1
id: choose
title: Choose
owner: team
steps:
  - id: which
    decide: Which?
    options: {a: fix_a, b: fix_b}
  - heading: A
    id: fix_a
  - id: do_a
    run: echo a
  - heading: B
    id: fix_b
  - id: do_b
    run: echo b
"""


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def records(state: Path) -> list[dict[str, Any]]:
    [run_dir] = (state / "runs").iterdir()
    return [json.loads(line) for line in (run_dir / "audit.jsonl").read_text().splitlines()]


def of(found: list[dict[str, Any]], action: str) -> list[dict[str, Any]]:
    return [r for r in found if r["event"]["action"] == action]


def outcomes(found: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    return [
        (r["sop"]["step"], r["sop"]["outcome"], r["sop"].get("reason", ""))
        for r in of(found, "step-finished")
    ]


def test_skip_and_start_at_are_deviations_with_their_reasons(tmp_path: Path) -> None:
    path = tmp_path / "fix.yaml"
    path.write_text(SOP)
    state = tmp_path / "state"
    code, _, err = invoke(
        "run", str(path), "--yes", "--state-dir", str(state), "--confirm", "confirm_it",
        "--start-at", "confirm_it=looked and patched by hand in INC-7",
        "--skip", "verify = the check is down",
    )  # fmt: skip
    assert code == 0, err
    found = records(state)
    assert outcomes(found) == [
        ("look", "skipped", "looked and patched by hand in INC-7 (--start-at confirm_it)"),
        ("patch", "skipped", "looked and patched by hand in INC-7 (--start-at confirm_it)"),
        ("confirm_it", "success", ""),
        ("verify", "skipped", "the check is down (--skip)"),
    ]
    assert [(r["sop"]["step"], r["sop"]["deviation"]["kind"]) for r in of(found, "deviation")] == [
        ("look", "start-at"),
        ("patch", "start-at"),
        ("verify", "skip"),
    ]
    # a section wholly before the start is skipped for that, its `when` never read
    [section] = of(found, "section-skipped")
    assert section["sop"]["reason"] == "the run starts at step confirm_it (--start-at)"
    assert found[0]["sop"]["skip"] == [{"step": "verify", "reason": "the check is down"}]


def test_an_unknown_step_is_refused_with_the_sops_step_ids(tmp_path: Path) -> None:
    path = tmp_path / "fix.yaml"
    path.write_text(SOP)
    state = ["--state-dir", str(tmp_path / "state")]
    code, _, err = invoke("run", str(path), "--yes", *state, "--skip", "verfy=typo")
    assert (code, err) == (
        2,
        "sop: error: --skip verfy: 'fix' has no such step (its steps: look, patch, confirm_it, "
        "verify; rollback: undo)\n",
    )
    code, _, err = invoke("run", str(path), "--yes", *state, "--start-at", "undo=no")
    assert (code, err) == (
        2,
        "sop: error: --start-at undo: 'fix' has no such step (its steps: look, patch, confirm_it, "
        "verify)\n",
    )
    code, _, err = invoke("run", str(path), "--yes", *state, "--skip", "verify")
    assert (code, err) == (
        2,
        "sop: error: --skip takes STEP=REASON (the reason goes in the audit log), got 'verify'\n",
    )
    assert not (tmp_path / "state" / "runs").exists() or not any(
        (tmp_path / "state" / "runs").iterdir()
    )


def test_start_at_a_step_only_a_decision_leads_to_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "choose.yaml"
    path.write_text(DECIDING)
    code, _, err = invoke(
        "run", str(path), "--yes", "--state-dir", str(tmp_path / "s"), "--start-at", "do_b=why"
    )
    assert (code, err) == (
        2,
        "sop: error: --start-at do_b: step 3 is in the section 'B', which only the decision at "
        "step 1 (which) leads to; start at the decision (or before it), and answer it\n",
    )


def test_a_resumed_run_keeps_its_skips(tmp_path: Path) -> None:
    """--yes stops at the step that asks for confirmation (paused); the resume confirms it:
    the steps --start-at skipped stay skipped, and the --skip of the run still applies."""
    path = tmp_path / "fix.yaml"
    path.write_text(SOP)
    state = ["--state-dir", str(tmp_path / "state")]
    code, _, _ = invoke(
        "run", str(path), "--yes", *state, "--start-at", "confirm_it=done by hand",
        "--skip", "verify=check is down",
    )  # fmt: skip
    assert code == 1  # --yes does not confirm an `always` step
    [run_dir] = (tmp_path / "state" / "runs").iterdir()
    code, _, err = invoke("resume", run_dir.name, "--yes", *state, "--confirm", "confirm_it")
    assert code == 0, err
    found = records(tmp_path / "state")
    assert outcomes(found) == [
        ("look", "skipped", "done by hand (--start-at confirm_it)"),
        ("patch", "skipped", "done by hand (--start-at confirm_it)"),
        ("confirm_it", "success", ""),
        ("verify", "skipped", "check is down (--skip)"),
    ]
    [resumed] = of(found, "run-resumed")
    assert resumed["sop"]["skip"] == [{"step": "verify", "reason": "check is down"}]


def test_a_yes_run_records_status_updates_due_and_not_given(tmp_path: Path) -> None:
    path = tmp_path / "slow.yaml"
    path.write_text(
        "sop: 1\nid: slow\ntitle: Slow\nowner: team\nstatus_updates: 500ms\nsteps:\n"
        "  - {id: one, run: sleep 0.7, confirm: never}\n"
        "  - {id: two, run: 'true', confirm: never}\n"
    )
    state = tmp_path / "state"
    code, _, err = invoke("run", str(path), "--yes", "--state-dir", str(state))
    assert code == 0, err
    found = records(state)
    [missed] = of(found, "status-update-missed")
    assert missed["log"]["level"] == "warning"
    assert (missed["sop"]["step"], missed["sop"]["status"]["how"]) == ("two", "unattended")
    due = missed["sop"]["status"]["due"]
    assert missed["message"] == f"status update due {due} at step 2 true: none given (unattended)"
    [run_dir] = (state / "runs").iterdir()
    code, report, _ = invoke("report", run_dir.name, "--state-dir", str(state))
    assert report.split("## Status updates\n\n")[1].strip() == (
        f"- {missed['@timestamp']}: due {due}: none given (unattended)"
    )
