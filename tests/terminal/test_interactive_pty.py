"""Interactive steps (`interactive: true`) in a real terminal: the responder's terminal goes to
the command, locally and on an sshd fixture host, until it exits, Ctrl-C ends it, or the
responder detaches (Ctrl-] then d); the session's output is recorded, masked, as asciicast v2
in the run's folder, and the audit log holds the recording's SHA-256."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..integration.rundir import SOP, RunDir
from .session import Terminal, run_on, running, wait_until

Start = Callable[..., Terminal]
SECRET = "s3cr3t-token-value"
HEADER = """\
sop: 1
id: {id}
title: Test
owner: team
reviewed: 2026-11-01
inputs:
  token: {{secret: true}}
steps:
"""
DETACHED = "ended by the responder (detached: Ctrl-] then d)"


def write(rundir: RunDir, sop_id: str, steps: str) -> tuple[Path, str]:
    """The SOP, and the --secret-file argument that gives it its secret."""
    secret = rundir.path / "token"
    secret.write_text(SECRET)
    return rundir.write_sop(HEADER.format(id=sop_id) + steps, f"{sop_id}.yaml"), f"token={secret}"


def run_dir(rundir: RunDir, term: Terminal) -> Path:
    found = re.search(r"run (\S+)   trace", term.transcript)
    assert found, term.transcript
    return rundir.path.parent / "sop-state" / "runs" / "runs" / found.group(1)


def sessions(folder: Path) -> list[dict[str, Any]]:
    lines = (folder / "audit.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    return [r for r in records if r["event"]["action"] == "interactive-session"]


def cast(path: Path) -> tuple[dict[str, Any], list[list[Any]]]:
    header, *events = (json.loads(line) for line in path.read_text().splitlines())
    return header, events


def test_a_local_session_is_recorded_masked_without_what_was_typed(
    rundir: RunDir, terminal: Start
) -> None:
    sop, secret = write(
        rundir,
        "local-session",
        """\
  - id: login
    run: >-
      echo "token is $SOP_SECRET_TOKEN";
      printf 'password: '; stty -echo; read -r typed; stty echo;
      echo; echo "read $(printf %s "$typed" | wc -c) characters"
    interactive: true
""",
    )
    term = terminal(sop, "--secret-file", secret)
    term.answer(run_on("local"), "r")
    term.expect("Ctrl-] then d detaches (ends it)")
    term.expect(f"token is {SECRET}")  # the responder's own terminal shows the real output
    term.expect("password: ")
    term.child.send("typed-words\r")
    term.expect("read 11 characters")
    term.expect("terminal back to sop (the command exited)")
    assert term.exit_status() == 0

    folder = run_dir(rundir, term)
    [record] = sessions(folder)
    recording = record["sop"]["session"]["recording"]
    path = folder / recording["file"]
    assert recording["file"] == "session-1-login-local.cast"
    assert recording["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert record["sop"]["session"]["ended"] == "exit"
    assert record["process"] == {"exit_code": 0}
    assert path.stat().st_mode & 0o777 == 0o600
    header, events = cast(path)
    assert header["version"] == 2
    assert (header["width"], header["height"]) == (200, 50)
    assert all(kind == "o" for _, kind, _ in events)  # no input ("i") events
    assert [e[0] for e in events] == sorted(e[0] for e in events)
    output = "".join(text for _, _, text in events)
    assert "token is ********" in output
    assert "read 11 characters" in output
    assert SECRET not in path.read_text()
    assert "typed-words" not in path.read_text()


def test_a_session_on_one_ssh_host_gets_the_keys_until_the_command_exits(
    rundir: RunDir, terminal: Start
) -> None:
    sop, secret = write(
        rundir,
        "remote-session",
        """\
  - id: chat
    on: h01
    run: >-
      echo "on $(echo "$SSH_CONNECTION" | cut -d' ' -f3) as $SOP_STEP, tty $(tty)";
      head -n 1
    interactive: true
""",
    )
    term = terminal(sop, "--secret-file", secret)
    term.answer(run_on("h01"), "r")
    term.expect(f"on {rundir.hosts.host('h01').address} as chat, tty /dev/pts/")
    term.child.send("hello over ssh\r")
    term.expect("hello over ssh\r\nhello over ssh")  # the pty's echo, then head's output
    term.expect("terminal back to sop (the command exited)")
    term.expect("✔ ok")
    assert term.exit_status() == 0

    folder = run_dir(rundir, term)
    [record] = sessions(folder)
    assert record["sop"]["target"] == {"name": "h01"}
    path = folder / record["sop"]["session"]["recording"]["file"]
    assert path.name == "session-1-chat-h01.cast"
    _, events = cast(path)
    assert "hello over ssh" in "".join(text for _, _, text in events)
    assert not list(Path("/tmp").glob("sop-session.*"))  # the staged script removed itself
    verify = [str(SOP), "audit", "verify", str(folder)]
    audit = subprocess.run(verify, capture_output=True, text=True, env=rundir.env())
    assert audit.returncode == 0, audit.stdout + audit.stderr
    assert (
        "note: 1 interactive session recording(s) match the SHA-256 the log holds: "
        "session-1-chat-h01.cast"
    ) in audit.stderr
    path.write_bytes(path.read_bytes().replace(b"hello over ssh", b"HELLO OVER SSH", 1))
    tampered = subprocess.run(verify, capture_output=True, text=True, env=rundir.env())
    assert tampered.returncode == 1
    assert (
        ": recording: session-1-chat-h01.cast does not match the SHA-256 its record holds: it "
        "changed after the session"
    ) in tampered.stdout


def test_ctrl_c_ending_tail_f_on_a_host_is_a_success(rundir: RunDir, terminal: Start) -> None:
    followed = rundir.path / "followed.log"
    followed.touch()
    sop, secret = write(
        rundir,
        "follow",
        f"""\
  - id: follow
    on: h01
    run: echo following; tail -f {followed}
    interactive: true
  - id: after
    run: echo after
