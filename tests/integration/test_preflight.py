"""The pre-flight against real OpenSSH servers: before the first step, every targeted host is
connected at once and shown in one table; `--yes` stops before any step when one is not ok."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest

from .rundir import RunDir
from .sshd import SshdHosts, SshHost, free_port
from .test_connections import fingerprint
from .test_run_ssh import sop_yaml


@pytest.fixture
def rundir(tmp_path: Path, sshd_hosts: SshdHosts) -> RunDir:
    return RunDir.create(tmp_path / "runbooks", sshd_hosts)


def audit(rundir: RunDir) -> list[dict[str, Any]]:
    """The records of the one run in the folder's state directory."""
    (run_dir,) = (rundir.path.parent / "sop-state" / "runs" / "runs").iterdir()
    return [json.loads(line) for line in (run_dir / "audit.jsonl").read_text().splitlines()]


def preflights(rundir: RunDir) -> list[dict[str, Any]]:
    return [r for r in audit(rundir) if r["event"]["action"] == "preflight"]


def accepted_logins(hosts: SshdHosts) -> int:
    time.sleep(1)  # sshd writes its log lines after the client has gone
    return sum(
        log.read_text(errors="replace").count("Accepted publickey")
        for log in hosts.workdir.glob("sshd.main*.log")
    )


def trouble(rundir: RunDir, sshd_hosts: SshdHosts) -> tuple[RunDir, Path, dict[str, SshHost]]:
    """h01 (known), h02 (its key not in known_hosts), `refused` (nothing listens there) and
    `silent` (accepts TCP, never speaks SSH), with a known_hosts that knows h01 only."""
    refused = SshHost("refused", "127.0.0.1", free_port(["127.0.0.1"]))
    silent = sshd_hosts.silent_host()
    extra = {"refused": refused, "silent": silent}
    rundir = RunDir.create(rundir.path, sshd_hosts, extra_hosts=extra)
    known = rundir.path / "known_hosts.h01"
    known.write_text(sshd_hosts.known_hosts_line(sshd_hosts.hosts[0]))
    return rundir, known, extra


def test_yes_stops_before_any_step_with_one_line_per_host(
    rundir: RunDir, sshd_hosts: SshdHosts
) -> None:
    rundir, known, extra = trouble(rundir, sshd_hosts)
    sop = rundir.write_sop(
        sop_yaml(
            "trouble",
            on=["h01", "h02", "refused", "silent"],
            steps=[
                {"id": "local-first", "on": "local", "run": "@MARK@ local"},
                {"id": "everywhere", "run": "@MARK@ everywhere"},
            ],
        )
    )
    started = time.monotonic()

    proc = rundir.run(sop, "--yes", known_hosts=known)

    assert time.monotonic() - started < 30  # the hosts are tried at once: one timeout, not two
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert rundir.marks() == []  # not even the local step: the pre-flight comes first
    out = proc.stdout
    assert "Traceback" not in out + proc.stderr
    h01, h02 = sshd_hosts.hosts[:2]
    user = sshd_hosts.user
    rows = [line for line in out.splitlines() if re.match(r"(h0[12]|refused|silent) ", line)]
    assert len(rows) == 4, out
    assert re.fullmatch(rf"h01 +{user}@{h01.address}:{h01.port} +ok", rows[0])
    assert re.fullmatch(
        rf"h02 +{user}@{h02.address}:{h02.port} +unknown key +unknown host key for "
        rf"\[{h02.address}\]:{h02.port}: ssh-ed25519 {re.escape(fingerprint(sshd_hosts.host_key_pub))}; "
        "refusing to connect.",
        rows[1],
    ), rows[1]
    refused, silent = extra["refused"], extra["silent"]
    assert re.fullmatch(
        rf"refused +{user}@127\.0\.0\.1:{refused.port} +refused +connection refused", rows[2]
    ), rows[2]
    assert re.fullmatch(
        rf"silent +{user}@{silent.address}:{silent.port} +timeout +no SSH handshake within "
        r"10s \(.+\)",  # paramiko's words: no banner, or no session
        rows[3],
    ), rows[3]
    assert f"ssh-keyscan -p {h02.port} -t ssh-ed25519 {h02.address} >> " in out  # how to trust
    assert "✘ 3 of 4 not ok" in out
    assert (
        "pre-flight: 3 of 4 host(s) not ok: h02 unknown key, refused refused, silent timeout. "
        "Fix them and run again, or pass --preflight=warn to go on anyway"
    ) in out
    (checked,) = preflights(rundir)
    assert checked["event"]["outcome"] == "failure"
    assert [(r["host"], r["outcome"]) for r in checked["sop"]["results"]] == [
        ("h01", "ok"),
        ("h02", "unknown key"),
        ("refused", "refused"),
        ("silent", "timeout"),
    ]
    actions = [r["event"]["action"] for r in audit(rundir)]
    assert "step-started" not in actions
    assert actions[-2:] == ["run-finished", "seal"]


