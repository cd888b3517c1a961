"""`sop run --yes` (the real CLI, in a child process) against real OpenSSH servers.

The fixture hosts h01..h04 are this machine on 127.0.0.2..5; `mark` (see rundir.py) records
which host ran what. Commands write their arguments NUL-separated (`printf '%s\\0'`), so a test
compares the exact bytes a command received.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from sop.audit.reader import read_run
from sop.audit.state import find_run_dir

from .rundir import RunDir
from .sshd import SshdHosts

HEADER = {"sop": 1, "title": "Test", "owner": "team", "reviewed": "2026-11-01"}
TRACEPARENT = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-01")


def sop_yaml(sop_id: str, **fields: Any) -> str:
    return yaml.safe_dump({**HEADER, "id": sop_id, **fields}, sort_keys=False, width=1000)


def nul_split(path: Path) -> list[str]:
    """The arguments a `printf '%s\\0' ARGS > path` received."""
    data = path.read_bytes()
    assert data.endswith(b"\0"), data[-50:]
    return [part.decode() for part in data[:-1].split(b"\0")]


@pytest.fixture
def rundir(tmp_path: Path, sshd_hosts: SshdHosts) -> RunDir:
    return RunDir.create(tmp_path / "runbooks", sshd_hosts)


@pytest.fixture
def pwned(tmp_path: Path) -> Iterator[Path]:
    """The file every injection payload tries to create; it must never exist."""
    path = tmp_path / "P"
    yield path
    assert not path.exists(), "an injection payload ran"


def corpus(pwned: Path) -> dict[str, str]:
    p = str(pwned)
    return {
        "semicolon": f";touch {p}",
        "subst": f"$(touch {p})",
        "backticks": f"`touch {p}`",
        "single_quotes": f"it's '; touch {p}; echo '",
        "double_quotes": f'say "hi"; touch "{p}"; "',
        "star": "*",
        "tilde": "~",
        "home": "$HOME",
        "newline": f"a\ntouch {p}\n",
        "jinja": "{{7*7}}",
        "jinja_block": "{% raw %}{{ run_id }}",
        "unicode": "ünïcødé ✓ 日本語 \u202e",
        "pipes": f"x | touch {p} && y > {p} & z",
        "spaces": "  two  spaces\tand a tab ",
        "backslash": "back\\slash \\n \\0",
        "escape": "\x1b]0;title\x07\x1b[31m red\r",
        "percent": "%s %d %n",
        "empty": "",
        "big": "0123456789abcdef" * 6400,  # 100 KiB: one argv string may not exceed 128 KiB
    }


# -- quoting: inputs and captured output reach the command as one literal argument ----------


@pytest.mark.parametrize("target", ["h01", "local"])
def test_input_values_reach_the_command_as_one_literal_argument_each(
    rundir: RunDir, pwned: Path, target: str
) -> None:
    values = corpus(pwned)
    names = list(values)
    out = rundir.path / "args"
    args = " ".join(f"{{{{ {name} }}}}" for name in names)
    sop = rundir.write_sop(
        sop_yaml(
            "quoting",
            inputs={name: {} for name in names},
            steps=[{"id": "echo", "on": target, "run": f"printf '%s\\0' {args} > {out}"}],
        )
    )
    given = [f"-i{name}={value}" for name, value in values.items()]

    proc = rundir.run(sop, "--yes", *given)

    assert proc.returncode == 0, proc.stderr + proc.stdout[-3000:]
    assert nul_split(out) == list(values.values())


@pytest.mark.parametrize("target", ["h01", "local"])
def test_captured_output_reused_in_a_later_step_is_one_literal_argument_each(
    rundir: RunDir, pwned: Path, target: str
) -> None:
    values = corpus(pwned)
    if target != "local":  # 1 MiB: too big for argv, not for a capture sent over SSH
        values["big"] = "0123456789abcdef\n" * 61681
    sources = rundir.path / "sources"
    sources.mkdir()
    steps: list[dict[str, Any]] = []
    for name, value in values.items():
        (sources / name).write_bytes(value.encode())
        steps.append({"id": f"cat-{name}", "on": target, "run": f"cat {sources / name}"})
        steps[-1]["capture"] = name
    out = rundir.path / "args"
    args = " ".join(f"{{{{ {name} }}}}" for name in values)
    steps.append({"id": "echo", "on": target, "run": f"printf '%s\\0' {args} > {out}"})
    sop = rundir.write_sop(sop_yaml("capture-quoting", steps=steps))

    proc = rundir.run(sop, "--yes")

    assert proc.returncode == 0, proc.stderr + proc.stdout[-3000:]
    received = nul_split(out)
    assert len(received) == len(values)
    for name, got in zip(values, received, strict=True):
        assert got == values[name], name


def test_an_input_beginning_with_a_dash_is_refused_and_nothing_runs(rundir: RunDir) -> None:
    sop = rundir.write_sop(
        sop_yaml(
            "dash",
            inputs={"path": {}},
            steps=[{"id": "rm", "on": "h01", "run": "@MARK@ rm {{ path }}"}],
        )
    )

    proc = rundir.run(sop, "--yes", "-i", "path=-rf")

    assert proc.returncode == 1
    assert proc.stderr == (
        "sop: error: input 'path': '-rf' begins with '-' and could be read as an option; "
        "the SOP must set `allow_dash: true` to accept it\n"
    )
    assert rundir.marks() == []


def test_an_input_with_allow_dash_may_begin_with_a_dash(rundir: RunDir) -> None:
    out = rundir.path / "args"
    sop = rundir.write_sop(
        sop_yaml(
            "dash-ok",
            inputs={"pattern": {"allow_dash": True}},
            steps=[{"id": "echo", "on": "h01", "run": f"printf '%s\\0' {{{{ pattern }}}} > {out}"}],
        )
    )

    proc = rundir.run(sop, "--yes", "-i", "pattern=-v; touch x")

    assert proc.returncode == 0, proc.stderr
    assert nul_split(out) == ["-v; touch x"]


def test_captured_output_beginning_with_a_dash_is_refused(rundir: RunDir) -> None:
    sop = rundir.write_sop(
        sop_yaml(
            "dash-capture",
            steps=[
                {"id": "produce", "on": "h01", "run": "echo -rf", "capture": "flags"},
                {"id": "use", "on": "h01", "run": "@MARK@ use {{ flags }}"},
                {"id": "after", "on": "h01", "run": "@MARK@ after"},
            ],
        )
    )

    proc = rundir.run(sop, "--yes")

    assert proc.returncode == 1
    assert "Cannot prepare this step: refusing to put '-rf" in proc.stdout
    assert "it begins with '-' and would be read as an option" in proc.stdout
    assert rundir.marks() == []


def test_a_failed_step_under_yes_stops_the_run_and_says_which_step_failed(
    rundir: RunDir,
) -> None:
    sop = rundir.write_sop(
        sop_yaml(
            "fails",
            steps=[
                {"id": "boom", "on": "h01", "run": "@MARK@ boom; exit 3"},
                {"id": "after", "on": "h01", "run": "@MARK@ after"},
            ],
        )
    )

    proc = rundir.run(sop, "--yes")

    assert proc.returncode == 1
    assert rundir.marks() == ["h01 boom"]
    assert "step 1 (boom) failed: h01: exit 3" in proc.stdout + proc.stderr


# -- host keys -------------------------------------------------------------------------------


def fingerprint(public_key: Path) -> str:
    out = subprocess.run(
        ["ssh-keygen", "-l", "-E", "sha256", "-f", str(public_key)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return out.split()[1]


def test_an_unknown_host_key_fails_the_run_with_its_fingerprint_and_runs_nothing(
    rundir: RunDir, sshd_hosts: SshdHosts
) -> None:
    empty = rundir.path / "known_hosts.empty"
    empty.write_text("")
    sop = rundir.write_sop(
        sop_yaml(
            "unknown-key",
            steps=[
                {"id": "first", "on": "h01", "run": "@MARK@ first"},
                {"id": "second", "run": "@MARK@ second"},
            ],
        )
    )

    proc = rundir.run(sop, "--yes", known_hosts=empty)

    assert proc.returncode == 1
    h01 = sshd_hosts.hosts[0]
    output = proc.stdout + proc.stderr
    assert re.search(  # the pre-flight's row for it: the run stops before any step
        rf"^h01 +\S+ +unknown key +unknown host key for \[{h01.address}\]:{h01.port}: "
        rf"ssh-ed25519 {re.escape(fingerprint(sshd_hosts.host_key_pub))}; refusing to connect.$",
        output,
        re.M,
    ), output
    assert "Run failure" in output
    assert rundir.marks() == []


def test_a_changed_host_key_is_fatal(rundir: RunDir, sshd_hosts: SshdHosts) -> None:
    impostor = sshd_hosts.start_impostor()
    rundir = RunDir.create(rundir.path, sshd_hosts, extra_hosts={"db": impostor})
    known = rundir.path / "known_hosts.genuine"
    known.write_text(sshd_hosts.known_hosts.read_text() + sshd_hosts.known_hosts_line(impostor))
    sop = rundir.write_sop(
        sop_yaml(
            "changed-key",
            steps=[
                {"id": "first", "on": "db", "run": "@MARK@ first"},
                {"id": "second", "on": "h01", "run": "@MARK@ second"},
            ],
        )
    )

    proc = rundir.run(sop, "--yes", known_hosts=known)

    assert proc.returncode == 1
    output = proc.stdout + proc.stderr
    name = f"[{impostor.address}]:{impostor.port}"
    offered = fingerprint(Path(f"{sshd_hosts.impostor_key(impostor)}.pub"))
    expected = fingerprint(sshd_hosts.host_key_pub)
    assert re.search(
        rf"^db +\S+ +key changed +HOST KEY CHANGED for {re.escape(name)}; refusing to connect.$",
        output,
        re.M,
    ), output
    assert f"The host offered     ssh-ed25519 {offered}" in output
    assert f"known_hosts expects  ssh-ed25519 {expected}" in output
    assert "Run failure" in output
    assert rundir.marks() == []


# -- timeouts --------------------------------------------------------------------------------


def running(pattern: str) -> list[str]:
    out = subprocess.run(["pgrep", "-a", "-f", pattern], capture_output=True, text=True).stdout
    return out.splitlines()


@pytest.fixture
def nap(tmp_path: Path) -> Iterator[Path]:
    """`sleep` under a name no other process has; whatever still runs it is killed after."""
    path = tmp_path / "nap"
    path.symlink_to("/bin/sleep")
    yield path
    for line in running(f"{path} "):
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(line.split()[0]), signal.SIGKILL)


@pytest.mark.parametrize("target", ["h01", "local"])
def test_a_timeout_stops_the_command(rundir: RunDir, nap: Path, target: str) -> None:
    sop = rundir.write_sop(
        sop_yaml(
            "timeout",
            steps=[
                {
                    "id": "slow",
                    "on": target,
                    "timeout": 1,
                    "run": f"@MARK@ slow; {nap} 30; @MARK@ woke",
                },
                {"id": "after", "run": "@MARK@ after"},
            ],
        )
    )
    started = time.monotonic()

    proc = rundir.run(sop, "--yes")

    assert time.monotonic() - started < 6
    assert proc.returncode == 1
    assert "timed out after 1s" in proc.stdout
    assert running(f"{nap} ") == []
    assert rundir.marks() == [f"{target} slow"]


@pytest.mark.parametrize("target", ["h01", "local"])
def test_a_timeout_does_not_outlive_its_step(rundir: RunDir, target: str) -> None:
    sop = rundir.write_sop(
        sop_yaml(
            "timeout-quick",
            steps=[{"id": "quick", "on": target, "timeout": 6, "run": "@MARK@ quick"}],
        )
    )
    started = time.monotonic()

    proc = rundir.run(sop, "--yes")

    assert proc.returncode == 0, proc.stderr
    assert rundir.marks() == [f"{target} quick"]
    assert time.monotonic() - started < 4, "sop exits only when the step's timeout expires"


# -- confirmations and answers under --yes ---------------------------------------------------


def typed_sop(rundir: RunDir, confirm: str) -> Path:
    return rundir.write_sop(
        sop_yaml(
            f"confirm-{confirm}",
            steps=[
                {"id": "before", "on": "h01", "run": "@MARK@ before"},
                {"id": "deploy", "on": "web", "run": "@MARK@ deploy", "confirm": confirm},
                {"id": "after", "on": "h01", "run": "@MARK@ after"},
            ],
        )
    )


def run_id(stdout: str) -> str:
    """The run id the header shows."""
    found = re.search(r"\brun (\d{8}T\d{6}-[0-9a-f]{8})\b", stdout)
    assert found, stdout
    return found[1]


def test_yes_stops_at_a_typed_step(rundir: RunDir) -> None:
    proc = rundir.run(typed_sop(rundir, "typed"), "--yes")

    assert proc.returncode == 1
    run = run_id(proc.stdout)
    assert proc.stderr == (
        "sop: error: step 2 (deploy) needs the responder's typed confirmation; --yes does not "
        f"give it. Continue in a terminal (sop resume {run}), or name the step: "
        f"sop resume {run} --yes --confirm deploy\n"
    )
    assert rundir.marks() == ["h01 before"]

    resumed = rundir.sop(rundir.resume_args(run, "--yes", "--confirm", "deploy"))
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert sorted(rundir.marks()[1:4]) == ["h01 deploy", "h02 deploy", "h03 deploy"]
    assert rundir.marks()[4:] == ["h01 after"]


def test_yes_stops_at_an_always_step(rundir: RunDir) -> None:
    proc = rundir.run(typed_sop(rundir, "always"), "--yes")

    assert proc.returncode == 1
    run = run_id(proc.stdout)
    assert proc.stderr == (
        "sop: error: step 2 (deploy) needs the responder's confirmation; --yes does not "
        f"give it. Continue in a terminal (sop resume {run}), or name the step: "
        f"sop resume {run} --yes --confirm deploy\n"
    )
    assert rundir.marks() == ["h01 before"]


def test_confirm_names_the_typed_step_that_yes_may_run(rundir: RunDir) -> None:
    proc = rundir.run(typed_sop(rundir, "typed"), "--yes", "--confirm", "deploy")

    assert proc.returncode == 0, proc.stderr
    marks = rundir.marks()
    assert marks[0] == "h01 before"
    assert sorted(marks[1:4]) == ["h01 deploy", "h02 deploy", "h03 deploy"]
    assert marks[4:] == ["h01 after"]


def question_sop(rundir: RunDir) -> Path:
    return rundir.write_sop(
        sop_yaml(
            "question",
            steps=[
                {
                    "id": "look",
                    "prose": "Open the dashboard. Which mount is full?",
                    "ask": {"mount": {"help": "Mount that is full", "pattern": "^/.*"}},
                },
                {"id": "use", "on": "h01", "run": "@MARK@ use {{ mount }}"},
            ],
        )
    )


def test_answer_gives_a_question_without_default(rundir: RunDir) -> None:
    proc = rundir.run(question_sop(rundir), "--yes", "-a", "mount=/var/log")

    assert proc.returncode == 0, proc.stderr
    assert rundir.marks() == ["h01 use /var/log"]


def test_yes_stops_at_a_question_without_default_or_answer(rundir: RunDir) -> None:
    proc = rundir.run(question_sop(rundir), "--yes")

    assert proc.returncode == 1
    assert proc.stderr == (
        "sop: error: step 1 (look) asks 'Mount that is full' and has no default: "
        "answer it with -a mount=VALUE\n"
    )
    assert rundir.marks() == []


def test_an_answer_is_checked_against_the_question(rundir: RunDir) -> None:
    proc = rundir.run(question_sop(rundir), "--yes", "-a", "mount=var")

    assert proc.returncode == 1
    assert proc.stderr == "sop: error: answer 'mount': 'var' does not match ^/.*\n"
    assert rundir.marks() == []


# -- several hosts: parallel, canary, tasks, capture -----------------------------------------

SPAN = "@MARK@ span start $(date +%s.%N); sleep 0.4; @MARK@ span end $(date +%s.%N)"


def spans(marks: list[str]) -> dict[str, tuple[float, float]]:
    """host -> (start, end) of the SPAN command on it."""
    times: dict[str, dict[str, float]] = {}
    for line in marks:
        host, what, when, at = line.split()
        if what == "span":
            times.setdefault(host, {})[when] = float(at)
    return {host: (t["start"], t["end"]) for host, t in times.items()}


def most_at_once(intervals: list[tuple[float, float]]) -> int:
    edges = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals])
    running = peak = 0
    for _, change in edges:
        running += change
        peak = max(peak, running)
    return peak


@pytest.mark.parametrize(("parallel", "expected"), [(2, 2), (1, 1), (None, 4)])
def test_parallel_bounds_how_many_hosts_run_at_once(
    rundir: RunDir, parallel: int | None, expected: int
) -> None:
    step: dict[str, Any] = {"id": "span", "on": "all", "run": SPAN}
    if parallel is not None:
        step["parallel"] = parallel
    sop = rundir.write_sop(sop_yaml("parallel", steps=[step]))

    proc = rundir.run(sop, "--yes")

    assert proc.returncode == 0, proc.stderr
    ran = spans(rundir.marks())
    assert sorted(ran) == ["h01", "h02", "h03", "h04"]
    assert most_at_once(list(ran.values())) == expected


def test_a_canary_runs_first_then_the_other_hosts(rundir: RunDir) -> None:
    sop = rundir.write_sop(
        sop_yaml("canary", steps=[{"id": "span", "on": "all", "canary": 1, "run": SPAN}])
    )

    proc = rundir.run(sop, "--yes")

    assert proc.returncode == 0, proc.stderr
    ran = spans(rundir.marks())
    assert sorted(ran) == ["h01", "h02", "h03", "h04"]
    canary_end = ran["h01"][1]
    assert all(start > canary_end for host, (start, _) in ran.items() if host != "h01")
    assert most_at_once([ran[h] for h in ("h02", "h03", "h04")]) == 3


def test_a_failing_canary_stops_the_step_before_the_other_hosts(rundir: RunDir) -> None:
    sop = rundir.write_sop(
        sop_yaml(
            "canary-fails",
            steps=[
                {"id": "deploy", "on": "all", "canary": 1, "run": "@MARK@ deploy; exit 3"},
                {"id": "after", "on": "h01", "run": "@MARK@ after"},
            ],
        )
    )

    proc = rundir.run(sop, "--yes")

    assert proc.returncode == 1
    assert rundir.marks() == ["h01 deploy"]
    assert "not run: the canary failed" in proc.stdout


def test_a_task_runs_on_two_remote_hosts_through_fabric(rundir: RunDir, pwned: Path) -> None:
    sop = rundir.write_sop(
        sop_yaml(
            "task",
            tasks="tasks.py",
            inputs={"why": {}},
            steps=[
                {
                    "id": "rotate",
                    "on": ["h02", "h04"],
                    "task": "mark",
                    "args": {"mark": "@MARK@", "name": "rotate", "words": "{{ why }}"},
                }
            ],
        )
    )

    proc = rundir.run(sop, "--yes", "-i", f"why=full; touch {pwned}")

    assert proc.returncode == 0, proc.stderr
    assert sorted(rundir.marks()) == [
        f"h02 rotate full; touch {pwned}",
        f"h04 rotate full; touch {pwned}",
    ]
    for host in ("h02", "h04"):  # the command the task ran, as it ran it
        assert f"{host} $ {rundir.mark} rotate 'full; touch {pwned}'" in proc.stdout


def test_capture_of_a_multi_host_step_maps_each_host_to_its_output(rundir: RunDir) -> None:
    out = rundir.path / "args"
    sop = rundir.write_sop(
        sop_yaml(
            "capture-map",
            steps=[
                {
                    "id": "addr",
                    "on": "web",
                    "run": "echo \"$SSH_CONNECTION\" | cut -d' ' -f3",
                    "capture": "addr",
                },
                {
                    "id": "use",
                    "run": (
                        "printf '%s\\0' {{ addr | length }} {{ addr['h01'] }} "
                        f"{{{{ addr['h02'] }}}} {{{{ addr['h03'] }}}} > {out}"
                    ),
                },
            ],
        )
    )

    proc = rundir.run(sop, "--yes")

    assert proc.returncode == 0, proc.stderr
    assert nul_split(out) == ["3", "127.0.0.2\n", "127.0.0.3\n", "127.0.0.4\n"]
    assert "[h02] 127.0.0.3" in proc.stdout


# -- secrets ---------------------------------------------------------------------------------

SECRET = "s3cr3t-T0ken-'\"$(x)"


def secret_sop(rundir: RunDir, out: Path) -> Path:
    return rundir.write_sop(
        sop_yaml(
            "secret",
            inputs={"token": {"secret": True, "env": "OPS_TOKEN"}},
            steps=[
                {
                    "id": "remote",
                    "on": "h01",
                    "run": f'printf "%s" "$SOP_SECRET_TOKEN" > {out}.h01; '
                    'echo "remote token=$SOP_SECRET_TOKEN"',
                },
                {
                    "id": "local",
                    "run": f'printf "%s" "$SOP_SECRET_TOKEN" > {out}.local; '
                    'echo "local token=$SOP_SECRET_TOKEN" >&2',
                },
            ],
        )
    )


def test_a_secret_reaches_commands_through_the_environment_and_is_never_shown(
    rundir: RunDir,
) -> None:
    out = rundir.path / "secret"
    sop = secret_sop(rundir, out)

    proc = rundir.run(sop, "--yes", env={"OPS_TOKEN": SECRET})

    assert proc.returncode == 0, proc.stderr
    assert Path(f"{out}.h01").read_text() == SECRET
    assert Path(f"{out}.local").read_text() == SECRET
    assert "s3cr3t" not in proc.stdout + proc.stderr
    assert "remote token=********" in proc.stdout
    assert "local token=********" in proc.stdout + proc.stderr


def test_a_secret_is_refused_on_the_command_line(rundir: RunDir) -> None:
    out = rundir.path / "secret"
    sop = secret_sop(rundir, out)

    proc = rundir.run(sop, "--yes", "-i", f"token={SECRET}")

    assert proc.returncode == 1
    assert proc.stderr == (
        "sop: error: secret input 'token' cannot be given on the command line (it would be "
        "seen in ps and shell history); use $OPS_TOKEN, --secret-file token=PATH, or answer "
        "the prompt\n"
    )
    assert "s3cr3t" not in proc.stdout
    assert not Path(f"{out}.h01").exists()


# -- the environment of commands -------------------------------------------------------------

ENV_WORDS = '"$SOP_RUN_ID" "$SOP_TRACE_ID" "$SOP_STEP" "$TRACEPARENT"'


def test_commands_get_the_run_and_trace_ids_in_their_environment(rundir: RunDir) -> None:
    task_args = {"mark": "@MARK@", "name": "env"}
    sop = rundir.write_sop(
        sop_yaml(
            "env",
            tasks="tasks.py",
            steps=[
                {"id": "local-run", "run": f"@MARK@ env {ENV_WORDS}"},
                {"id": "remote-run", "on": "h01", "run": f"@MARK@ env {ENV_WORDS}"},
                {"id": "remote-script", "on": "h02", "script": f"@MARK@ env {ENV_WORDS}\n"},
                {"id": "local-task", "task": "env", "args": task_args},
                {"id": "remote-task", "on": "h03", "task": "env", "args": task_args},
            ],
        )
    )

    proc = rundir.run(sop, "--yes")

    assert proc.returncode == 0, proc.stderr
    header = re.search(r"run (\S+) +trace ([0-9a-f]{32})", proc.stdout)
    assert header is not None, proc.stdout
    run_id, trace_id = header.groups()
    seen: dict[str, tuple[str, ...]] = {}
    spans_seen = set()
    for line in rundir.marks():
        host, _, run, trace, step, traceparent = line.split(" ")
        match = TRACEPARENT.fullmatch(traceparent)
        if match is not None:
            spans_seen.add(match.group(2))
        traced = "traced" if match is not None and match.group(1) == trace_id else traceparent
        seen[step or f"<no SOP_STEP on {host}>"] = (host, run, trace, traced)
    assert seen == {
        "local-run": ("local", run_id, trace_id, "traced"),
        "remote-run": ("h01", run_id, trace_id, "traced"),
        "remote-script": ("h02", run_id, trace_id, "traced"),
        "local-task": ("local", run_id, trace_id, "traced"),
        "remote-task": ("h03", run_id, trace_id, "traced"),
    }
    # each command's TRACEPARENT is its host span, as the audit log records it: a child of its
    # step's span, a child of the run's
    entries = read_run(find_run_dir(Path(rundir.env()["SOP_STATE_DIR"]), run_id))
    (run_span,) = {e.span_id for e in entries if e.action == "run-started"}
    step_spans = {e.step_id: e.span_id for e in entries if e.action == "step-started"}
    assert {e.parent_span_id for e in entries if e.action == "step-started"} == {run_span}
    commands = [e for e in entries if e.action == "command-started"]
    assert {e.span_id for e in commands} == spans_seen and len(spans_seen) == 5
    assert all(e.parent_span_id == step_spans[e.step_id] for e in commands)


# -- the session channel: output as sent, whatever its size, and the exit status ------------


def test_large_output_arrives_whole_and_multibyte_characters_survive_read_boundaries(
    rundir: RunDir,
) -> None:
    """3 MB of two-byte characters (more than one SSH window, so the host waits for sop to
    read), written in odd-sized pieces: every read boundary falls inside some character."""
    out = rundir.path / "captured"
    sop = rundir.write_sop(
        sop_yaml(
            "big-output",
            steps=[
                {
                    "id": "big",
                    "on": "h01",
                    "run": "python3 -c \"import sys; [sys.stdout.write('é' * 7919 + '\\n') "
                    'or sys.stdout.flush() for _ in range(200)]"; echo oops >&2',
                    "capture": "big",
                },
                {"id": "keep", "run": f"printf '%s' {{{{ big }}}} > {out}"},
            ],
        )
    )

    proc = rundir.run(sop, "--yes")

    assert proc.returncode == 0, proc.stderr
    assert out.read_text() == ("é" * 7919 + "\n") * 200
    assert "oops" not in out.read_text()  # stderr is not stdout
    assert "oops" in proc.stdout


def test_the_exit_status_of_a_remote_command_is_its_hosts(rundir: RunDir) -> None:
    sop = rundir.write_sop(sop_yaml("exit", steps=[{"id": "fail", "on": "web", "run": "exit 7"}]))

    proc = rundir.run(sop, "--yes")

    assert proc.returncode != 0
    for host in ("h01", "h02", "h03"):
        assert re.search(rf"{host}\s+✘ failed\s+7\s", proc.stdout), proc.stdout
    (log,) = (rundir.path.parent / "sop-state").rglob("audit.jsonl")
    records = [json.loads(line) for line in log.read_text().splitlines()]
    codes = [r["process"]["exit_code"] for r in records if r["event"]["action"] == "host-finished"]
    assert codes == [7, 7, 7]
