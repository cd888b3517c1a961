"""A run whose output can no longer be written (`sop run --yes sop | head`, a terminal that hung
up, stdout into a file on a full disk) pauses where it found out: its audit log holds every
record, nothing after that point runs, and `sop resume` goes on. It used to end as a crash
("internal error: BrokenPipeError"), the run listed as crashed."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO

import pytest

from sop import events as ev
from sop.audit.actions import Action
from sop.audit.reader import read_run
from sop.cli.output import HUNG_UP, Outlets
from sop.errors import ExitCode, OutputClosed
from sop.events import SystemClock
from sop.run.launch import RunRequest, launch
from sop.run.options import RunOptions
from tests.conftest import REPO

Said = subprocess.CompletedProcess[str]

THREE_STEPS = """\
sop: 1
id: three
title: Three steps
owner: team
reviewed: 2026-11-01
steps:
  - id: first
    run: echo first-step-ran; touch {d}/first
  - id: second
    run: printf '%s-%s\\n' second started; sleep 0.5; seq 1 20000; touch {d}/second
  - id: third
    run: touch {d}/third
"""


class _Broken(io.StringIO):
    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")


def test_the_first_failed_write_tells_the_main_thread_once_and_the_rest_is_thrown_away() -> None:
    out = Outlets().wrap(_Broken())
    with pytest.raises(OutputClosed, match="Broken pipe"):
        out.write("a line\n")
    assert isinstance(out.failure, BrokenPipeError)
    assert out.write("more\n") == 5  # thrown away, no second exception
    out.flush()


def test_other_threads_never_raise_and_the_main_thread_is_told_at_its_next_write() -> None:
    """A host's output (its own thread) finds the pipe closed: the host's command goes on;
    the main thread hears of it at its next write (the run pauses between steps)."""
    out = Outlets().wrap(_Broken())
    raised: list[BaseException] = []

    def host() -> None:
        try:
            out.write("host output\n")
            out.flush()
        except BaseException as exc:
            raised.append(exc)

    thread = threading.Thread(target=host)
    thread.start()
    thread.join()
    assert raised == []
    assert out.failure is not None
    with pytest.raises(OutputClosed):
        out.write("step finished\n")
    out.write("run paused\n")


def test_a_full_disk_closes_it_too_and_the_stream_answers_for_the_rest() -> None:
    with open(os.devnull, "w") as stream:
        out = Outlets().wrap(stream)
        assert out.fileno() == stream.fileno()
        assert out.isatty() is False
    full = open("/dev/full", "w", buffering=1)  # noqa: SIM115 (its close fails: the disk is full)
    out = Outlets().wrap(full)
    with pytest.raises(OutputClosed, match="No space left on device"):
        out.write("x\n")
    with contextlib.suppress(OSError):
        full.close()


def test_stdout_and_stderr_close_together_and_tell_once() -> None:
    outlets = Outlets()
    stdout, stderr = outlets.wrap(io.StringIO()), outlets.wrap(_Broken())
    with pytest.raises(OutputClosed):
        stderr.write("warning: ...\n")
    assert stdout.write("the next step\n") == 14  # closed with it: thrown away, told already
    assert stdout._stream.getvalue() == ""  # type: ignore[attr-defined]


def test_a_hang_up_closes_them_before_any_write_finds_out() -> None:
    outlets = Outlets()
    stdout = outlets.wrap(io.StringIO())
    outlets.hang_up()
    with pytest.raises(OutputClosed, match=HUNG_UP):
        stdout.write("Step 2\n")


def test_in_use_routes_every_write_through_them_and_sighup_hangs_up() -> None:
    outlets = Outlets()
    out, err = io.StringIO(), io.StringIO()
    stdout, stderr = outlets.wrap(out), outlets.wrap(err)
    before = sys.stdout, sys.stderr, signal.getsignal(signal.SIGHUP)
    with outlets.in_use(stdout, stderr):
        assert (sys.stdout, sys.stderr) == (stdout, stderr)
        print("through stdout")
        os.kill(os.getpid(), signal.SIGHUP)  # sop survives it: the handler closes the outlets
        assert outlets.failure is not None and outlets.failure.strerror == HUNG_UP
        with pytest.raises(OutputClosed, match=HUNG_UP):
            print("after the hang-up")
    assert (sys.stdout, sys.stderr, signal.getsignal(signal.SIGHUP)) == before
    assert out.getvalue() == "through stdout\n"


class _ClosesAt(ev.Sink):
    """A terminal that closes when the step `at` is shown; listed before the audit log."""

    def __init__(self, at: str) -> None:
        self.at = at

    def emit(self, event: ev.Event) -> None:
        if isinstance(event, ev.StepShown) and event.step.id == self.at:
            raise OutputClosed("Broken pipe")


def test_the_audit_log_has_the_record_the_terminal_failed_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The audit log is given each event before any other sink, whatever their order: a
    terminal failing on an event loses no record of it."""
    monkeypatch.setenv("SOP_AUDIT_KEYS", str(tmp_path / "keys"))
    path = tmp_path / "three.yaml"
    path.write_text(THREE_STEPS.format(d=tmp_path))
    launched = launch(
        RunRequest(str(path), state_dir=tmp_path / "state", options=RunOptions(yes=True)),
        prompter=None,
        asker=None,
        sinks=[_ClosesAt("second")],
        clock=SystemClock(),
    )
    assert launched.result.paused is ev.PauseHow.OUTPUT_CLOSED
    assert launched.result.exit_code == ExitCode.OUTPUT_CLOSED
    assert launched.run_dir is not None
    entries = [e for e in read_run(launched.run_dir) if e.action != Action.SEAL]
    assert [(e.action, e.step_id) for e in entries[-2:]] == [
        (Action.STEP_SHOWN, "second"),
        (Action.RUN_PAUSED, "second"),
    ]
    assert entries[-1].reason == "its output could not be written (Broken pipe) at step 2 (second)"
    assert (tmp_path / "first").exists()
    assert not (tmp_path / "second").exists()


