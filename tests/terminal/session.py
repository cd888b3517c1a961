"""A responder at a terminal: the real `sop` CLI in a pseudo-terminal, driven by pexpect."""

from __future__ import annotations

import io
import re
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pexpect

from ..integration.rundir import SOP

TIMEOUT = 20  # seconds to wait for any one prompt or line
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")

# The prompts of sop.cli.prompter.TerminalPrompter, as the responder sees them.
DONE = "Done? [d]one / [s]kip / [o]ff-script / [q]uit / [a]bort: "
FAILED = "The step failed. What now? [r]etry / [s]kip / [o]ff-script / [a]bort / [b] rollback: "


def failed(*hosts: str, of: int = 0) -> str:
    """The failure menu after a step failed on the remote `hosts` (each can be excluded); `of`:
    how many hosts it ran on, when it succeeded on some of them."""
    retry = "[r]etry failed / [l] retry all" if of else "[r]etry"
    exclude = f"[e]xclude {hosts[0]}" if len(hosts) == 1 else "[e]xclude hosts"
    where = f" on {len(hosts)} of {of} hosts" if of else ""
    return (
        f"The step failed{where}. What now? {retry} / {exclude} / [s]kip / [o]ff-script / "
        "[a]bort / [b] rollback: "
    )


WHY_SKIP = "Why skip this step?: "
WHY_ABORT = "Why abort the run? (it cannot be resumed): "


def run_on(hosts: str, *, task: bool = False) -> str:
    """The confirmation menu of an executable step on `hosts`."""
    edit = "" if task else " / [e]dit"
    return f"Run on {hosts}? [r]un / [s]kip{edit} / [o]ff-script / [q]uit / [a]bort: "


def typed(target: str) -> str:
    return f"Type '{target}' to run on it: "


def screen(raw: str) -> list[str]:
    """The lines a terminal shows after `raw`, colours left out: carriage return, erase to the
    end of the line (`ESC [K`) and newline applied, so a line redrawn in place shows once, as
    it was last drawn."""
    lines = [""]
    col = 0
    for token in re.findall(r"\x1b\[K|\r|\n|[^\r\n\x1b]+", ANSI.sub(_keep_erase, raw)):
        if token == "\r":
            col = 0
        elif token == "\n":
            lines.append("")
            col = 0
        elif token == "\x1b[K":
            lines[-1] = lines[-1][:col]
        else:
            lines[-1] = lines[-1][:col] + token + lines[-1][col + len(token) :]
            col += len(token)
    return lines


def _keep_erase(match: re.Match[str]) -> str:
    return match.group() if match.group() == "\x1b[K" else ""


class Terminal:
    """One `sop` process in a pseudo-terminal 200 columns wide."""

    def __init__(self, child: pexpect.spawn, log: io.StringIO) -> None:
        self.child = child
        self._log = log

    @classmethod
    def spawn(cls, args: Sequence[str], cwd: Path, env: Mapping[str, str]) -> Terminal:
        log = io.StringIO()
        child = pexpect.spawn(
            str(SOP),
            list(args),
            cwd=str(cwd),
            env=dict(env),
            encoding="utf-8",
            codec_errors="replace",
            timeout=TIMEOUT,
            dimensions=(50, 200),
            echo=True,
        )
        child.logfile_read = log
        return cls(child, log)

    @property
    def transcript(self) -> str:
        """Everything the terminal showed so far, without colours; \\r\\n as \\n."""
        return ANSI.sub("", self._log.getvalue()).replace("\r\n", "\n")

    @property
    def screen(self) -> list[str]:
        """What the terminal shows now, line by line (see `screen`)."""
        return screen(self._log.getvalue())

    def expect(self, text: str | type[pexpect.EOF], timeout: float = TIMEOUT) -> None:
        """Wait until the terminal shows `text`; fail with the transcript if it does not."""
        try:
            self.child.expect_exact(text, timeout=timeout)
        except (pexpect.TIMEOUT, pexpect.EOF) as exc:
            what = "timed out" if isinstance(exc, pexpect.TIMEOUT) else "sop exited"
            raise AssertionError(
                f"{what} waiting for {text!r}; the terminal shows:\n{self.transcript[-4000:]}"
            ) from None

    def answer(self, prompt: str, reply: str) -> None:
        """Wait for `prompt`, then type `reply` and Enter."""
        self.expect(prompt)
        self.child.sendline(reply)

    def interrupt(self) -> None:
        """Ctrl-C, as the terminal sends it."""
        self.child.sendintr()

    def end_input(self) -> None:
        """Ctrl-D at a prompt: the end of input."""
        self.child.sendeof()

    def interrupt_prompt(self) -> None:
        """Ctrl-C at a prompt the moment it shows: sop must act on it even when it lands
        between Python's last look for signals and the wait for the answer (`prompter._read_answer`)."""
        self.child.sendintr()

    def exit_status(self, timeout: float = TIMEOUT) -> int:
        """Wait for sop to exit; its exit status (128+N when killed by signal N)."""
        self.expect(pexpect.EOF, timeout)
        self.child.close()
        if self.child.signalstatus is not None:
            return 128 + int(self.child.signalstatus)
        return int(self.child.exitstatus)

    def close(self) -> None:
        if self.child.isalive():
            self.child.terminate(force=True)


def wait_until(condition: Callable[[], object], timeout: float = 10) -> bool:
    """Poll `condition()` until it is true or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return bool(condition())


def running(pattern: str) -> list[str]:
    """The command lines of this machine's processes that match `pattern` (pgrep -f)."""
    out = subprocess.run(["pgrep", "-a", "-f", pattern], capture_output=True, text=True).stdout
    return out.splitlines()
