"""The responder at a terminal: the prompts of a run (menus, questions, secrets, the editor,
waiting for something outside the terminal) and how each line is read so that Ctrl-C and
Ctrl-D always count, also while waiting (the signal wake-up pipe beside stdin)."""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING

import click

from sop.cli.ui import echo, guarded
from sop.text import visible

if TYPE_CHECKING:
    from sop.cli.ui import Console
    from sop.executors.terminal import Tty
    from sop.model import Input


class TerminalPrompter:
    """The responder at a terminal. Ctrl-C at a prompt raises KeyboardInterrupt, Ctrl-D (the end
    of input) `EndOfInput`: a run pauses at either, a secret's prompt included. Prompts and
    the defaults they show are made visible."""

    def __init__(self, out: Console) -> None:
        self.out = guarded(out)

    def _prompt(
        self,
        text: str,
        default: str | None = None,
        *,
        show_default: bool = True,
        secret: bool = False,
    ) -> str:
        if default is not None and visible(default) != default and show_default:
            text = f"{text} [{default}]"  # shown made visible with the prompt, not raw
            show_default = False
        return _read_answer(visible(text), default, show_default, secret=secret)

    def choose(
        self, prompt: str, choices: Sequence[tuple[str, str]], default: str | None = None
    ) -> str:
        menu = " / ".join(
            f"[{key}]{word[len(key) :]}" if word.startswith(key) else f"[{key}] {word}"
            for key, word in choices
        )
        while True:
            answer = (
                self._prompt(f"{prompt} {menu}", default or "", show_default=False).strip().lower()
            )
            for key, word in choices:
                if answer in (key, word):
                    return key
            self.out.print(f"[yellow]Answer one of: {', '.join(w for _, w in choices)}[/yellow]")

    def ask(self, question: Input) -> str:
        label = question.help or question.name
        if question.choices:
            label += f" ({', '.join(question.choices)})"
        if question.secret:  # a secret has no default: nothing of it is ever shown
            return self._prompt(label, secret=True)
        return self._prompt(label, question.default)

    def text(self, prompt: str) -> str:
        return self._prompt(prompt)

    def warn(self, message: str) -> None:
        self.out.print(message, style="yellow", markup=False, highlight=False)

    def edit(self, command: str) -> str:
        """A script in the editor; a one-line command on the prompt line, prefilled to edit in
        place (at a terminal, and when it has nothing `visible` would change)."""
        if "\n" in command.strip():
            edited = click.edit(command)
            return command if edited is None else edited
        if sys.stdin.isatty() and sys.stdout.isatty() and visible(command) == command:
            return _prefilled("New command: ", command)
        return self._prompt("New command", command)

    def terminal(self) -> Tty | None:
        """This process's terminal, when its keys come from one."""
        from sop.executors.terminal import Tty

        if not sys.stdin.isatty():
            return None
        self.out.file.flush()  # what sop printed shows before the command's output
        return Tty(sys.stdin.fileno(), sys.stdout.fileno())

    def wait(self, prompt: str, ready: Callable[[], bool]) -> bool:
        """Show `prompt` and look again every half second until `ready()`; q and Enter pause
        (False), Ctrl-C raises KeyboardInterrupt, Ctrl-D `EndOfInput`; other lines are ignored."""
        echo(visible(f"{prompt}  (q and Enter to pause)"))
        while not ready():
            if not _line_within(WAIT_POLL):
                continue
            line = sys.stdin.readline()
            if not line:
                raise _end_of_input()
            if line.strip().lower() in ("q", "quit"):
                return False
        return True


WAIT_POLL = 0.5  # seconds between looks while waiting for something outside the terminal


def _line_within(seconds: float) -> bool:
    """Whether stdin has a line to read within `seconds` (a Ctrl-C meanwhile raises
    KeyboardInterrupt, as at a prompt)."""
    import select

    if not _WAKE and threading.current_thread() is threading.main_thread():
        _WAKE.append(_wake_up_pipe() if sys.stdin.isatty() else -1)
    waiting = select.poll()  # not select(): a run on many hosts holds descriptors past 1024
    waiting.register(sys.stdin, select.POLLIN)
    if _WAKE and _WAKE[0] >= 0:
        waiting.register(_WAKE[0], select.POLLIN)
    ready = {fd for fd, _ in waiting.poll(int(seconds * 1000))}
    if _WAKE and _WAKE[0] in ready:  # a signal: its handler runs (Ctrl-C raises)
        _drain(_WAKE[0])
    return sys.stdin.fileno() in ready


