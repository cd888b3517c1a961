"""Attacks through the state directory: where runs, audit logs and resume state live. Anyone
who can write there must not be able to make sop run something or trust a forged record."""

from __future__ import annotations

import fcntl
import json
import os
import re
import socket
from pathlib import Path
from typing import Any

from sop.audit import chain

from .conftest import Attack

RESUMABLE = """\
steps:
  - id: first
    run: echo safe-file
    capture: target
  - id: second
    confirm: always
    run: touch @DIR@/{{ target }}
"""
EVIL = """\
steps:
  - id: first
    run: echo safe-file
  - id: second
    run: touch @PWNED@
"""


def interrupted_run(attack: Attack) -> Path:
    """A run that stopped at step `second` (`--yes` does not confirm it); its run directory."""
    result = attack.run(attack.write(RESUMABLE))
    assert result.returncode == 1, result.stderr
    (run_dir,) = (attack.state / "runs").iterdir()
    return run_dir


def resume(attack: Attack, run_dir: Path) -> tuple[int, str]:
    result = attack.sop("resume", "--yes", "--confirm", "second", run_dir.name)
    attack.assert_nothing_ran()
    return result.returncode, result.stderr


def rewrite(log: Path, edit: Any) -> None:
    """What an attacker with write access does: edit records, drop seals, recompute the chain."""
    records = [json.loads(line) for line in log.read_text().splitlines()]
    prev, out = chain.GENESIS, []
    for record in records:
        if record["event"]["action"] == "seal":
            continue
        edit(record)
        record.update(seq=len(out), prev=prev)
        record["hash"] = prev = chain.link_hash(prev, record)
        out.append(json.dumps(record, ensure_ascii=False) + "\n")
    log.write_text("".join(out))


def test_a_symlinked_state_directory_is_refused(attack: Attack, tmp_path: Path) -> None:
    real = tmp_path / "elsewhere"
    real.mkdir(mode=0o700)
    attack.state.symlink_to(real)
    result = attack.run(attack.write("steps:\n  - run: touch @PWNED@\n"))
    assert result.returncode == 1
    attack.assert_nothing_ran()
    assert result.stderr == (
        f"sop: error: state directory {attack.state} is a symbolic link; sop refuses it "
        "(name the real folder instead)\n"
    )


def test_a_symlinked_runs_directory_is_refused(attack: Attack, tmp_path: Path) -> None:
    attack.state.mkdir(mode=0o700)
    (tmp_path / "elsewhere").mkdir(mode=0o700)
    (attack.state / "runs").symlink_to(tmp_path / "elsewhere")
    result = attack.run(attack.write("steps:\n  - run: touch @PWNED@\n"))
    assert result.returncode == 1
    attack.assert_nothing_ran()
    assert result.stderr == (
        f"sop: error: runs directory {attack.state / 'runs'} is a symbolic link; sop refuses it "
        "(use the folder itself)\n"
    )


def test_a_world_writable_state_directory_is_refused(attack: Attack) -> None:
    attack.state.mkdir()
    attack.state.chmod(0o777)
    result = attack.run(attack.write("steps:\n  - run: touch @PWNED@\n"))
    assert result.returncode == 1
    attack.assert_nothing_ran()
    assert result.stderr == (
        f"sop: error: state directory {attack.state} is writable by other users; "
        f"run `chmod o-w {attack.state}` first\n"
    )


def test_a_world_writable_run_directory_is_refused_by_resume(attack: Attack) -> None:
    run_dir = interrupted_run(attack)
    run_dir.chmod(0o777)
    code, stderr = resume(attack, run_dir)
    assert code == 1
    assert stderr == (
        f"sop: error: run directory {run_dir} is writable by other users; "
        f"run `chmod go-w {run_dir}` first (and check that nobody changed it)\n"
    )


def test_another_users_run_directory_is_refused_by_resume(attack: Attack) -> None:
    """A run directory another uid owns could hold anything that uid wrote: sop refuses it
    rather than run the SOP its log names (a handover goes through a state directory shared
    with a group both belong to, not around it)."""
    run_dir = interrupted_run(attack)
    for path in (run_dir, *run_dir.iterdir()):
        os.chown(path, 65534, 65534)
    code, stderr = resume(attack, run_dir)
    assert code == 1
    assert stderr == (
        f"sop: error: run directory {run_dir} belongs to another user, nobody (uid 65534); sop "
        f"trusts only its own files here: `chown {os.geteuid()} {run_dir}` (as root) if it is "
        "yours; to take over each other's runs, share a state directory with a group "
        "(docs/audit.md)\n"
    )


def test_a_run_locked_by_another_process_is_refused(attack: Attack) -> None:
    run_dir = interrupted_run(attack)
    holder = f"pid 4242 on {socket.gethostname()}"
    fd = os.open(run_dir / "lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.ftruncate(fd, 0)
        os.write(fd, f"{holder}\n".encode())
        code, stderr = resume(attack, run_dir)
    finally:
        os.close(fd)
    assert code == 1
    assert stderr == (
        f"sop: error: run {run_dir.name} is being driven by {holder}; "
        "wait for it to finish, or stop it\n"
    )


def test_a_tampered_audit_log_is_refused_by_resume(attack: Attack) -> None:
    run_dir = interrupted_run(attack)
    evil = attack.write(EVIL, "evil.yaml")
    log = run_dir / "audit.jsonl"
    lines = log.read_text().splitlines(keepends=True)
    lines[0] = re.sub(r'("path": ?")[^"]*attack\.yaml"', rf'\g<1>{evil}"', lines[0])
    assert str(evil) in lines[0]
    log.write_text("".join(lines))
    code, stderr = resume(attack, run_dir)
    assert code == 1
    assert stderr == (
        f"sop: error: the audit log {log} does not verify (line 1: edited: the record does not "
        "match its hash); sop will not resume from a log it cannot trust\n"
    )


def test_a_rewritten_unsealed_log_is_refused_by_resume(attack: Attack) -> None:
    """Someone who can write the state directory rewrites the log (chain recomputed, seals
    dropped) so that resume walks their SOP. Without seals sop cannot tell: it must refuse."""
    run_dir = interrupted_run(attack)
    evil = attack.write(EVIL, "evil.yaml")
    sha256 = __import__("hashlib").sha256(evil.read_bytes()).hexdigest()

    def point_at_evil(record: dict[str, Any]) -> None:
        if record["event"]["action"] == "run-started":
            record["sop"].update(path=str(evil), sha256=sha256)

    rewrite(run_dir / "audit.jsonl", point_at_evil)
    code, stderr = resume(attack, run_dir)
    assert code == 1
    assert stderr.startswith(f"sop: error: the audit log {run_dir / 'audit.jsonl'} ")
    assert stderr.endswith("sop will not resume from a log it cannot trust\n")


def test_an_edited_state_file_cannot_change_a_captured_value(attack: Attack) -> None:
    """state.json is outside the hash chain: resume must not take a captured value from it
    that the audit log does not vouch for."""
    run_dir = interrupted_run(attack)
    state = json.loads((run_dir / "state.json").read_text())
    state["variables"][""]["target"] = ["plain", "PWNED"]
    (run_dir / "state.json").write_text(json.dumps(state))
    code, stderr = resume(attack, run_dir)
    assert code == 1
    assert stderr.startswith(f"sop: error: {run_dir / 'state.json'} ")
