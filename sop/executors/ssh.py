"""Run jobs on hosts over SSH, through fabric's `Connection` (one per host, reused by the run).

`run` and `script` steps are sent to the remote `/bin/sh -s` on stdin, wrapped so that:

- the environment (and secrets) never appear in argv;
- the command's stdin is /dev/null, so it cannot eat the rest of the script, or the step's
  `stdin` text as a second here-document;
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

import codecs
import contextlib
import os
import shlex
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sop.errors import SopError
from sop.events import HostReached, Outcome, Reach, SessionEnd
from sop.executors.base import CommandCallback, HostResult, Job, OutputCallback, secret_env
from sop.executors.connections import ConnectionPool, SshError
from sop.executors.invoking import Running, execute_with, host_result, observed
from sop.executors.shell import here_document, shell_command, stdin_document
from sop.executors.terminal import Session, Tty, Watcher, attend
from sop.model import Host

REMOTE_COMMAND = "exec /bin/sh -s"
HANG_UP_AFTER = 2.0  # seconds a killed command has to end before sop closes its channel
READ_SIZE = 32768
STREAMS = ("stdout", "stderr")


def remote_script(job: Job, env: Mapping[str, str]) -> str:
    """The text sent to the remote `/bin/sh -s`: the step's text runs as `shell.py` says, in the
    background, its stdin /dev/null, while the wrapper waits for it (and passes on TERM)."""
    exports = "".join(
        f"export {name}={shlex.quote(value)}\n" for name, value in sorted(env.items())
    )
    redirection, document = here_document(job.command)
    stdin, stdin_lines = ("</dev/null", "") if job.stdin is None else stdin_document(job.stdin)
    return (
        f"{exports}"
        'echo "$$"\n'
        "trap 'trap - TERM; kill -TERM 0' INT TERM HUP\n"
        f"{shell_command(job)} {redirection} {stdin} &\n"
        f"{document}{stdin_lines}"
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


def _signal_group(transport: Any, pid: int | None, name: str) -> None:
    """`kill -NAME` to the remote process group `pid` over a second channel."""
    if pid is None:
        return
    try:
        channel = transport.open_session(timeout=5)
        channel.exec_command(f"kill -{name} -- -{pid}")
        channel.recv_exit_status()
        channel.close()
    except Exception:  # the connection is gone: so is the session
        pass


class RemoteCommand:
    """A `run` or `script` step on one host, on a session channel of the host's connection.

    The script goes in on stdin; stdout and stderr are handed on as they arrive, by the host's
    own thread, which sleeps on an event the channel's buffers set when data, EOF or a hang-up
    comes in. (fabric's `Connection.run` puts invoke's Runner in between: three more threads per
    command and a 10 ms poll for its end, more client CPU per host than the SSH work itself:
    bench/RESULTS.md.) `terminate` and `kill` stop the remote process group from another thread
    (`Running` calls them)."""

    def __init__(self, conn: Any, output: OutputCallback) -> None:
        self._conn = conn
        self._stdout: list[str] = []
        self._stderr: list[str] = []

        def collect(stream: str, text: str) -> None:
            (self._stdout if stream == "stdout" else self._stderr).append(text)
            output(stream, text)

        self._pid = PidLine(collect)
        self._channel: Any = None

    def run(self, script: str, timeout: float | None) -> tuple[int | None, str, str, bool]:
        """Run `script`; (exit code, stdout, stderr, whether the timeout stopped it). The exit
        code is None when the channel closed without one (a hang-up after KILL)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        channel = self._channel = self._conn.create_session()
        try:
            channel.exec_command(REMOTE_COMMAND)
            channel.sendall(script.encode())
            channel.shutdown_write()
            timed_out = self._pump(channel, deadline)
            code = channel.exit_status if channel.exit_status_ready() else None
        finally:
            channel.close()
        if code == -1:  # paramiko's "no exit status": the channel closed without one
            code = None
        return code, "".join(self._stdout), "".join(self._stderr), timed_out

    def _pump(self, channel: Any, deadline: float | None) -> bool:
        """Hand on output until the command has ended and all its output is in."""
        arrived = threading.Event()
        channel.in_buffer.set_event(arrived)  # what Channel.fileno() does, without a pipe
        channel.in_stderr_buffer.set_event(arrived)
        decoders = {name: codecs.getincrementaldecoder("utf-8")("replace") for name in STREAMS}
        timed_out = False
        while True:
            arrived.clear()
            self._drain(channel, decoders)
            if channel.closed or (channel.eof_received and channel.exit_status_ready()):
                break
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            if channel.eof_received:  # all output is in: only the exit status is to come
                channel.status_event.wait(left)
            elif not (channel.recv_ready() or channel.recv_stderr_ready()):
                arrived.wait(left)
            if deadline is not None and not timed_out and time.monotonic() >= deadline:
                timed_out = True
                self.kill()
        self._drain(channel, decoders)
        for name, decoder in decoders.items():
            self._pid(name, decoder.decode(b"", final=True))
        return timed_out

    def _drain(self, channel: Any, decoders: Mapping[str, Any]) -> None:
        while channel.recv_ready():
            self._pid("stdout", decoders["stdout"].decode(channel.recv(READ_SIZE)))
        while channel.recv_stderr_ready():
            self._pid("stderr", decoders["stderr"].decode(channel.recv_stderr(READ_SIZE)))

    def terminate(self) -> None:
        """Ctrl-C: TERM to the remote process group."""
        _signal_group(self._conn.transport, self._pid.pid, "TERM")

    def kill(self) -> None:
        """The second Ctrl-C, or the timeout: KILL to the remote process group. A command still
        running after that (a host that did not take the signal) loses its channel: sshd hangs
        up on it, and sop stops waiting."""
        _signal_group(self._conn.transport, self._pid.pid, "KILL")
        channel = self._channel
        if channel is not None and not channel.status_event.wait(HANG_UP_AFTER):
            channel.close()


