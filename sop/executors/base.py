"""What every executor offers the runner: run one job on one host, stop what is running."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import field, replace
from typing import Any, Protocol, runtime_checkable

from sop.events import HostReached, Outcome
from sop.model import Host, env_name
from sop.records import dataclass

OutputCallback = Callable[[str, str], None]  # (stream, text)
CommandCallback = Callable[[str], None]  # a command a task is about to run


@dataclass(frozen=True)
class Job:
    """One executable step, rendered, ready for one or more hosts."""

    kind: str  # "run" | "script" | "task"
    command: str  # the rendered command or script; for a task, how it is called
    env: Mapping[str, str] = field(default_factory=dict)  # SOP_RUN_ID, TRACEPARENT, ...
    # only the secrets this step uses (`sop.model.step_secrets`), as SOP_SECRET_<NAME>
    secrets: Mapping[str, str] = field(default_factory=dict)
    timeout: float | None = None
    task: Any = None  # an invoke Task, for task steps
    args: Mapping[str, Any] = field(default_factory=dict)
    step_id: str = ""
    sop_id: str = ""  # the SOP the step belongs to (a called SOP's, inside a call)
    strict: bool = False  # run with `set -eu` (a script step, unless it says `strict: false`)
    stdin: str | None = None  # what the command reads on stdin (else /dev/null)
    ok_exit: tuple[int, ...] = (0,)  # the exit codes that mean success (`ok_exit:`)


@dataclass(frozen=True)
class HostResult:
    host: str
    outcome: Outcome  # SUCCESS | FAILURE | INTERRUPTED
    exit_code: int | None
    stdout: str
    stderr: str
    duration: float
    error: str = ""  # why, when there is no exit code (unreachable, timeout, task raised)
    note: str = ""  # how a success ended other than by exiting 0 (an interactive session)

    @property
    def ok(self) -> bool:
        return self.outcome == Outcome.SUCCESS

    def judged(self, ok_exit: tuple[int, ...]) -> HostResult:
        """This result as a step with `ok_exit` sees it: a command that exited with one of those
        codes succeeded, with any other failed. A result without an exit code (unreachable,
        timed out, interrupted) or with an error stays as it is."""
        if self.exit_code is None or self.error or self.outcome == Outcome.INTERRUPTED:
            return self
        ok = self.exit_code in ok_exit
        if ok == self.ok:
            return self
        return replace(self, outcome=Outcome.SUCCESS if ok else Outcome.FAILURE)


class Executor(Protocol):
    """Runs jobs. Must be safe to call from several threads at once (one per host)."""

    def execute(
        self, job: Job, host: Host, output: OutputCallback, on_command: CommandCallback
    ) -> HostResult: ...

    def interrupt(self) -> None:
        """SIGTERM to every command this executor is running now (the first Ctrl-C)."""

    def kill(self) -> None:
        """SIGKILL to every command this executor is running now (the second Ctrl-C)."""

    def close(self) -> None:
        """Release connections; the run is over."""


@runtime_checkable
class Connecting(Protocol):
    """An executor that opens something before it can run on a host (SSH: a connection).
    The pre-flight asks it to open that now, for every host the run targets."""

    def check(self, host: Host) -> HostReached:
        """Open what running on `host` needs and keep it for the run; how it went (never
        raises for the host's fault)."""


def secret_env(secrets: Mapping[str, str]) -> dict[str, str]:
    return {env_name(name): value for name, value in secrets.items()}
