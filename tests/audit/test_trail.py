"""A real run's audit trail: private files, durable records before commands, verify, report,
resume and its lock, refusal of unsafe state directories, and a full disk."""

from __future__ import annotations

import json
import os
import resource
import secrets
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SOP = Path(sys.executable).parent / "sop"
# a command that runs until the test kills it, spelled so that `pkill -f` finds this process
# and no other test's (a resume whose reason says "sleep 30" was killed by another's pkill)
SLEEP = f"sleep 30.{secrets.randbelow(10**6):06d}"


def sop_file(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "sop.yaml"
    path.write_text(textwrap.dedent(body))
    return path


def run(args: list[str], env: dict[str, str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SOP), *args], capture_output=True, text=True, env=env, **kwargs)  # type: ignore[call-overload,no-any-return]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "SOP_STATE_DIR": str(tmp_path / "state"),
        "SOP_AUDIT_KEYS": str(tmp_path / "keys"),
        "COLUMNS": "200",
    }


def only_run(env: dict[str, str]) -> Path:
    runs = list((Path(env["SOP_STATE_DIR"]) / "runs").iterdir())
    assert len(runs) == 1
    return runs[0]


MARKERS = """\
sop: 1
id: markers
title: Markers
owner: t
reviewed: 2026-11-20
steps:
  - id: one
    run: touch {d}/one
  - id: two
    script: |
      touch {d}/two
      echo made two
  - id: three
    run: touch {d}/three
"""


def test_a_run_leaves_a_private_verified_log_with_a_record_before_each_command(
    tmp_path: Path, env: dict[str, str]
) -> None:
    path = sop_file(tmp_path, MARKERS.format(d=tmp_path))
    proc = run(["run", "--yes", str(path), "--incident", "INC-7"], env)
    assert proc.returncode == 0, proc.stderr
    run_dir = only_run(env)
    assert oct(run_dir.stat().st_mode & 0o777) == "0o700"
    assert oct((run_dir / "audit.jsonl").stat().st_mode & 0o777) == "0o600"
    assert oct(Path(env["SOP_STATE_DIR"]).stat().st_mode & 0o777) == "0o700"
    records = [json.loads(line) for line in (run_dir / "audit.jsonl").read_text().splitlines()]
    actions = [r["event"]["action"] for r in records]
    for step in ("one", "two", "three"):
        started = next(
            i
            for i, r in enumerate(records)
            if r["event"]["action"] == "command-started" and r["sop"]["step"] == step
        )
        confirmed = next(
            i
            for i, r in enumerate(records)
            if r["event"]["action"] == "step-confirmed" and r["sop"]["step"] == step
        )
        finished = next(
            i
            for i, r in enumerate(records)
            if r["event"]["action"] == "host-finished" and r["sop"]["step"] == step
        )
        assert confirmed < started < finished
    assert actions[0] == "run-started" and actions[-2:] == ["run-finished", "seal"]
    assert {r["labels"]["incident"] for r in records} == {"INC-7"}
    head = f"{records[-1]['event']['sequence']}:{records[-1]['event']['hash']}"
    assert f"head {head}" in proc.stdout
    verify = run(["audit", "verify", run_dir.name, "--anchor", head], env)
    seals = sum(r["event"]["action"] == "seal" for r in records)
    assert (verify.returncode, verify.stdout, verify.stderr) == (
        0,
        f"ok: {len(records)} records, head {head}, {seals} seal(s) verified\n",
        "",
    )
    two = next(
        r for r in records if r["event"]["action"] == "host-finished" and r["sop"]["step"] == "two"
    )
    assert two["sop"]["output"]["tail"] == "made two\n" and two["process"]["exit_code"] == 0
    assert two["event"]["duration"] > 0 and two["sop"]["target"]["name"] == "local"
    assert two["host"]["name"] == socket.gethostname()  # the machine sop ran on


