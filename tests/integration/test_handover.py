"""Handover between two real Unix users through a state directory shared with a group: alice
starts a run that stops (paused at a step that needs a responder, or killed mid-step), bob, in
the same group, resumes and finishes it; the log verifies for both and names both. Someone
outside the group is refused.

The users and the group are made with useradd and groupadd (as root, or through `sudo -n`),
and removed after. CI runs as root: this test must never be skipped there, so it fails when it
can make neither."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pexpect
import pytest

from .rundir import SOP

TIMEOUT = 30
RUN_ON_LOCAL = "Run on local? [r]un / [s]kip / [e]dit / [o]ff-script / [q]uit / [a]bort: "


def _sop_for_everyone() -> list[str]:
    """A command that runs this checkout's sop for any user: the venv's own script when its
    interpreter is theirs to run, else the system's Python of the same version with the venv's
    packages (pyenv keeps interpreters under /root, which is 0700)."""
    interpreter = Path(sys.executable).resolve()
    if all(os.stat(p).st_mode & stat.S_IXOTH for p in (interpreter, *interpreter.parents)):
        return [str(SOP)]
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    system = shutil.which(version, path="/usr/bin:/bin")
    if system is None:
        pytest.fail(f"no {version} that other users can run: the handover test needs one")
    packages = SOP.parent.parent / "lib" / version / "site-packages"
    boot = (
        f"import site, sys; site.addsitedir({str(packages)!r}); "
        "from sop.cli import main; sys.exit(main())"
    )
    return [system, "-S", "-c", boot]


def _root_command() -> list[str]:
    """How to run a command as root: directly, or through sudo without a password."""
    if os.geteuid() == 0:
        return []
    if shutil.which("sudo") and subprocess.run(["sudo", "-n", "true"]).returncode == 0:
        return ["sudo", "-n"]
    pytest.fail(
        "the handover test needs root or password-less sudo to make two users and a group; "
        "it must not be skipped"
    )


@dataclass(frozen=True)
class Team:
    """A group `group` with members alice and bob, an outsider carol, and a state directory
    shared with the group (2770, root's, as an administrator makes it)."""

    root: list[str]
    group: str
    alice: str
    bob: str
    carol: str
    base: Path  # readable by all three: the SOP, their homes, the state directory

    @property
    def state(self) -> Path:
        return self.base / "state"

    def command(self, user: str, args: Sequence[str]) -> list[str]:
        """`sop ARGS` as `user`, in a clean environment (its name comes from the account)."""
        home = self.base / "home" / user
        env = [
            "env",
            "-i",
            f"PATH={os.environ['PATH']}",
            f"HOME={home}",
            f"SOP_STATE_DIR={self.state}",
            "LANG=C.UTF-8",
            "COLUMNS=200",
            "NO_COLOR=1",
            "TERM=xterm-256color",
        ]
        as_user = ["runuser", "-u", user, "--"] if not self.root else [*self.root, "-u", user]
        return [*as_user, *env, *_sop_for_everyone(), *args]

    def sop(self, user: str, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command(user, args), cwd=self.base, capture_output=True, text=True, timeout=60
        )


@pytest.fixture
def team() -> Iterator[Team]:
    root = _root_command()
    tag = uuid.uuid4().hex[:6]
    group, users = f"sopho-{tag}", [f"sopho-{n}-{tag}" for n in ("alice", "bob", "carol")]
    base = Path(tempfile.mkdtemp(prefix="sop-handover-", dir="/tmp"))
    base.chmod(0o755)
    made: list[list[str]] = []
    try:
        subprocess.run([*root, "groupadd", group], check=True)
        made.append(["groupdel", group])
        for user in users:
            member = ["-G", group] if "carol" not in user else []
            subprocess.run([*root, "useradd", "-M", "-s", "/bin/sh", *member, user], check=True)
            made.append(["userdel", user])
            home = base / "home" / user
            home.mkdir(parents=True)
            subprocess.run([*root, "chown", user, str(home)], check=True)
        subprocess.run(
            [*root, "install", "-d", "-m", "2770", "-g", group, str(base / "state")], check=True
        )
        subprocess.run([*root, "install", "-d", "-m", "1777", str(base / "out")], check=True)
        yield Team(root, group, *users, base)
    finally:
        uids = {pwd.getpwnam(u).pw_uid for u in users if _exists(u)}
        for pid in _processes_of(uids):  # a killed run leaves its step's command running
            subprocess.run([*root, "kill", "-KILL", str(pid)], check=False)
        subprocess.run([*root, "rm", "-rf", str(base)], check=True)
        failed = [undo for undo in reversed(made) if subprocess.run([*root, *undo]).returncode]
        assert not failed, f"could not clean up: {failed}"


def _exists(user: str) -> bool:
    try:
        pwd.getpwnam(user)
    except KeyError:
        return False
    return True


def _processes_of(uids: set[int]) -> list[int]:
    """The pids of the processes that run as one of `uids` (the test's own users)."""
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and entry.stat().st_uid in uids:
                pids.append(int(entry.name))
        except FileNotFoundError:  # ended meanwhile
            continue
    return pids


def write_sop(team: Team, middle: str) -> Path:
    """An SOP whose steps record who ran them in `out/` (the middle step as given)."""
    out = team.base / "out"
    path = team.base / "handover.yaml"
    path.write_text(
        "sop: 1\nid: handover\ntitle: Handover\nowner: t\nreviewed: 2026-11-20\non: local\n"
        "steps:\n"
        f"  - id: first\n    run: id -un > {out}/first\n"
        f"{middle}"
        f"  - id: last\n    run: id -un > {out}/last\n"
    )
    path.chmod(0o644)
    return path


def spawn(team: Team, user: str, *args: str) -> pexpect.spawn:
    """`sop ARGS` as `user` at a terminal."""
    command = team.command(user, args)
    return pexpect.spawn(
        command[0],
        command[1:],
        cwd=str(team.base),
        encoding="utf-8",
        timeout=TIMEOUT,
        dimensions=(50, 200),
    )


def the_run(team: Team) -> Path:
    (run_dir,) = (team.state / "runs").iterdir()
    return run_dir


def records(run_dir: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (run_dir / "audit.jsonl").read_text().splitlines()]


def assert_handed_over(team: Team, run_dir: Path) -> None:
    """The log verifies for both members and names both; the folder stays the group's."""
    for user in (team.alice, team.bob):
        verified = team.sop(user, "audit", "verify", run_dir.name)
        assert verified.returncode == 0, verified.stderr
        assert verified.stdout.startswith("ok: ")
    log = records(run_dir)
    handover = [r for r in log if r["event"]["action"] == "handover"]  # type: ignore[index]
    assert [(r["sop"]["from"], r["sop"]["to"]) for r in handover] == [(team.alice, team.bob)]  # type: ignore[index]
    assert {r["user"]["name"] for r in log} == {team.alice, team.bob}  # type: ignore[index]
    assert log[-2]["event"]["action"] == "run-finished"  # type: ignore[index]
    out = team.base / "out"
    assert (out / "first").read_text() == f"{team.alice}\n"
    assert (out / "last").read_text() == f"{team.bob}\n"
    for path in (run_dir, team.state / "keys"):
        info = path.stat()
        assert (stat.S_IMODE(info.st_mode), info.st_gid) == (0o2770, team.state.stat().st_gid)
    for path in (*run_dir.iterdir(), *(team.state / "keys").iterdir()):
        info = path.stat()
        assert (stat.S_IMODE(info.st_mode), info.st_gid) == (0o660, team.state.stat().st_gid)


def test_a_member_of_the_group_finishes_a_run_another_paused(team: Team) -> None:
    sop = write_sop(team, "  - id: middle\n    run: id -un > /dev/null\n")
    alice = spawn(team, team.alice, "run", str(sop))
    alice.expect_exact(RUN_ON_LOCAL)
    alice.sendline("r")
    alice.expect_exact(RUN_ON_LOCAL)
    alice.sendline("q")  # pauses the run
    alice.expect(pexpect.EOF)
    alice.close()
    assert alice.exitstatus == 4, alice.before
    run_dir = the_run(team)
    listed = team.sop(team.bob, "runs")
    assert listed.returncode == 0, listed.stderr
    assert f"{run_dir.name}  handover" in listed.stdout
    (row,) = [line for line in listed.stdout.splitlines() if run_dir.name in line]
    assert team.alice in row and "paused" in row and "untrusted" not in row
    resumed = team.sop(team.bob, "resume", run_dir.name, "--yes")
    assert resumed.returncode == 0, resumed.stderr
    assert_handed_over(team, run_dir)


def test_a_member_of_the_group_finishes_a_run_whose_process_was_killed(team: Team) -> None:
    out = team.base / "out"
    sop = write_sop(team, f"  - id: slow\n    run: id -un > {out}/slow; exec sleep 600\n")
    alice = subprocess.Popen(
        team.command(team.alice, ["run", str(sop), "--yes"]),
        cwd=team.base,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + TIMEOUT
        while not (out / "slow").exists():
            assert time.monotonic() < deadline and alice.poll() is None, "the slow step never ran"
            time.sleep(0.05)
    finally:
        os.killpg(alice.pid, signal.SIGKILL)  # sop, and the step's sleep with it
        alice.wait()
    run_dir = the_run(team)
    bob = spawn(team, team.bob, "resume", run_dir.name)
    bob.expect_exact("In doubt. What now? [m]ark done / [r]un again / [a]bort: ")
    bob.sendline("m")
    bob.expect_exact("Why mark it done?: ")
    bob.sendline("alice's sleep was killed with her session")
    bob.expect_exact(RUN_ON_LOCAL)
    bob.sendline("r")
    bob.expect(pexpect.EOF)
    bob.close()
    assert bob.exitstatus == 0, bob.before
    assert_handed_over(team, run_dir)


def test_someone_outside_the_group_is_refused(team: Team) -> None:
    sop = write_sop(team, "  - id: careful\n    confirm: always\n    run: id -un > /dev/null\n")
    team.sop(team.alice, "run", str(sop), "--yes")
    run_dir = the_run(team)
    carol = team.sop(team.carol, "resume", run_dir.name, "--yes")
    assert (carol.returncode, carol.stderr) == (
        1,
        f"sop: error: state directory {team.state} is shared with group {team.group}, and you "
        "are not a member of it\n",
    )
    # a run folder carol made (say, as root put it there) is not the group's
    subprocess.run([*team.root, "chown", "-R", team.carol, str(run_dir)], check=True)
    bob = team.sop(team.bob, "resume", run_dir.name, "--yes", "--confirm", "careful")
    assert (bob.returncode, bob.stderr) == (
        1,
        f"sop: error: run directory {run_dir} belongs to {team.carol} (uid "
        f"{run_dir.stat().st_uid}), who is not a member of group {team.group}; sop trusts only "
        "the group's members here\n",
    )
    assert not (team.base / "out" / "last").exists()
