"""Run jobs on the responder's machine, through invoke's `Context`."""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import tempfile
import time
from typing import Any

from sop.executors.base import CommandCallback, HostResult, Job, OutputCallback, secret_env
from sop.executors.invoking import Running, execute_with, observed
from sop.executors.shell import SCRIPT_FD, SHELL, script_text, shell_command, stdin_text
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

    def interrupt(self) -> None:
        self.running.terminate_all()

    def kill(self) -> None:
        self.running.kill_all()

    def close(self) -> None:
        pass