def test_report_and_runs_and_show(tmp_path: Path, env: dict[str, str]) -> None:
    path = sop_file(tmp_path, MARKERS.format(d=tmp_path))
    assert run(["run", "--yes", str(path)], env).returncode == 0
    run_id = only_run(env).name
    listing = run(["runs"], env).stdout.splitlines()
    assert listing[0].split() == [
        "RUN",
        "SOP",
        "STARTED",
        "OPERATOR",
        "INCIDENT",
        "KIND",
        "STATUS",
    ]
    assert listing[1].startswith(run_id) and listing[1].split()[-2:] == ["finished:", "success"]
    markdown = run(["report", run_id], env).stdout
    assert markdown.startswith("# Incident timeline: Markers\n")
    assert "- Audit log: **ok: " in markdown and "seal(s) verified**" in markdown
    # a command is inline code around escaped text (`_` of the pytest folder escaped)
    escaped = str(tmp_path).replace("_", "\\_")
    assert f"| <code>touch {escaped}/three</code> |" in markdown
    timeline = json.loads(run(["report", run_id, "--format", "json"], env).stdout)
    assert timeline["verification"]["ok"] is True
    assert timeline["verification"]["status"] == "verified"
    assert [row["action"] for row in timeline["timeline"]][-1] == "run-finished"
    table = run(["audit", "show", run_id], env).stdout
    assert "command-started" in table


def test_runs_names_a_log_whose_seals_do_not_verify(tmp_path: Path, env: dict[str, str]) -> None:
    """A writer of the state directory can plant a log that claims anything; `sop runs` says
    which logs it cannot vouch for, and why."""
    path = sop_file(tmp_path, MARKERS.format(d=tmp_path))
    assert run(["run", "--yes", str(path)], env).returncode == 0
    run_id = only_run(env).name
    (Path(env["SOP_AUDIT_KEYS"]) / f"{run_id}.key").unlink()
    listing = run(["runs"], env).stdout.splitlines()
    assert listing[1].startswith(run_id)
    assert listing[1].endswith(
        "finished: success (untrusted: no verification key: its seals cannot be checked)"
    )


def test_a_tampered_log_fails_verify_and_is_refused_by_resume(
    tmp_path: Path, env: dict[str, str]
) -> None:
    path = sop_file(tmp_path, MARKERS.format(d=tmp_path))
    run(["run", "--yes", str(path)], env)
    run_dir = only_run(env)
    log = run_dir / "audit.jsonl"
    lines = log.read_text().splitlines(keepends=True)
    finished = next(i for i, line in enumerate(lines) if '"run-finished"' in line)
    lines = lines[:finished]  # drop the end: the run looks unfinished
    lines[4] = lines[4].replace("touch", "tuch")
    log.write_text("".join(lines))
    verify = run(["audit", "verify", str(log)], env)
    assert verify.returncode == 1
    assert verify.stdout == f"{log}: line 5: edited: the record does not match its hash\n"
    resume = run(["resume", "--yes", run_dir.name], env)
    assert resume.returncode == 1
    assert (
        "does not verify (line 5: edited: the record does not match its hash; line "
        in resume.stderr
    )
    assert "it was cut back or rolled back); sop will not resume" in resume.stderr


@pytest.mark.parametrize("unsafe", ["symlink", "world-writable"])
def test_unsafe_state_directories_are_refused_before_anything_runs(
    tmp_path: Path, env: dict[str, str], unsafe: str
) -> None:
    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    state = tmp_path / "state"
    if unsafe == "symlink":
        state.symlink_to(real)
        expected = f"sop: error: state directory {state} is a symbolic link; sop refuses it"
    else:
        state.mkdir()
        state.chmod(0o777)
        expected = f"sop: error: state directory {state} is writable by other users; run `chmod o-w {state}` first"
    path = sop_file(tmp_path, MARKERS.format(d=tmp_path))
    proc = run(["run", "--yes", str(path)], env)
    assert proc.returncode == 1
    assert proc.stderr.startswith(expected)
    assert not (tmp_path / "one").exists()