""",
    )
    term = terminal(sop, "--secret-file", secret)
    term.answer(run_on("h01"), "r")
    term.expect("following")
    # once tail runs: a Ctrl-C just before it starts is the shell's, which waits for tail
    assert wait_until(lambda: running(f"^tail -f {followed}"))
    term.interrupt()
    term.expect("terminal back to sop (Ctrl-C)")
    term.expect("✔ ok")
    term.expect("ended by the responder (Ctrl-C)")
    term.answer(run_on("local"), "r")
    assert term.exit_status() == 0
    assert not running(f"^tail -f {followed}")
    [record] = sessions(run_dir(rundir, term))
    assert record["sop"]["session"]["ended"] == "ctrl-c"


def test_the_detach_keys_end_a_local_session(rundir: RunDir, terminal: Start, nap: Path) -> None:
    sop, secret = write(
        rundir,
        "detach",
        f"""\
  - id: wait
    run: echo waiting; {nap} 30
    interactive: true
""",
    )
    term = terminal(sop, "--secret-file", secret)
    term.answer(run_on("local"), "r")
    term.expect("waiting")
    assert wait_until(lambda: running(f"^{nap} 30"))
    term.child.send("\x1d")
    term.child.send("d")
    term.expect("terminal back to sop (detached)")
    term.expect(DETACHED)
    assert term.exit_status() == 0
    assert wait_until(lambda: not running(f"^{nap} 30"))
    folder = run_dir(rundir, term)
    [record] = sessions(folder)
    assert record["sop"]["session"]["ended"] == "detached"
    finished = [
        json.loads(line)
        for line in (folder / "audit.jsonl").read_text().splitlines()
        if '"step-finished"' in line
    ]
    assert [(r["sop"]["outcome"], r["sop"]["reason"]) for r in finished] == [("success", DETACHED)]


def test_yes_stops_before_an_interactive_step(rundir: RunDir) -> None:
    sop, secret = write(
        rundir,
        "unattended",
        """\
  - id: first
    run: "@MARK@ first"
  - id: shell
    run: "@MARK@ shell"
    interactive: true
""",
    )
    proc = rundir.run(sop, "--yes", "--secret-file", secret)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    found = re.search(r"sop resume (\S+)", proc.stderr)
    assert found, proc.stderr
    assert (
        "sop: error: step 2 (shell) is interactive: it hands the responder's terminal to its "
        "command, and a run with --yes has nobody at the terminal. Continue in a terminal: "
        f"sop resume {found.group(1)}"
    ) in proc.stderr
    assert rundir.marks() == ["local first"]


def test_a_drill_shows_the_simulated_output_and_hands_over_no_terminal(rundir: RunDir) -> None:
    sop = rundir.write_sop(
        HEADER.split("inputs:")[0].format(id="drilled")
        + """\
steps:
  - id: shell
    on: h01
    run: "@MARK@ shell"
    interactive: true
    drill: {stdout: "psql (16.2)\\nmydb=> \\n"}
""",
        "drilled.yaml",
    )
    proc = rundir.sop(
        ["drill", str(sop), "--yes", "--pace", "0", "--inventory", str(rundir.inventory)]
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "a real run hands your terminal to this command" in proc.stdout
    assert "psql (16.2)" in proc.stdout
    assert "Your terminal is the command's" not in proc.stdout
    assert rundir.marks() == []
    assert not list(rundir.path.parent.glob("**/*.cast"))


def test_the_command_follows_the_terminals_size(rundir: RunDir, terminal: Start) -> None:
    sop, secret = write(
        rundir,
        "resize",
        """\
  - id: size
    run: echo "size $(stty size)"; read -r _; echo "now $(stty size)"
    interactive: true
""",
    )
    term = terminal(sop, "--secret-file", secret)
    term.answer(run_on("local"), "r")
    term.expect("size 50 200")
    term.child.setwinsize(30, 120)  # SIGWINCH to sop, which resizes the command's pty
    time.sleep(0.5)
    term.child.send("\r")
    term.expect("now 30 120")
    assert term.exit_status() == 0
    [record] = sessions(run_dir(rundir, term))
    _, events = cast(run_dir(rundir, term) / record["sop"]["session"]["recording"]["file"])
    assert [e[1:] for e in events if e[1] == "r"] == [["r", "120x30"]]