# an interactive step's script is staged in a private file (mode 0600) that the session
# removes before anything else: its environment cannot go in on the pty's stdin (the terminal
# would echo it) nor in argv
STAGE = (
    'umask 077 && f=$(mktemp "${TMPDIR:-/tmp}/sop-session.XXXXXXXXXX") && cat > "$f" && '
    'printf "%s\\n" "$f"'
)
SESSION = "exec /bin/sh -c '. \"$0\"' "
HANG_UP_WAIT = 2.0  # seconds to wait for the exit status after the command's output ended


def session_script(job: Job, env: Mapping[str, str]) -> str:
    """The staged file: it removes itself, exports the environment, and becomes the step's
    shell, whose stdin, stdout and stderr are the session's pty."""
    exports = "".join(
        f"export {name}={shlex.quote(value)}\n" for name, value in sorted(env.items())
    )
    redirection, document = here_document(job.command)
    return f'rm -f -- "$0"\n{exports}exec {shell_command(job)} {redirection}\n{document}'


def _call(conn: Any, command: str, stdin: bytes = b"") -> tuple[int, str, str]:
    """Run `command` on a channel of its own; (exit status, stdout, stderr)."""
    channel = conn.create_session()
    try:
        channel.exec_command(command)
        channel.sendall(stdin)
        channel.shutdown_write()
        out, err = channel.makefile("rb").read(), channel.makefile_stderr("rb").read()
        return (
            channel.recv_exit_status(),
            out.decode(errors="replace"),
            err.decode(errors="replace"),
        )
    finally:
        channel.close()


class PtyChannel:
    """An SSH session channel with a pty, running one staged script (the `terminal.Peer` of a
    remote interactive step)."""

    def __init__(self, conn: Any, path: str, term: str, columns: int, rows: int) -> None:
        self.channel = conn.create_session()
        try:
            self.channel.get_pty(term=term, width=columns, height=rows)
            self.channel.exec_command(SESSION + shlex.quote(path))
        except BaseException:
            self.channel.close()
            raise

    def fileno(self) -> int:
        return int(self.channel.fileno())

    def read(self) -> bytes:
        return bytes(self.channel.recv(READ_SIZE))  # with a pty, stderr comes in here too

    def write(self, data: bytes) -> None:
        self.channel.sendall(data)

    def resize(self, columns: int, rows: int) -> None:
        self.channel.resize_pty(width=columns, height=rows)

    def ended(self) -> bool:
        return bool(self.channel.exit_status_ready())

    def finish(self, hang_up: bool) -> int | None:
        """The exit status (None when a signal ended the command, or sop hung up: closing the
        channel hangs up its pty, and sshd sends the command SIGHUP)."""
        channel = self.channel
        try:
            if not hang_up and channel.status_event.wait(HANG_UP_WAIT):
                status = int(channel.exit_status)
                return None if status == -1 else status
            return None
        finally:
            channel.close()