def _read_answer(
    prompt: str, default: str | None, show_default: bool, *, secret: bool = False
) -> str:
    """click.prompt's question (`PROMPT [DEFAULT]: `, the default for an empty answer, asked
    again when there is none), read so that Ctrl-C always counts: sop waits for the line in
    `select` on stdin and the signal wake-up pipe before it reads. (`input()` checks for a
    signal and then blocks in read(): a Ctrl-C landing between the two is only acted on at the
    next key, and under load that gap is wide enough to hit; getpass has the same gap.)
    A `secret` is read the same way with the terminal's echo off (`_echo_off`)."""
    shown = f"{prompt} [{default}]: " if default and show_default else f"{prompt}: "
    while True:
        with _echo_off() if secret else contextlib.nullcontext():
            try:
                echo(shown, nl=False)  # after echo is off: nothing typed from now on shows
                _wait_for_line()
                line = sys.stdin.readline()
            except KeyboardInterrupt:
                if secret:  # no ^C was echoed: end the prompt's line
                    echo()
                raise
        if not line:
            raise _end_of_input()
        if secret:  # nor was the Enter
            echo()
        answer = line.removesuffix("\n").removesuffix("\r")
        if answer:
            return answer
        if default is not None:
            return default


@contextlib.contextmanager
def _echo_off() -> Iterator[None]:
    """The terminal on stdin without echo (line editing, Ctrl-C and Ctrl-D work as ever), as it
    was again however the block ends: the restore runs with SIGINT blocked, so no Ctrl-C can cut
    it short and leave the responder's shell without echo. Not a terminal: nothing to turn off."""
    import signal
    import termios

    try:
        fd = sys.stdin.fileno()
        before = termios.tcgetattr(fd)
    except (OSError, ValueError, termios.error):
        yield
        return
    quiet = [*before[:3], before[3] & ~termios.ECHO, *before[4:]]
    try:
        termios.tcsetattr(fd, termios.TCSADRAIN, quiet)  # TCSADRAIN: keys typed ahead stay
        yield
    finally:
        masked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            termios.tcsetattr(fd, termios.TCSADRAIN, before)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, masked)


_WAKE: list[int] = []  # the read end of the signal wake-up pipe once made; -1: not ours to make


def _wait_for_line() -> None:
    """Return when stdin has a line (or its end) to read; raise KeyboardInterrupt for a Ctrl-C
    that came before or during the wait (its byte in the wake-up pipe ends the wait). Only at a
    terminal, where each read() returns one line: nothing waits unseen in Python's buffer."""
    import select

    if threading.current_thread() is not threading.main_thread() or not sys.stdin.isatty():
        return
    if not _WAKE:
        _WAKE.append(_wake_up_pipe())
    if _WAKE[0] < 0:
        return
    waiting = select.poll()  # not select(): a run on many hosts holds descriptors past 1024
    waiting.register(sys.stdin, select.POLLIN)
    waiting.register(_WAKE[0], select.POLLIN)
    while True:
        ready = {fd for fd, _ in waiting.poll()}
        if _WAKE[0] in ready:  # a signal: its handler runs (Ctrl-C raises) before the next line
            _drain(_WAKE[0])
        if sys.stdin.fileno() in ready:
            return


def _wake_up_pipe() -> int:
    """A pipe Python's signal handler writes a byte to for every signal; -1 when the process
    has one already (someone else's: left as it is)."""
    import os
    import signal

    read_end, write_end = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    old = signal.set_wakeup_fd(write_end, warn_on_full_buffer=False)
    if old != -1:
        signal.set_wakeup_fd(old, warn_on_full_buffer=False)
        os.close(read_end)
        os.close(write_end)
        return -1
    return read_end


def _drain(fd: int) -> None:
    import os

    try:
        while os.read(fd, 512):
            pass
    except BlockingIOError:
        pass


def _prefilled(prompt: str, text: str) -> str:
    """A line read with `text` already on it, to edit with readline's keys (Ctrl-U clears it):
    readline's pre-input hook inserts it before the responder types. Ctrl-C raises
    KeyboardInterrupt and Ctrl-D `EndOfInput`, as at every other prompt."""
    import readline

    def insert() -> None:
        readline.insert_text(text)
        readline.redisplay()

    readline.set_pre_input_hook(insert)
    try:
        return input(visible(prompt))
    except EOFError:
        raise _end_of_input() from None
    finally:
        readline.set_pre_input_hook(None)


def _end_of_input() -> Exception:
    from sop.run.options import EndOfInput

    echo()  # the prompt's line ends here, as after Enter
    return EndOfInput("end of input (Ctrl-D) at a prompt")
