"""A secret's prompt at a real terminal: nothing typed shows, Ctrl-C and Ctrl-D there pause the
run exactly as at any other prompt, and the terminal's echo is back however the prompt ended
(sop runs under `sh`, which shows `stty -a` once sop has exited)."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator

import pexpect
import pytest

from ..integration.rundir import SOP, RunDir
from .session import ANSI, DONE, TIMEOUT, run_on
from .test_pause_pty import ME, runs, write

TOKEN = "api-token-12345678"
PASSWORD = "console-password-5678"
STEPS = """\
inputs:
  token: {help: API token, secret: true}
steps:
  - id: look
    title: Look at the graphs
    prose: Which mount is full?
    ask:
      mount: {help: Mount that is full}
      password: {help: Console password, secret: true}
  - id: clean
    title: Clean up
    run: "@MARK@ clean {{ mount }}"
"""
ECHO_ON = re.compile(r"(?:^|\s)echo(?:\s|$)")  # `stty -a` says `echo`, or `-echo` when off
RUN_ID = re.compile(r"\brun (\d{8}T\d{6}-[0-9a-f]{8})\b")


class Shell:
    """`sop run` of the SOP above under `sh -c`, in a pseudo-terminal; after sop exits, the
    shell prints the terminal's settings and sop's exit status."""

    def __init__(self, rundir: RunDir) -> None:
        sop = shlex.join([str(SOP), *rundir.args(write(rundir, "secret", STEPS))])
        self.shown = ""
        self.child = pexpect.spawn(
            "/bin/sh",
            # the shell lives through the terminal's Ctrl-C (a trap that runs a command: sop
            # gets the default action back, unlike with an ignored SIGINT)
            ["-c", f"trap : INT; {sop}; status=$?; echo; stty -a; echo sop-exit=$status."],
            cwd=str(rundir.path),
            env=rundir.env(),
            encoding="utf-8",
            timeout=TIMEOUT,
            dimensions=(50, 200),
        )
        self.child.logfile_read = self

    def write(self, data: str) -> None:  # pexpect's log: what the terminal shows
        self.shown += data

    def flush(self) -> None:
        pass

    def answer(self, prompt: str, reply: str) -> None:
        self.child.expect_exact(prompt)
        self.child.sendline(reply)

    def ended(self) -> tuple[int, str, str]:
        """sop's exit status, what the terminal showed until then (\\r\\n as \\n, no colours),
        and the terminal's settings after it."""
        self.child.expect(r"sop-exit=(\d+)\.")
        status = int(self.child.match.group(1))
        self.child.expect(pexpect.EOF)
        self.child.close()
        text = ANSI.sub("", self.shown).replace("\r\n", "\n")
        before, _, settings = text.rpartition("\nspeed ")
        return status, before, settings

    def close(self) -> None:
        if self.child.isalive():
            self.child.terminate(force=True)


def run_id(text: str) -> str:
    found = RUN_ID.search(text)
    assert found, text
    return found[1]


@pytest.fixture
def shell(rundir: RunDir) -> Iterator[Shell]:
    term = Shell(rundir)
    yield term
    term.close()


def at_the_password(term: Shell) -> None:
    term.answer("API token: ", TOKEN)
    term.answer(DONE, "d")
    term.answer("Mount that is full: ", "/var")
    term.child.expect_exact("Console password: ")


@pytest.mark.parametrize("attempt", range(3))
def test_ctrl_c_at_a_secret_question_pauses_the_run_and_leaves_echo_on(
    rundir: RunDir, shell: Shell, attempt: int
) -> None:
    at_the_password(shell)
    shell.child.sendintr()  # the moment it shows: before or while sop waits for the line

    status, text, settings = shell.ended()
    assert status == 130
    assert "Console password: \ninterrupted (Ctrl-C)\n" in text  # its line ended
    assert "Run paused after" in text
    assert "Ctrl-C at step 1 (look). Nothing is finished" in text
    run = run_id(text)
    assert runs(rundir) == {run: ("secret", ME, "run", "paused: Ctrl-C at step 1 (look)")}
    assert ECHO_ON.search(settings), settings
    assert rundir.marks() == []
    assert TOKEN not in text


def test_ctrl_d_at_a_secret_question_pauses_the_run_and_leaves_echo_on(
    rundir: RunDir, shell: Shell
) -> None:
    at_the_password(shell)
    shell.child.sendeof()

    status, text, settings = shell.ended()
    assert status == 4
    assert "Console password: \n\nRun paused after" in text
    run = run_id(text)
    said = "Ctrl-D (end of input) at step 1 (look)"
    assert runs(rundir) == {run: ("secret", ME, "run", f"paused: {said}")}
    assert ECHO_ON.search(settings), settings


def test_what_is_typed_at_a_secret_prompt_never_shows(rundir: RunDir, shell: Shell) -> None:
    at_the_password(shell)
    shell.child.sendline(PASSWORD)
    shell.answer(run_on("local"), "r")

    status, text, settings = shell.ended()
    assert status == 0
    assert "API token: \n" in text and "Console password: \n" in text
    assert TOKEN not in text and PASSWORD not in text
    assert rundir.marks() == ["local clean /var"]
    assert ECHO_ON.search(settings), settings


def test_ctrl_c_at_a_secret_start_up_input_stops_before_the_run(
    rundir: RunDir, shell: Shell
) -> None:
    shell.child.expect_exact("API token: ")
    shell.child.sendintr()

    status, text, settings = shell.ended()
    assert status == 130
    assert text.endswith("API token: \n\ninterrupted\n"), text[-300:]
    assert runs(rundir) == {}  # no run started: nothing to pause
    assert ECHO_ON.search(settings), settings
