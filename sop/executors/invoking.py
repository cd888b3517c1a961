"""Running a job through invoke's machinery: shared by the local and the SSH executor.

invoke's runner classes are the seam: sop's subclasses report every command (also those a task
runs) and can be stopped from another thread.
"""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable
from typing import Any

from sop.errors import FatalRunError, SopError
from sop.events import Outcome
from sop.executors.base import CommandCallback, HostResult, Job, OutputCallback


class StreamWriter(io.TextIOBase):
    """A file-like object that invoke writes a command's output to."""

    def __init__(self, stream: str, output: OutputCallback) -> None:
        self._stream = stream
        self._output = output

    def write(self, text: str) -> int:
        if text:
            self._output(self._stream, text)
        return len(text)

    def flush(self) -> None:
        pass


class Running:
    """The runners active right now, so that Ctrl-C can stop them from the main thread.

    Each stop is delivered from its own thread: a remote one opens a channel to its host, which
    may hang with the host, and the responder's next Ctrl-C must not wait for it. A job that
    started before the last stop reports itself interrupted and starts no further commands."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runners: set[Any] = set()
        self._stopped_at: float | None = None

    def add(self, runner: Any) -> None:
        with self._lock:
            self._runners.add(runner)

    def discard(self, runner: Any) -> None:
        with self._lock:
            self._runners.discard(runner)

    def terminate_all(self) -> None:
        """SIGTERM to every running command's process group."""
        self._stop("terminate")

    def kill_all(self) -> None:
        """SIGKILL to every running command's process group."""
        self._stop("kill")

    def _stop(self, method: str) -> None:
        with self._lock:
            self._stopped_at = time.monotonic()
            runners = list(self._runners)
        for runner in runners:
            threading.Thread(target=getattr(runner, method), name="sop-stop", daemon=True).start()

    def stopped_since(self, started: float) -> bool:
        """Whether a stop came after `started` (a `time.monotonic()`)."""
        with self._lock:
            return self._stopped_at is not None and self._stopped_at >= started


def stream_options(output: OutputCallback) -> dict[str, Any]:
    """What every command sop runs gets, its own and a task's: output streamed to sop (never
    straight to the terminal), our stdin never read, no pty."""
    return {
        "hide": False,
        "echo": False,
        "pty": False,
        "in_stream": False,
        "out_stream": StreamWriter("stdout", output),
        "err_stream": StreamWriter("stderr", output),
    }


def observed(
    base: type,
    running: Running,
    started: float,
    output: OutputCallback,
    on_command: CommandCallback,
    prefix: str = "",
) -> type:
    """A subclass of an invoke runner class that reports each command before it starts,
    streams its output to `output`, and registers itself so that `Running` reaches it. After a
    stop (since the job `started`), a task's next command is refused, not run. `prefix` goes
    before every command (exports for remote tasks). The base class must offer `terminate()`
    and `kill()`. (A class, not a config value: invoke deep-copies config values.)"""

    class Observed(base):  # type: ignore[misc]
        def run(self, command: str, **kwargs: Any) -> Any:
            if running.stopped_since(started):
                raise SopError(f"interrupted by the responder before `{command}`")
            for key, value in stream_options(output).items():
                kwargs.setdefault(key, value)
            on_command(command)
            running.add(self)
            try:
                return super().run(prefix + command, **kwargs)
            finally:
                running.discard(self)

    return Observed


def host_result(
    host_name: str,
    running: Running,
    started: float,
    outcome: Outcome,
    code: int | None,
    out: str,
    err: str,
    error: str = "",
) -> HostResult:
    """What happened on a host to a job that `started` (`time.monotonic()`); a failure after
    the responder's stop counts as interrupted."""
    if running.stopped_since(started) and outcome != Outcome.SUCCESS:
        outcome, error = Outcome.INTERRUPTED, error or "interrupted by the responder"
    return HostResult(host_name, outcome, code, out, err, time.monotonic() - started, error)


def execute_with(
    host_name: str,
    job: Job,
    context: Any,
    run_command: Callable[[], Any],
    running: Running,
    started: float,
) -> HostResult:
    """Run a job (a command, or a task with `context`) that `started` (`time.monotonic()`) and
    turn what happens into a result."""
    from invoke.exceptions import CommandTimedOut, UnexpectedExit

    def result(
        outcome: Outcome, code: int | None, out: str, err: str, error: str = ""
    ) -> HostResult:
        return host_result(host_name, running, started, outcome, code, out, err, error)

    try:
        if job.kind == "task":
            value = job.task(context, **dict(job.args))
            return result(Outcome.SUCCESS, 0, value if isinstance(value, str) else "", "")
        res = run_command()
        if res.exited != 0 and job.timeout and time.monotonic() - started >= job.timeout:
            # the timer killed it, but the exit status won the race with invoke's timeout flag
            return result(
                Outcome.FAILURE, None, res.stdout, res.stderr, f"timed out after {job.timeout:g}s"
            )
        return result(
            Outcome.SUCCESS if res.exited == 0 else Outcome.FAILURE,
            res.exited,
            res.stdout,
            res.stderr,
        )
    except CommandTimedOut as exc:
        return result(
            Outcome.FAILURE,
            None,
            exc.result.stdout,
            exc.result.stderr,
            f"timed out after {exc.timeout:g}s",
        )
    except UnexpectedExit as exc:
        res = exc.result
        return result(
            Outcome.FAILURE, res.exited, res.stdout, res.stderr, f"command failed: {res.command}"
        )
    except FatalRunError:
        raise
    except Exception as exc:  # a task raised, or the connection broke: report, never a traceback
        message = str(exc) if isinstance(exc, SopError) else f"{type(exc).__name__}: {exc}"
        return result(Outcome.FAILURE, None, "", "", message)