def _sop(*args: str, env: dict[str, str], stdout: int | IO[str] = subprocess.PIPE) -> Said:
    return subprocess.run(
        [sys.executable, "-m", "sop", *args],
        env=env,
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        timeout=120,
        cwd=REPO,
    )


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "three.yaml").write_text(THREE_STEPS.format(d=tmp_path))
    return {
        **os.environ,
        "SOP_STATE_DIR": str(tmp_path / "state"),
        "SOP_AUDIT_KEYS": str(tmp_path / "keys"),
        "COLUMNS": "80",
    }


def _paused_run(tmp_path: Path, env: dict[str, str], stderr: str) -> str:
    """The run's id, after checking that `sop runs` lists it paused, that its log verifies,
    and that stderr said how to resume it."""
    listed = json.loads(_sop("runs", "--format", "json", env=env).stdout)
    (run,) = listed
    assert run["status"].startswith("paused: its output could not be written ("), run
    assert f"sop: run {run['run']} paused: its output could not be written; " in stderr
    assert stderr.rstrip().endswith(f"resume with: sop resume {run['run']}")
    assert "internal error" not in stderr
    verified = _sop("audit", "verify", run["run"], env=env)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    return str(run["run"])


def _resumed(tmp_path: Path, env: dict[str, str], run_id: str) -> None:
    resumed = _sop("resume", run_id, "--yes", env=env)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert all((tmp_path / name).exists() for name in ("first", "second", "third"))


def test_a_pipe_whose_reader_leaves_mid_step_pauses_the_run_after_that_step(
    tmp_path: Path, env: dict[str, str]
) -> None:
    """`sop run --yes sop | head`: the reader leaves while step 2's host prints; the command
    goes on to its end as confirmed (its result audited), step 3 never starts, status 141."""
    process = subprocess.Popen(
        [sys.executable, "-m", "sop", "run", "--yes", str(tmp_path / "three.yaml")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=REPO,
    )
    assert process.stdout is not None and process.stderr is not None
    seen = b""
    while b"second-started" not in seen:
        line = process.stdout.readline()
        assert line, seen.decode()
        seen += line
    process.stdout.close()  # as `head` does once it has its lines
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=120) == ExitCode.OUTPUT_CLOSED, stderr
    run_id = _paused_run(tmp_path, env, stderr)
    assert (tmp_path / "second").exists()  # the confirmed command ran to its end
    assert not (tmp_path / "third").exists()
    entries = [e for e in read_run(tmp_path / "state" / "runs" / run_id) if e.action != "seal"]
    finished = [e.step_id for e in entries if e.action == Action.STEP_FINISHED]
    assert finished == ["first", "second"]
    assert entries[-1].action == Action.RUN_PAUSED
    _resumed(tmp_path, env, run_id)


def test_stdout_into_a_file_on_a_full_disk_pauses_the_run_before_anything_runs(
    tmp_path: Path, env: dict[str, str]
) -> None:
    with open("/dev/full", "w") as full:
        said = _sop("run", "--yes", str(tmp_path / "three.yaml"), env=env, stdout=full)
    assert said.returncode == ExitCode.OUTPUT_CLOSED, said.stderr
    run_id = _paused_run(tmp_path, env, said.stderr)
    assert not (tmp_path / "first").exists()
    _resumed(tmp_path, env, run_id)
