"""Run jobs on the responder's machine, through invoke's `Context`."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shlex
import signal
import struct
import subprocess
import tempfile
import termios
import time
from typing import Any

from sop.executors.base import CommandCallback, HostResult, Job, OutputCallback, secret_env
from sop.executors.invoking import Running, execute_with, observed
from sop.executors.shell import SCRIPT_FD, SHELL, script_text, shell_command, stdin_text
from sop.executors.terminal import Session, Tty, Watcher, attend
from sop.model import ENV_PREFIX, Host
from sop.redact import shared


def _local_runner_class() -> type:
    from invoke.runners import Local

    class SessionLocal(Local):
        """invoke's Local runner, but the command gets its own session: Ctrl-C and timeouts stop
        its whole process group (a pipeline, a `sleep` in a script), not just the shell, and
        the terminal's Ctrl-C reaches sop, which decides."""

        def start(self, command: str, shell: str, env: dict[str, Any]) -> None:
            self.process = subprocess.Popen(
                command,
                shell=True,
                executable=shell,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

        def _signal_group(self, signum: int) -> None:
            with contextlib.suppress(ProcessLookupError, PermissionError, AttributeError):
                os.killpg(self.process.pid, signum)

        def kill(self) -> None:
            self._signal_group(signal.SIGKILL)

        def terminate(self) -> None:
            """Ctrl-C: stop the command's process group (not invoke's `stop`, its cleanup)."""
            self._signal_group(signal.SIGTERM)

    return SessionLocal


def inherited_env() -> dict[str, str]:
    """What a local command inherits from sop's own environment: all of it except what carries
    a secret (a variable a secret input was read from, any SOP_SECRET_* sop itself was given).
    A command gets a secret only as the SOP_SECRET_<NAME> of a step that uses it."""
    redactor = shared()  # every secret this process knows, in every form
    return {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(ENV_PREFIX) and redactor(value) == value
    }


def _private_file(files: contextlib.ExitStack, text: str, suffix: str) -> str:
    """A temporary file only sop's user can read, holding `text`, removed when `files` closes;
    its name quoted for the shell."""
    handle = files.enter_context(
        tempfile.NamedTemporaryFile(  # noqa: SIM115 (closed by `files`)
            "w", encoding="utf-8", prefix="sop-step-", suffix=suffix
        )
    )
    handle.write(text)
    handle.flush()
    return shlex.quote(handle.name)


class LocalExecutor:
    """`run` and `script` steps run by /bin/sh from a private temporary file on fd 3 (no argv
    limit; the command's stdin is the step's `stdin` text from a second file, else /dev/null:
    `shell.py`); task steps get an invoke `Context`."""

    def __init__(self) -> None:
        self.running = Running()

    def execute(
        self, job: Job, host: Host, output: OutputCallback, on_command: CommandCallback
    ) -> HostResult:
        from invoke.config import Config
        from invoke.context import Context

        started = time.monotonic()
        env = {**inherited_env(), **job.env, **secret_env(job.secrets)}
        config = Config(overrides={"run": {"shell": SHELL, "env": env, "replace_env": True}})
        # a task's commands are reported as they are; a step's as the responder confirmed it
        report = on_command if job.kind == "task" else (lambda _: on_command(job.command))
        config.runners.local = observed(
            _local_runner_class(), self.running, started, output, report
        )
        context = Context(config=config)
        if job.kind == "task":
            return execute_with(host.name, job, context, lambda: None, self.running, started)
        with contextlib.ExitStack() as files:
            script = _private_file(files, script_text(job.command), ".sh")
            command = f"{shell_command(job)} {SCRIPT_FD}<{script}"
            if job.stdin is not None:
                command += f" <{_private_file(files, stdin_text(job.stdin), '.in')}"

            def run() -> Any:
                return context.run(command, warn=True, timeout=job.timeout)

            return execute_with(host.name, job, context, run, self.running, started)

    def interact(self, job: Job, host: Host, tty: Tty, watcher: Watcher) -> Session:
        """An interactive `run` step: the command in a pty of its own, with the responder's
        terminal (`terminal.relay`) until it exits or the responder detaches."""
        started = time.monotonic()
        env = {**inherited_env(), **job.env, **secret_env(job.secrets)}
        with tempfile.NamedTemporaryFile("w", prefix="sop-step-", suffix=".sh") as script:
            script.write(script_text(job.command))
            script.flush()
            command = f"exec {shell_command(job)} {SCRIPT_FD}<{shlex.quote(script.name)}"
            return attend(PtyCommand(command, env, *tty.size()), tty, watcher, host.name, started)

    def interrupt(self) -> None:
        self.running.terminate_all()

    def kill(self) -> None:
        self.running.kill_all()

    def close(self) -> None:
        pass


HANG_UP_GRACE = 2.0  # seconds a command has after SIGHUP before SIGKILL


def _set_size(fd: int, columns: int, rows: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))


def _take_terminal() -> None:
    """In the child, after setsid: its pty becomes its controlling terminal, so Ctrl-C typed
    into it is a SIGINT to the command, as in a shell."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class PtyCommand:
    """A local command in a new session whose controlling terminal is a pty of its own (the
    `terminal.Peer` of a local interactive step)."""

    def __init__(self, command: str, env: dict[str, str], columns: int, rows: int) -> None:
        master, slave = os.openpty()
        try:
            _set_size(slave, columns, rows)
            self.process = subprocess.Popen(
                [SHELL, "-c", command],
                stdin=slave,
                stdout=slave,
                stderr=slave,
                env=env,
                start_new_session=True,
                preexec_fn=_take_terminal,
            )
        except BaseException:
            os.close(master)
            raise
        finally:
            os.close(slave)
        self.master = master

    def fileno(self) -> int:
        return self.master

    def read(self) -> bytes:
        try:
            return os.read(self.master, 65536)
        except OSError:  # EIO: nothing holds the terminal open any more
            return b""

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self.master, view) :]

    def resize(self, columns: int, rows: int) -> None:
        _set_size(self.master, columns, rows)  # the kernel sends the command SIGWINCH

    def ended(self) -> bool:
        return self.process.poll() is not None

    def finish(self, hang_up: bool) -> int | None:
        """The command's exit status (128+N when signal N ended it); after `hang_up`, SIGHUP to
        its process group, then SIGKILL if it lives on."""
        try:
            if hang_up and self.process.poll() is None:
                self._signal(signal.SIGHUP)
                try:
                    self.process.wait(HANG_UP_GRACE)
                except subprocess.TimeoutExpired:
                    self._signal(signal.SIGKILL)
            code = self.process.wait()
        finally:
            os.close(self.master)
        return 128 - code if code < 0 else code

    def _signal(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signum)
