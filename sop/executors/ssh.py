"""Run jobs on hosts over SSH, through fabric's `Connection` (one per host, reused by the run).

`run` and `script` steps are sent to the remote `/bin/sh -s` on stdin, wrapped so that:

- the environment (and secrets) never appear in argv;
- the command's stdin is /dev/null, so it cannot eat the rest of the script;
- the step's text runs as it does locally (`shell.py`: `set -eu` for a strict script, errors
  naming the step and the line of its text), handed over as a here-document;
- an interrupt or a timeout stops the command's whole process group. sshd makes each session
  its own process group; the wrapper first prints its pid (the group id), which sop strips from
  the output and uses to `kill -TERM -PGID` (the first Ctrl-C) and `kill -KILL -PGID` (the
  second) over a second channel. (The SSH `signal` request is
  not enough: OpenSSH ignores it for root logins, which skip privilege separation.)

A task's commands run through the login shell as the task wrote them, each after `echo "$$"`
(the shell's pid: its session's process group), taken out of the output and the result alike.
"""

from __future__ import annotations

import contextlib
import shlex
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sop.errors import SopError
from sop.events import Outcome
from sop.executors.base import CommandCallback, HostResult, Job, OutputCallback, secret_env
from sop.executors.connections import ConnectionPool
from sop.executors.invoking import Running, execute_with, observed
from sop.executors.shell import here_document, shell_command
from sop.model import Host

REMOTE_COMMAND = "exec /bin/sh -s"
HANG_UP_AFTER = 2.0  # seconds a killed command has to end before sop closes its channel


def remote_script(job: Job, env: Mapping[str, str]) -> str:
    """The text sent to the remote `/bin/sh -s`: the step's text runs as `shell.py` says, in the
    background, its stdin /dev/null, while the wrapper waits for it (and passes on TERM)."""
    exports = "".join(
        f"export {name}={shlex.quote(value)}\n" for name, value in sorted(env.items())
    )
    redirection, document = here_document(job.command)
    return (
        f"{exports}"
        'echo "$$"\n'
        "trap 'trap - TERM; kill -TERM 0' INT TERM HUP\n"
        f"{shell_command(job)} {redirection} </dev/null &\n"
        f"{document}"
        "wait $!\n"
    )


class PidLine:
    """Takes a command's first stdout line (the pid its shell printed) out of the output stream;
    `reset` before each command (a task runs several)."""

    def __init__(self, output: OutputCallback) -> None:
        self._output = output
        self._head = ""
        self.pid: int | None = None
        self.seen = threading.Event()

    def reset(self) -> None:
        self._head = ""
        self.pid = None
        self.seen.clear()

    def __call__(self, stream: str, text: str) -> None:
        if stream == "stdout" and not self.seen.is_set():
            self._head += text
            if "\n" not in self._head:
                return
            line, _, text = self._head.partition("\n")
            self.pid = int(line) if line.strip().isdigit() else None
            self.seen.set()
            if not text:
                return
        self._output(stream, text)


def _remote_runner_class(script: str | None, pid: PidLine) -> type:
    from fabric.runners import Remote

    class ScriptedRemote(Remote):  # type: ignore[misc]
        """fabric's Remote runner that sends a whole script at once (invoke's `in_stream` feeds
        stdin a byte at a time: bench/RESULTS.md) and can stop the remote process group, whose
        id the command prints first (`pid` takes it out of the output and the result)."""

        def start(self, command: str, shell: str, env: dict[str, Any], timeout: Any = None) -> None:
            pid.reset()
            super().start(command, shell, env, timeout=timeout)
            if script is not None:
                self.channel.sendall(script.encode())
                self.channel.shutdown_write()

        def generate_result(self, **kwargs: Any) -> Any:
            if pid.seen.is_set():
                kwargs["stdout"] = kwargs["stdout"].partition("\n")[2]
            return super().generate_result(**kwargs)

        def _signal_group(self, name: str) -> None:
            """`kill -NAME` to the remote process group over a second channel."""
            if pid.pid is None:
                return
            try:
                channel = self.channel.get_transport().open_session(timeout=5)
                channel.exec_command(f"kill -{name} -- -{pid.pid}")
                channel.recv_exit_status()
                channel.close()
            except Exception:  # the connection is gone: so is the session
                pass

        def terminate(self) -> None:
            """Ctrl-C: stop the remote process group (not invoke's `stop`, its cleanup)."""
            self._signal_group("TERM")

        def kill(self) -> None:
            """The second Ctrl-C, or the timeout: kill the remote process group. A command
            still running after that (a host that did not take the signal) loses its channel:
            sshd hangs up on it, and sop stops waiting."""
            self._signal_group("KILL")
            if not self.channel.status_event.wait(HANG_UP_AFTER):
                with contextlib.suppress(Exception):
                    super().kill()

    return ScriptedRemote


class SshExecutor:
    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool
        self.running = Running()

    @classmethod
    def create(
        cls, *, known_hosts: Path | None, ssh_config: Path | None, connect_timeout: float = 10
    ) -> SshExecutor:
        return cls(
            ConnectionPool(
                known_hosts=known_hosts, ssh_config=ssh_config, connect_timeout=connect_timeout
            )
        )

    def execute(
        self, job: Job, host: Host, output: OutputCallback, on_command: CommandCallback
    ) -> HostResult:
        started = time.monotonic()
        try:
            conn = self.pool.get(host)
        except Exception as exc:  # unreachable, unknown or changed host key, auth failure
            message = str(exc) if isinstance(exc, SopError) else f"{type(exc).__name__}: {exc}"
            took = time.monotonic() - started
            return HostResult(host.name, Outcome.FAILURE, None, "", "", took, message)
        if job.kind == "task":
            # a task's commands go through the login shell as the task wrote them, after the
            # shell's pid (its process group's id) and sop's variables (quoted; secrets are not
            # exported: they would be in argv)
            exports = "".join(f"export {k}={shlex.quote(v)}; " for k, v in sorted(job.env.items()))
            pid = PidLine(output)
            conn.config.runners.remote = observed(
                _remote_runner_class(None, pid),
                self.running,
                started,
                pid,
                on_command,
                'echo "$$"; ' + exports,
            )
            return execute_with(host.name, job, conn, lambda: None, self.running, started)
        pid = PidLine(output)
        script = remote_script(job, {**job.env, **secret_env(job.secrets)})
        runner = _remote_runner_class(script, pid)
        conn.config.runners.remote = observed(
            runner, self.running, started, pid, lambda _: on_command(job.command)
        )
        return execute_with(
            host.name,
            job,
            conn,
            lambda: conn.run(REMOTE_COMMAND, warn=True, timeout=job.timeout),
            self.running,
            started,
        )

    def interrupt(self) -> None:
        self.running.terminate_all()

    def kill(self) -> None:
        self.running.kill_all()

    def close(self) -> None:
        self.pool.close_all()