def test_full_disk_stops_the_run_before_the_next_command(
    tmp_path: Path, env: dict[str, str]
) -> None:
    path = sop_file(tmp_path, MARKERS.format(d=tmp_path))

    def small_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (9000, 9000))

    proc = run(["run", "--yes", str(path)], env, preexec_fn=small_files)
    assert proc.returncode == 1
    run_dir = only_run(env)
    log = run_dir / "audit.jsonl"
    why = (
        f"cannot write the audit log {log}: File too large; the run stopped before the next "
        "command. The records written before are kept: once the log can be written again, "
        f"`sop resume {run_dir.name}` goes on"
    )
    assert proc.stderr == f"sop: error: {why}\n"
    written = log.read_bytes()
    records = [json.loads(line) for line in written.splitlines() if line.endswith(b"}")]
    announced = {r["sop"]["step"] for r in records if r["event"]["action"] == "command-started"}
    ran = {name for name in ("one", "two", "three") if (tmp_path / name).exists()}
    assert ran <= announced  # every command that ran was announced by a durable record first
    assert ran != {"one", "two", "three"}

    # not "crashed" without a word: `sop runs` says why it stopped, and that it can go on
    listing = run(["runs"], env)
    assert listing.stdout.splitlines()[1].endswith(f"  run   stopped: {why}")
    # what was written stays: every whole record verifies, only the cut-off last line is torn
    verify = run(["audit", "verify", run_dir.name], env)
    if not written.endswith(b"\n"):  # the write the limit cut short (unless it fell between two)
        assert verify.returncode == 1
        assert verify.stdout + verify.stderr == (
            f"{log}: line {len(records) + 1}: torn: the last line is incomplete (a crash while "
            "writing?)\n"
        )
    # once the log can be written, resume goes on from those records (the torn line cut off)
    resumed = run(["resume", run_dir.name, "--yes"], env)
    assert "is in doubt: it started and never finished" in resumed.stdout  # decided at a terminal
    kept = written[: written.rindex(b"\n") + 1]
    assert log.read_bytes().startswith(kept)
    assert run(["audit", "verify", run_dir.name], env).returncode == 0
    assert "  run   paused: --yes stopped at step " in run(["runs"], env).stdout


RESUMABLE = """\
sop: 1
id: resumable
title: Resumable
owner: t
reviewed: 2026-11-20
steps:
  - id: first
    run: echo hello
    capture: greeting
  - id: stop
    run: exit 3
  - id: last
    run: printf '%s' {{{{ greeting.strip() }}}} > {d}/last
"""


