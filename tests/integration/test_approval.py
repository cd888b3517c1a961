# ruff: noqa: F811  (tests take the `team` fixture this module imports)
"""The two-person rule between two real Unix users, against the real CLI at a terminal: alice
runs an SOP whose step needs an approval, bob (same group, shared state directory) approves
or refuses it with `sop approve` from his own account; alice cannot approve her own; an
approval for something other than what will run is not accepted; waiting survives a pause
and resume, and a refusal is shown once; an unattended run waits --approval-timeout, then pauses."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pexpect

from .test_handover import (
    Team,
    records,
    spawn,
    team,  # noqa: F401 (the fixture: two users, a shared state directory)
)

WAITING = "Waiting for an approval by someone else: sop approve "
ASK = "Approve it? [a]pprove / [r]efuse / [c]ancel: "
# an approved command runs as approved: no [e]dit
RUN_ON_LOCAL = "Run on local? [r]un / [s]kip / [o]ff-script / [q]uit / [a]bort: "


def write_sop(team: Team) -> Path:
    out = team.base / "out"
    path = team.base / "approval.yaml"
    path.write_text(
        "sop: 1\nid: approval\ntitle: Approval\nowner: t\nreviewed: 2026-11-20\non: local\n"
        "inputs:\n  key: {default: AKIA1}\n"
        "steps:\n"
        "  - id: revoke\n    approval: required\n"
        f"    run: echo revoked {{{{ key }}}} $(id -un) > {out}/revoke\n"
    )
    path.chmod(0o644)
    return path


def the_run(team: Team) -> Path:
    deadline = time.monotonic() + 30
    while True:
        runs = list((team.state / "runs").iterdir()) if (team.state / "runs").exists() else []
        if runs:
            return runs[0]
        assert time.monotonic() < deadline, "no run folder"
        time.sleep(0.05)


def waiting(team: Team) -> tuple[pexpect.spawn, Path]:
    alice = spawn(team, team.alice, "run", str(write_sop(team)))
    alice.expect_exact(WAITING)
    return alice, the_run(team)


def actions(run_dir: Path) -> list[str]:
    return [r["event"]["action"] for r in records(run_dir)]  # type: ignore[index]


def test_bob_approves_alices_step_and_both_are_recorded(team: Team) -> None:
    alice, run_dir = waiting(team)
    bob = spawn(team, team.bob, "approve", run_dir.name)
    bob.expect_exact(f"echo revoked AKIA1 $(id -un) > {team.base}/out/revoke")
    bob.expect_exact("on: local")
    bob.expect_exact("key = AKIA1")
    bob.expect_exact(ASK)
    bob.sendline("a")
    bob.expect_exact("Approved step 1 (revoke) of run")
    bob.expect(pexpect.EOF)
    bob.close()
    assert bob.exitstatus == 0, bob.before
    alice.expect_exact(f"approved by {team.bob}")
    alice.expect_exact(RUN_ON_LOCAL)
    alice.sendline("r")
    alice.expect(pexpect.EOF)
    alice.close()
    assert alice.exitstatus == 0, alice.before
    assert (team.base / "out" / "revoke").read_text() == f"revoked AKIA1 {team.alice}\n"
    log = records(run_dir)
    (request,) = [r for r in log if r["event"]["action"] == "approval-requested"]  # type: ignore[index]
    (approved,) = [r for r in log if r["event"]["action"] == "approved"]  # type: ignore[index]
    assert request["user"]["name"] == approved["user"]["name"] == team.alice  # type: ignore[index]
    assert approved["sop"]["approval"]["approver"]["name"] == team.bob  # type: ignore[index]
    assert approved["related"]["user"] == [team.bob]  # type: ignore[index]
    binding = request["sop"]["approval"]["binding"]  # type: ignore[index]
    assert approved["sop"]["approval"]["binding"] == binding  # type: ignore[index]
    verified = team.sop(team.bob, "audit", "verify", run_dir.name)
    assert verified.returncode == 0, verified.stderr
    report = team.sop(team.bob, "report", run_dir.name)
    assert f"approved by {team.bob}" in report.stdout, report.stdout


def test_bob_refuses_with_a_reason_and_alice_skips_the_step(team: Team) -> None:
    alice, run_dir = waiting(team)
    bob = spawn(team, team.bob, "approve", run_dir.name, "revoke")
    bob.expect_exact(ASK)
    bob.sendline("r")
    bob.expect_exact("Why refuse?: ")
    bob.sendline("not during the sale")
    bob.expect(pexpect.EOF)
    bob.close()
    assert bob.exitstatus == 0, bob.before
    alice.expect_exact(f"refused by {team.bob}")
    alice.expect_exact(f"{team.bob} refused. What now? [w]ait again / [s]kip / [q]uit / [a]bort: ")
    alice.sendline("s")
    alice.expect(pexpect.EOF)
    alice.close()
    assert alice.exitstatus == 0, alice.before
    assert not (team.base / "out" / "revoke").exists()
    (refused,) = [r for r in records(run_dir) if r["event"]["action"] == "refused"]  # type: ignore[index]
    assert refused["sop"]["reason"] == "not during the sale"  # type: ignore[index]


def test_alice_cannot_approve_her_own_step(team: Team) -> None:
    alice, run_dir = waiting(team)
    own = team.sop(team.alice, "approve", run_dir.name, "--yes")
    assert (own.returncode, own.stderr) == (
        1,
        f"sop: error: you ({team.alice}) are the operator of run {run_dir.name}: the "
        "two-person rule needs someone else to answer\n",
    )
    assert not (run_dir / "approvals").exists()
    alice.sendline("q")
    alice.expect(pexpect.EOF)
    alice.close()
    assert alice.exitstatus == 4


def test_an_approval_of_something_else_is_not_accepted(team: Team) -> None:
    """Someone who can write the state directory shows bob a harmless command in the log:
    bob approves what he saw, and the run, which computes what it will run itself, refuses."""
    alice, run_dir = waiting(team)
    log = run_dir / "audit.jsonl"
    real = f"echo revoked AKIA1 $(id -un) > {team.base}/out/revoke"
    subprocess.run([*team.root, "sed", "-i", f"s|{real}|echo harmless|", str(log)], check=True)
    bob = team.sop(team.bob, "approve", run_dir.name, "--yes")
    assert bob.returncode == 0, bob.stderr
    alice.expect_exact("answer not accepted")
    alice.expect_exact("it approves something other than what will run")
    alice.sendline("q")
    alice.expect(pexpect.EOF)
    alice.close()
    assert alice.exitstatus == 4
    assert not (team.base / "out" / "revoke").exists()
    assert "approved" not in actions(run_dir)


def test_waiting_survives_pause_and_resume(team: Team) -> None:
    alice, run_dir = waiting(team)
    alice.sendline("q")
    alice.expect(pexpect.EOF)
    alice.close()
    assert alice.exitstatus == 4, alice.before
    approved = team.sop(team.bob, "approve", run_dir.name, "revoke", "--yes")
    assert approved.returncode == 0, approved.stderr
    alice = spawn(team, team.alice, "resume", run_dir.name)
    alice.expect_exact(f"approved by {team.bob}")
    alice.expect_exact(RUN_ON_LOCAL)
    alice.sendline("r")
    alice.expect(pexpect.EOF)
    alice.close()
    assert alice.exitstatus == 0, alice.before
    assert actions(run_dir).count("approval-requested") == 2


def test_a_refusal_is_shown_once_and_the_resumed_run_waits_for_a_new_answer(team: Team) -> None:
    alice, run_dir = waiting(team)
    refused = team.sop(team.bob, "approve", run_dir.name, "revoke", "--refuse", "not yet")
    assert refused.returncode == 0, refused.stderr
    alice.expect_exact(f"{team.bob} refused. What now? [w]ait again / [s]kip / [q]uit / [a]bort: ")
    alice.sendline("q")
    alice.expect(pexpect.EOF)
    alice.close()
    assert alice.exitstatus == 4, alice.before
    alice = spawn(team, team.alice, "resume", run_dir.name)
    alice.expect_exact(WAITING)  # bob's refusal, still in the approvals folder, is not shown
    assert alice.before.count(f"refused by {team.bob}") == 1  # once: in the recap of the run
    assert "What now?" not in alice.before
    approved = team.sop(team.bob, "approve", run_dir.name, "revoke", "--yes")
    assert approved.returncode == 0, approved.stderr
    alice.expect_exact(f"approved by {team.bob}")
    assert "refused" not in alice.before
    alice.expect_exact(RUN_ON_LOCAL)
    alice.sendline("r")
    alice.expect(pexpect.EOF)
    alice.close()
    assert alice.exitstatus == 0, alice.before
    assert [a for a in actions(run_dir) if a in ("refused", "approved")] == ["refused", "approved"]


def test_an_unattended_run_waits_its_timeout_then_pauses(team: Team) -> None:
    started = time.monotonic()
    done = team.sop(team.alice, "run", str(write_sop(team)), "--yes", "--approval-timeout", "1")
    assert done.returncode == 4, done.stderr
    assert time.monotonic() - started >= 1
    run_dir = the_run(team)
    assert (
        f"--yes waited 1s for an approval by someone else at step 1 (revoke): `sop approve "
        f"{run_dir.name} revoke` from another account, then sop resume {run_dir.name}"
    ) in " ".join(done.stdout.split())
    paused = records(run_dir)[-2]
    assert paused["sop"]["pause"] == "awaiting-approval"  # type: ignore[index]
    assert paused["message"] == paused["sop"]["reason"]  # type: ignore[index]
