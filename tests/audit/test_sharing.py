"""A state directory shared with a group: what sop makes there is the group's, what the
group's members wrote is trusted, and everyone else is refused. (Two real users hand a run over
in tests/integration/test_handover.py.)

The shared group here is nogroup, the primary group of the user nobody: nobody is a member, and
daemon (uid 1, group daemon) is not."""

from __future__ import annotations

import grp
import os
import pwd
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from sop.audit.escrow import key_folder
from sop.audit.sharing import Sharing, UnsafeFileError, sharing_of

SOP = Path(sys.executable).parent / "sop"
NOBODY = pwd.getpwnam("nobody")
GROUP = grp.getgrgid(NOBODY.pw_gid)
DAEMON = pwd.getpwnam("daemon")

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="chown to other users needs root")

SOP_TEXT = """\
sop: 1
id: shared
title: Shared
owner: t
reviewed: 2026-11-20
steps:
  - id: one
    run: "true"
"""


@pytest.fixture
def shared(tmp_path: Path) -> Path:
    """A state directory as an administrator makes it: `install -d -m 2770 -g nogroup`."""
    state = tmp_path / "state"
    state.mkdir()
    os.chown(state, 0, GROUP.gr_gid)
    state.chmod(0o2770)
    return state


def run_in(state: Path, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "SOP_AUDIT_KEYS"}
    env.update(SOP_STATE_DIR=str(state), HOME=str(tmp_path / "home"), COLUMNS="200")
    return subprocess.run(
        [str(SOP), *args],
        capture_output=True,
        text=True,
        env=env,
        preexec_fn=lambda: os.umask(0o077),
    )


def modes(path: Path) -> tuple[str, int]:
    info = path.stat()
    return oct(stat.S_IMODE(info.st_mode)), info.st_gid


def test_a_run_in_a_shared_state_directory_is_the_groups_whatever_the_umask(
    shared: Path, tmp_path: Path
) -> None:
    sop = tmp_path / "shared.yaml"
    sop.write_text(SOP_TEXT)
    proc = run_in(shared, tmp_path, "run", "--yes", str(sop))
    assert proc.returncode == 0, proc.stderr
    (run_dir,) = (shared / "runs").iterdir()
    keys = shared / "keys"
    for folder in (shared / "runs", run_dir, keys):
        assert modes(folder) == ("0o2770", GROUP.gr_gid)
    assert sorted(p.name for p in run_dir.iterdir()) == ["audit.jsonl", "lock", "state.json"]
    assert sorted(p.name for p in keys.iterdir()) == [f"{run_dir.name}.head", f"{run_dir.name}.key"]
    for path in (*run_dir.iterdir(), *keys.iterdir()):
        assert modes(path) == ("0o660", GROUP.gr_gid)
    assert not (tmp_path / "home").exists()  # the key went to the shared key folder
    verified = run_in(shared, tmp_path, "audit", "verify", run_dir.name)
    assert verified.returncode == 0, verified.stderr


def test_files_of_a_member_are_trusted_and_of_anyone_else_refused(shared: Path) -> None:
    sharing = sharing_of(shared, "state directory")
    assert sharing == Sharing(GROUP.gr_gid)
    mine = shared / "mine"
    mine.write_text("")
    mine.chmod(0o660)
    os.chown(mine, NOBODY.pw_uid, GROUP.gr_gid)
    assert sharing.check(mine, "audit log")
    os.chown(mine, DAEMON.pw_uid, GROUP.gr_gid)
    with pytest.raises(UnsafeFileError) as refused:
        sharing.check(mine, "audit log")
    assert str(refused.value) == (
        f"audit log {mine} belongs to daemon (uid {DAEMON.pw_uid}), who is not a member of group "
        f"{GROUP.gr_name}; sop trusts only the group's members here"
    )
    os.chown(mine, NOBODY.pw_uid, DAEMON.pw_gid)  # writable by another group
    with pytest.raises(UnsafeFileError) as refused:
        sharing.check(mine, "audit log")
    assert str(refused.value) == (
        f"audit log {mine} is writable by other users; run `chmod go-w {mine}` first "
        "(and check that nobody changed it)"
    )


def test_a_private_state_directory_trusts_no_member_of_its_group(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    os.chown(state, 0, GROUP.gr_gid)
    mine = state / "mine"
    mine.write_text("")
    os.chown(mine, NOBODY.pw_uid, GROUP.gr_gid)
    with pytest.raises(UnsafeFileError, match="belongs to another user, nobody"):
        sharing_of(state, "state directory").check(mine, "audit log")


def test_a_group_writable_state_directory_must_be_set_group_id(
    shared: Path, tmp_path: Path
) -> None:
    shared.chmod(0o770)
    sop = tmp_path / "shared.yaml"
    sop.write_text(SOP_TEXT)
    proc = run_in(shared, tmp_path, "run", "--yes", str(sop))
    assert (proc.returncode, proc.stderr) == (
        1,
        f"sop: error: state directory {shared} is writable by group {GROUP.gr_name} but not "
        "set-group-ID, so what sop makes in it would not stay the group's: run `chmod g+s "
        f"{shared}` to share it with the members of {GROUP.gr_name}, or `chmod g-w {shared}` to "
        "keep it private\n",
    )
    assert not (shared / "runs").exists()


def test_a_shared_state_directory_of_someone_outside_its_group_is_refused(shared: Path) -> None:
    os.chown(shared, DAEMON.pw_uid, GROUP.gr_gid)
    with pytest.raises(UnsafeFileError) as refused:
        sharing_of(shared, "state directory")
    assert str(refused.value) == (
        f"state directory {shared} belongs to daemon (uid {DAEMON.pw_uid}), who is not a member "
        f"of group {GROUP.gr_name}; sop trusts only the group's members here"
    )


def test_the_key_folder_of_a_shared_state_directory(
    shared: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SOP_AUDIT_KEYS")
    assert key_folder(shared).path == shared / "keys"
    assert key_folder(shared).sharing == Sharing(GROUP.gr_gid)
    monkeypatch.setenv("SOP_AUDIT_KEYS", str(tmp_path / "elsewhere"))
    assert key_folder(shared).path == tmp_path / "elsewhere"  # the environment decides
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    monkeypatch.delenv("SOP_AUDIT_KEYS")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    assert key_folder(private).path == tmp_path / "config" / "sop" / "audit-keys"