def test_resume_continues_after_the_last_finished_step(tmp_path: Path, env: dict[str, str]) -> None:
    path = sop_file(tmp_path, RESUMABLE.format(d=tmp_path).replace("exit 3", SLEEP))
    proc = subprocess.Popen(
        [str(SOP), "run", "--yes", str(path)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    log = wait_for_text(env, f"command-started&{SLEEP}")
    proc.kill()  # SIGKILL during step 'stop': 'first' finished, 'stop' is in doubt
    proc.wait()
    subprocess.run(["pkill", "-f", SLEEP], check=False)
    run_dir = log.parent
    with log.open("ab") as handle:
        handle.write(b'{"seq": 999, "tor')  # and the crash tore the last line
    path.write_text(path.read_text().replace(SLEEP, "true"))
    refused = run(["resume", "--yes", run_dir.name], env)
    assert refused.returncode == 1
    assert "changed since run" in refused.stderr and "--sop-changed REASON" in refused.stderr
    in_doubt = run(
        ["resume", "--yes", "--sop-changed", "the long sleep was a mistake", run_dir.name], env
    )
    assert in_doubt.returncode == 1
    assert "step 2 (stop) is in doubt: it started and never finished" in in_doubt.stderr
    records = [json.loads(line) for line in log.read_text().splitlines()]
    actions = [r["event"]["action"] for r in records]
    assert actions.count("repaired") == 1 and "sop-changed" in actions and "run-resumed" in actions
    assert run(["audit", "verify", run_dir.name], env).returncode == 0
    assert not (tmp_path / "last").exists()
    # in a terminal, the responder runs the step in doubt again; the capture of step 1 is restored
    from sop.events import SystemClock
    from sop.run.launch import RunRequest, resume
    from sop.run.options import RunOptions
    from sop.run.testing import Recorder, ScriptedPrompter

    prompter = ScriptedPrompter(
        ("choose", "In doubt. What now?", "r"),
        ("choose", "Run on local?", "r"),
        ("choose", "Run on local?", "r"),
    )
    for key in ("SOP_STATE_DIR", "SOP_AUDIT_KEYS"):
        os.environ[key] = env[key]
    try:
        launched = resume(
            run_dir.name,
            RunRequest(sop="", options=RunOptions(operator="tester")),
            prompter=prompter,
            asker=None,
            sinks=[Recorder()],
            clock=SystemClock(),
        )
    finally:
        for key in ("SOP_STATE_DIR", "SOP_AUDIT_KEYS"):
            os.environ.pop(key)
    assert launched.result.outcome == "success"
    assert (tmp_path / "last").read_text() == "hello"
    assert run(["audit", "verify", run_dir.name], env).returncode == 0


def wait_for_text(env: dict[str, str], text: str) -> Path:
    """The log of the only run, once a line holds `text` (or every part of "a&b")."""
    import time

    runs = Path(env["SOP_STATE_DIR"]) / "runs"
    for _ in range(200):
        logs = list(runs.glob("*/audit.jsonl")) if runs.is_dir() else []
        if logs and any(
            all(t in line for t in text.split("&")) for line in logs[0].read_text().splitlines()
        ):
            return logs[0]
        time.sleep(0.05)
    raise AssertionError(f"no run log with {text!r}")


def test_a_second_process_cannot_drive_a_locked_run(tmp_path: Path, env: dict[str, str]) -> None:
    path = sop_file(tmp_path, RESUMABLE.format(d=tmp_path).replace("exit 3", SLEEP))
    holder = subprocess.Popen(
        [str(SOP), "run", "--yes", str(path)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_text(env, SLEEP)
        run_dir = only_run(env)
        second = run(["resume", "--yes", run_dir.name], env)
        assert second.returncode == 1
        assert (
            f"sop: error: run {run_dir.name} is being driven by pid {holder.pid} on "
            in second.stderr
        )
        assert run(["runs"], env).stdout.splitlines()[1].endswith("run   live")
    finally:
        holder.kill()
        holder.wait()
        subprocess.run(["pkill", "-f", SLEEP], check=False)
    # killed: no end record, and the kernel dropped its lock
    assert run(["runs"], env).stdout.splitlines()[1].endswith("run   crashed")


def test_another_operator_resumes_and_a_handover_record_names_both(
    tmp_path: Path, env: dict[str, str]
) -> None:
    paused = RESUMABLE.replace("    run: exit 3", "    confirm: always\n    run: 'true'")
    path = sop_file(tmp_path, paused.format(d=tmp_path))
    alice = {**env, "USER": "alice", "LOGNAME": "alice"}
    assert run(["run", "--yes", str(path)], alice).returncode == 1  # 'stop' waits for a yes
    run_dir = only_run(env)
    log = run_dir / "audit.jsonl"
    bob = {**env, "USER": "bob", "LOGNAME": "bob"}
    resumed = run(["resume", "--yes", "--confirm", "stop", run_dir.name], bob)
    assert resumed.returncode == 0, resumed.stderr
    records = [json.loads(line) for line in log.read_text().splitlines()]
    handover = next(r for r in records if r["event"]["action"] == "handover")
    assert handover["sop"]["from"] == "alice" and handover["sop"]["to"] == "bob"
    assert handover["message"] == "alice handed the run over to bob"
    assert {r["sop"]["operator"] for r in records} == {"alice", "bob"}  # the names they claim
    assert {r["user"]["id"] for r in records} == {str(os.getuid())}  # the OS's word
    assert run(["audit", "verify", run_dir.name], bob).returncode == 0


def test_an_inventory_given_on_the_command_line_is_the_one_targets_are_checked_against(
    tmp_path: Path, env: dict[str, str]
) -> None:
    """Not only the inventory beside the SOP: lint before the run uses --inventory too."""
    path = sop_file(
        tmp_path, MARKERS.format(d=tmp_path).replace("steps:", "on: local-group\nsteps:")
    )
    inventory = tmp_path / "elsewhere" / "hosts.yaml"
    inventory.parent.mkdir()
    inventory.write_text("hosts: {}\ngroups:\n  local-group: [local]\n")
    proc = run(["run", "--yes", str(path), "--inventory", str(inventory)], env)
    assert proc.returncode == 0, proc.stderr
    assert all((tmp_path / name).exists() for name in ("one", "two", "three"))


def test_every_record_parses_with_jq(tmp_path: Path, env: dict[str, str]) -> None:
    path = sop_file(tmp_path, MARKERS.format(d=tmp_path))
    assert run(["run", "--yes", str(path)], env).returncode == 0
    log = only_run(env) / "audit.jsonl"
    proc = subprocess.run(
        ["jq", "-c", "."], input=log.read_text(), capture_output=True, text=True, check=True
    )
    assert len(proc.stdout.splitlines()) == len(log.read_text().splitlines())
    actions = subprocess.run(
        ["jq", "-r", ".event.action"], stdin=log.open(), capture_output=True, text=True, check=True
    ).stdout.split()
    assert actions[0] == "run-started" and "command-started" in actions


def test_a_crash_between_recording_the_first_state_and_writing_it_still_resumes(
    tmp_path: Path, env: dict[str, str]
) -> None:
    """Found by the SIGKILL test: the state-saved record is durable before state.json is written."""
    path = sop_file(tmp_path, RESUMABLE.format(d=tmp_path).replace("exit 3", SLEEP))
    proc = subprocess.Popen(
        [str(SOP), "run", "--yes", str(path)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    log = wait_for_text(env, f"command-started&{SLEEP}")
    proc.kill()
    proc.wait()
    subprocess.run(["pkill", "-f", SLEEP], check=False)
    (log.parent / "state.json").unlink()
    lines = log.read_text().splitlines(keepends=True)
    assert sum('"state-saved"' in line for line in lines) == 1
    resumed = run(["resume", "--yes", log.parent.name], env)
    assert "state.json is missing" not in resumed.stderr
    assert "step 2 (stop) is in doubt" in resumed.stderr  # it got as far as deciding about step 2


def test_a_run_killed_before_its_first_seal_has_nothing_to_resume(
    tmp_path: Path, env: dict[str, str]
) -> None:
    path = sop_file(tmp_path, MARKERS.format(d=tmp_path))
    run(["run", "--yes", str(path)], env)
    log = only_run(env) / "audit.jsonl"
    log.write_text(
        log.read_text().splitlines(keepends=True)[0]
    )  # as if killed right after run-started: before the first seal and its escrowed head
    (Path(env["SOP_AUDIT_KEYS"]) / f"{log.parent.name}.head").unlink()
    proc = run(["resume", "--yes", log.parent.name], env)
    assert (proc.returncode, proc.stderr) == (
        1,
        f"sop: error: run {log.parent.name} stopped before its first step (nothing ran); start a new run\n",
    )


def test_a_run_handed_back_names_the_operator_it_came_from(
    tmp_path: Path, env: dict[str, str]
) -> None:
    twice = RESUMABLE.replace("    run: exit 3", "    confirm: always\n    run: 'true'")
    twice = twice.replace("  - id: last\n", "  - id: last\n    confirm: always\n")
    path = sop_file(tmp_path, twice.format(d=tmp_path))
    alice = {**env, "USER": "alice", "LOGNAME": "alice"}
    bob = {**env, "USER": "bob", "LOGNAME": "bob"}
    assert run(["run", "--yes", str(path)], alice).returncode == 1
    run_dir = only_run(env)
    assert run(["resume", "--yes", "--confirm", "stop", run_dir.name], bob).returncode == 1
    back = run(["resume", "--yes", "--confirm", "last", run_dir.name], alice)
    assert back.returncode == 0, back.stderr
    records = [json.loads(line) for line in (run_dir / "audit.jsonl").read_text().splitlines()]
    handovers = [r["message"] for r in records if r["event"]["action"] == "handover"]
    assert handovers == ["alice handed the run over to bob", "bob handed the run over to alice"]


def test_a_manual_step_a_yes_run_passed_is_unattended_in_the_report(
    tmp_path: Path, env: dict[str, str]
) -> None:
    path = sop_file(
        tmp_path,
        """\
        sop: 1
        id: manual
        title: Manual
        steps:
          - id: look
            prose: Open the dashboard.
        """,
    )
    ran = run(["run", "--yes", str(path)], env)
    assert (
        ran.returncode == 0
        and "○ unattended: --yes: nobody confirmed doing this manual step" in ran.stdout
    )
    markdown = run(["report", only_run(env).name], env).stdout
    deviations = markdown.split("## Deviations\n\n")[1].strip().splitlines()
    assert [line.split(" ", 2)[2] for line in deviations] == [
        "step 1 Open the dashboard.: --yes: nobody confirmed doing this manual step"
    ]


def test_a_resumed_run_has_the_results_of_the_steps_it_finished_before(
    tmp_path: Path, env: dict[str, str]
) -> None:
    path = sop_file(
        tmp_path,
        """\
        sop: 1
        id: branch
        title: Branch
        steps:
          - id: check
            run: echo two members; exit 3
            ok_exit: [0, 3]
          - id: gate
            when: steps.check.exit_code == 3
            run: echo "saw" {{ steps.check.exit_code }} {{ steps.check.stdout }}
            confirm: always
        """,
    )
    first = run(["run", "--yes", str(path)], env)
    assert first.returncode != 0 and "--confirm gate" in first.stderr
    resumed = run(["resume", only_run(env).name, "--yes", "--confirm", "gate"], env)
    assert resumed.returncode == 0, resumed.stderr
    assert "saw 3 two members" in resumed.stdout