def test_warn_shows_the_table_and_goes_on(rundir: RunDir, sshd_hosts: SshdHosts) -> None:
    rundir, known, _ = trouble(rundir, sshd_hosts)
    sop = rundir.write_sop(
        sop_yaml(
            "warn",
            steps=[
                {"id": "one", "on": "h01", "run": "@MARK@ one"},
                {"id": "two", "on": "refused", "run": "@MARK@ two"},
            ],
        )
    )

    proc = rundir.run(sop, "--yes", "--preflight=warn", known_hosts=known)

    assert proc.returncode == 1  # step two fails, at its step
    assert "✘ 1 of 2 not ok" in proc.stdout
    assert rundir.marks() == ["h01 one"]


def test_an_input_that_names_no_host_is_an_unresolvable_target(
    rundir: RunDir, sshd_hosts: SshdHosts
) -> None:
    sop = rundir.write_sop(
        sop_yaml(
            "typo",
            inputs={"host": {"required": True}},
            steps=[
                {"id": "one", "on": "h01", "run": "@MARK@ one"},
                {"id": "two", "on": "{{ host }}", "run": "@MARK@ two"},
                {"id": "ask", "ask": {"victim": {"help": "the host"}}, "prose": "Which host?"},
                {"id": "three", "on": "{{ victim }}", "run": "@MARK@ three"},
            ],
        )
    )

    proc = rundir.run(sop, "--yes", "-i", "host=h9")

    assert proc.returncode == 1
    assert rundir.marks() == []
    out = proc.stdout
    assert re.search(
        r"^h9 +- +unresolvable target +step 2: target '\{\{ host \}\}' is 'h9' \(not a host of ",
        out,
        re.M,
    ), out
    assert (
        "not checked: step 4 (three) on '{{ victim }}': known only later (an answer or a "
        "captured output)"
    ) in out
    (checked,) = preflights(rundir)
    assert checked["sop"]["unchecked"] == [
        "step 4 (three) on '{{ victim }}': known only later (an answer or a captured output)"
    ]


def test_the_steps_use_the_connections_the_preflight_opened(
    rundir: RunDir, sshd_hosts: SshdHosts
) -> None:
    sop = rundir.write_sop(sop_yaml("reuse", on="web", steps=[{"id": "one", "run": "@MARK@ one"}]))
    before = accepted_logins(sshd_hosts)

    proc = rundir.run(sop, "--yes")

    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "✔ 3 host(s) ok" in proc.stdout
    assert sorted(rundir.marks()) == ["h01 one", "h02 one", "h03 one"]
    assert accepted_logins(sshd_hosts) - before == 3  # one login per host for the whole run


def test_preflight_off_connects_at_the_first_step(rundir: RunDir, sshd_hosts: SshdHosts) -> None:
    sop = rundir.write_sop(sop_yaml("off", steps=[{"id": "one", "on": "h01", "run": "@MARK@ one"}]))

    proc = rundir.run(sop, "--yes", "--preflight=off")

    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Pre-flight" not in proc.stdout
    assert preflights(rundir) == []
    assert rundir.marks() == ["h01 one"]