def _remote_runner_class(pid: PidLine) -> type:
    """fabric's Remote runner for a task's commands: it can stop the remote process group,
    whose id each command prints first (`pid` takes it out of the output and the result)."""
    from fabric.runners import Remote

    class TaskRemote(Remote):  # type: ignore[misc]
        def start(self, command: str, shell: str, env: dict[str, Any], timeout: Any = None) -> None:
            pid.reset()
            super().start(command, shell, env, timeout=timeout)

        def generate_result(self, **kwargs: Any) -> Any:
            if pid.seen.is_set():
                kwargs["stdout"] = kwargs["stdout"].partition("\n")[2]
            return super().generate_result(**kwargs)

        def terminate(self) -> None:
            """Ctrl-C: stop the remote process group (not invoke's `stop`, its cleanup)."""
            _signal_group(self.channel.get_transport(), pid.pid, "TERM")

        def kill(self) -> None:
            """The second Ctrl-C: kill the remote process group; hang up if it lives on."""
            _signal_group(self.channel.get_transport(), pid.pid, "KILL")
            if not self.channel.status_event.wait(HANG_UP_AFTER):
                with contextlib.suppress(Exception):
                    super().kill()

    return TaskRemote


def address(host: Host) -> str:
    """`user@address:port` as the inventory gives them (user and a port of 22 left out)."""
    return host.ssh_address


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
            conn.config = conn.config.clone()  # its own: the pool's connections share one
            conn.config.runners.remote = observed(
                _remote_runner_class(pid),
                self.running,
                started,
                pid,
                on_command,
                'echo "$$"; ' + exports,
            )
            return execute_with(host.name, job, conn, lambda: None, self.running, started)
        script = remote_script(job, {**job.env, **secret_env(job.secrets)})
        return self._run(host.name, job, RemoteCommand(conn, output), script, on_command, started)

    def interact(self, job: Job, host: Host, tty: Tty, watcher: Watcher) -> Session:
        """An interactive `run` step on one host: a pty channel with the responder's terminal
        (`terminal.relay`) until the command exits or the responder detaches."""
        started = time.monotonic()
        try:
            conn = self.pool.get(host)
            status, path, err = _call(
                conn, STAGE, session_script(job, {**job.env, **secret_env(job.secrets)}).encode()
            )
            path = path.strip()
            if status != 0 or not path.startswith("/") or "\n" in path:
                raise SopError(f"cannot stage the session's script: {err.strip() or status}")
            try:
                session = PtyChannel(conn, path, os.environ.get("TERM", "xterm"), *tty.size())
            except BaseException:
                with contextlib.suppress(Exception):
                    _call(conn, f"rm -f -- {shlex.quote(path)}")
                raise
        except Exception as exc:  # unreachable, refused, or the connection broke
            message = str(exc) if isinstance(exc, SopError) else f"{type(exc).__name__}: {exc}"
            took = time.monotonic() - started
            failed = HostResult(host.name, Outcome.FAILURE, None, "", "", took, message)
            return Session(failed, SessionEnd.EXIT)
        return attend(session, tty, watcher, host.name, started)

    def _run(
        self,
        host_name: str,
        job: Job,
        command: RemoteCommand,
        script: str,
        on_command: CommandCallback,
        started: float,
    ) -> HostResult:
        if self.running.stopped_since(started):
            error = f"interrupted by the responder before `{job.command}`"
            return host_result(
                host_name, self.running, started, Outcome.FAILURE, None, "", "", error
            )
        on_command(job.command)
        self.running.add(command)
        try:
            code, out, err, timed_out = command.run(script, job.timeout)
        except Exception as exc:  # the connection broke: report, never a traceback
            error = f"{type(exc).__name__}: {exc}"
            return host_result(
                host_name, self.running, started, Outcome.FAILURE, None, "", "", error
            )
        finally:
            self.running.discard(command)
        if timed_out:
            error = f"timed out after {job.timeout:g}s"
            return host_result(
                host_name, self.running, started, Outcome.FAILURE, None, out, err, error
            )
        outcome = Outcome.SUCCESS if code == 0 else Outcome.FAILURE
        error = "" if code is not None else "the connection closed before the command ended"
        return host_result(host_name, self.running, started, outcome, code, out, err, error)

    def check(self, host: Host) -> HostReached:
        """Connect to `host` now (the pre-flight); the connection stays in the pool for the
        run's steps. A failure is one classified line (and how to fix it), never a raise."""
        started = time.monotonic()
        try:
            self.pool.get(host)
        except SshError as exc:
            return HostReached(
                host.name, address(host), exc.reach, time.monotonic() - started, str(exc)
            )
        except Exception as exc:  # whatever else paramiko raises on the way: said, not raised
            error = f"{host.name}: {type(exc).__name__}: {exc}"
            return HostReached(
                host.name, address(host), Reach.UNREACHABLE, time.monotonic() - started, error
            )
        return HostReached(host.name, address(host), Reach.OK, time.monotonic() - started)

    def interrupt(self) -> None:
        self.running.terminate_all()

    def kill(self) -> None:
        self.running.kill_all()

    def close(self) -> None:
        self.pool.close_all()
