"""Test doubles for SOP authors and sop's own tests, as invoke ships `MockContext`: a scripted
responder, a recording sink, a fake clock, and `run_sop` to walk an SOP file with them.

    result, recorder, clock = run_sop(path, prompter=ScriptedPrompter(("choose", "Done?", "d")))

Commands run for real on this machine (the local executor); `dry_run=True` runs nothing."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Sequence
from dataclasses import field
from pathlib import Path
from typing import Any

from sop import events as ev
from sop.executors import Executors, local_executor
from sop.executors.terminal import Tty
from sop.format.loader import load_sop
from sop.model import Input
from sop.records import dataclass
from sop.run.inputs import resolve_inputs
from sop.run.options import RunOptions, RunResult
from sop.run.runner import Runner
from sop.run.scope import Restored


@dataclass
class FakeClock:
    t: float = 1_700_000_000.0
    slept: list[float] = field(default_factory=list)

    def now(self) -> float:
        return self.t

    def monotonic(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t += seconds


class ScriptedPrompter:
    """Answers prompts from a script of (kind, expected text fragment, answer)."""

    def __init__(self, *script: tuple[str, str, Any], tty: Tty | None = None) -> None:
        """`tty`: the terminal an interactive step gets (e.g. one end of a pty pair)."""
        self.script = list(script)
        self.asked: list[tuple[str, str]] = []
        self.warnings: list[str] = []
        self.tty = tty

    def _next(self, kind: str, prompt: str) -> Any:
        self.asked.append((kind, prompt))
        if not self.script:
            raise AssertionError(f"unexpected {kind} prompt: {prompt!r}")
        want_kind, fragment, answer = self.script.pop(0)
        if (want_kind, fragment in prompt) != (kind, True):
            raise AssertionError(f"expected {want_kind} {fragment!r}, got {kind} {prompt!r}")
        if isinstance(answer, BaseException):
            raise answer
        return answer

    def ask(self, question: Input) -> str:
        return str(self._next("ask", question.help or question.name))

    def warn(self, message: str) -> None:
        """A refused value, before it is asked again: kept in `warnings`."""
        self.warnings.append(message)

    def choose(
        self, prompt: str, choices: Sequence[tuple[str, str]], default: str | None = None
    ) -> str:
        answer = self._next("choose", prompt)
        if answer not in [k for k, _ in choices]:
            raise AssertionError(f"answer {answer!r} is not one of {choices}")
        return str(answer)

    def text(self, prompt: str) -> str:
        return str(self._next("text", prompt))

    def edit(self, command: str) -> str:
        return str(self._next("edit", command))

    def terminal(self) -> Tty | None:
        return self.tty

    def wait(self, prompt: str, ready: Callable[[], bool]) -> bool:
        """The script's answer: "q" pauses; a callable (say, one that writes an approval) is
        called, then `ready()` is asked once and must hold."""
        answer = self._next("wait", prompt)
        if answer == "q":
            return False
        answer()
        if not ready():
            raise AssertionError(f"still waiting after the scripted answer: {prompt!r}")
        return True


class Recorder:
    def __init__(self) -> None:
        self.events: list[ev.Event] = []

    def emit(self, event: ev.Event) -> None:
        self.events.append(event)

    def of(self, kind: type) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]

    def text(self) -> str:
        return repr(self.events)


def write_sop(folder: Path, text: str, name: str = "sop.yaml") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return path


def run_sop(
    path: Path,
    *,
    prompter: ScriptedPrompter | None = None,
    inputs: dict[str, str] | None = None,
    environ: dict[str, str] | None = None,
    load_callee: Any = None,
    run_dir: Path | None = None,
    clock: FakeClock | None = None,
    restored: Restored | None = None,
    **options: Any,
) -> tuple[RunResult, Recorder, FakeClock]:
    """`run_dir`: where interactive sessions are recorded and approvals received (default:
    nowhere); `clock`: the clock the run reads (default: a new FakeClock); `restored`: what a
    resumed run knows from before."""
    sop = load_sop(path)
    resolved = resolve_inputs(
        sop, inputs or {}, secret_files={}, environ=environ or {}, asker=prompter
    )
    recorder = Recorder()
    clock = clock or FakeClock()
    runner = Runner(
        sop,
        resolved,
        inventory=None,
        prompter=prompter,
        executors=Executors({"local": local_executor}),
        sinks=[recorder],
        clock=clock,
        environ=environ or {},
        options=RunOptions(operator="tester", **options),
        load_callee=load_callee,
        run_dir=run_dir,
        restored=restored,
    )
    result = runner.run()
    if prompter is not None and prompter.script:
        raise AssertionError(f"prompts left unanswered: {prompter.script}")
    return result, recorder, clock
