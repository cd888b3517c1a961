"""A secret canary goes through a remote echo, encodings, a failing step and --debug output:
none of its forms reaches any sink (terminal, audit log, state file, report, audit table)."""

from __future__ import annotations

import base64
import json
import os
import shlex
import subprocess
import sys
import textwrap
import urllib.parse
from pathlib import Path

import pytest

from .sshd import SshdHosts

SOP = Path(sys.executable).parent / "sop"
CANARY = 'can\'ary "$(touch PWNED)"; rm -rf x `id`\nsecond-line-of-the-canary'


def forms(secret: str) -> dict[str, str]:
    return {
        "raw": secret,
        "shell-quoted": shlex.quote(secret),
        "json": json.dumps(secret)[1:-1],
        "url-encoded": urllib.parse.quote(secret),
        "base64": base64.b64encode(secret.encode()).decode(),
        "first line": secret.splitlines()[0],
        "second line": secret.splitlines()[1],
    }


def fake_pass(tmp_path: Path) -> Path:
    """A `pass`-like store: prints the canary (kept in a file no sink reads) and a newline."""
    store = tmp_path / "store"
    store.write_text(CANARY)
    program = tmp_path / "fake-pass"
    program.write_text(f"#!/bin/sh\ncat '{store}'\necho\n")
    program.chmod(0o755)
    return program


@pytest.mark.parametrize("source", ["env", "command"])
def test_the_canary_reaches_no_sink(tmp_path: Path, sshd_hosts: SshdHosts, source: str) -> None:
    inventory = sshd_hosts.write_inventory(tmp_path / "inventory.yaml")
    py = "python3 -c"
    declared = (
        "{secret: true, env: CANARY_TOKEN}"
        if source == "env"
        else f"{{secret: true, command: [{fake_pass(tmp_path)}, show, ops/token]}}"
    )
    argv_file = tmp_path / "argv-of-every-process"
    (tmp_path / "canary.yaml").write_text(
        textwrap.dedent(f"""\
        sop: 1
        id: canary
        title: Canary
        owner: t
        reviewed: 2026-11-20
        inputs:
          token: {declared}
        on: h01
        steps:
          - id: echo-remote
            run: printf '%s' "$SOP_SECRET_TOKEN"
          - id: base64-remote
            run: printf '%s' "$SOP_SECRET_TOKEN" | base64 -w0
          - id: encodings-local
            on: local
            script: |
              {py} 'import json,os; print(json.dumps(os.environ["SOP_SECRET_TOKEN"]))'
              {py} 'import urllib.parse,os; print(urllib.parse.quote(os.environ["SOP_SECRET_TOKEN"]))'
              {py} 'import shlex,os; print(shlex.quote(os.environ["SOP_SECRET_TOKEN"]))'
            capture: encoded
          - id: argv-local
            on: local
            run: for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' < "$f"; echo; done > {argv_file}
          - id: fail-remote
            run: printf 'oops %s' "$SOP_SECRET_TOKEN" >&2; exit 3
        """)
    )
    env = {
        **os.environ,
        **({"CANARY_TOKEN": CANARY} if source == "env" else {}),
        "SOP_STATE_DIR": str(tmp_path / "state"),
        "SOP_AUDIT_KEYS": str(tmp_path / "keys"),
        "COLUMNS": "200",
    }
    common = [
        "--inventory",
        str(inventory),
        "--known-hosts",
        str(sshd_hosts.known_hosts),
        "--ssh-config",
        str(sshd_hosts.ssh_config),
    ]
    proc = subprocess.run(
        [str(SOP), "--debug", "run", "--yes", *common, str(tmp_path / "canary.yaml")],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert proc.returncode == 1, proc.stderr  # the last step fails
    assert "debug: " in proc.stderr and "********" in proc.stdout
    run_dir = next((tmp_path / "state" / "runs").iterdir())
    run_id = run_dir.name
    sinks = {
        "terminal": proc.stdout + proc.stderr,
        "audit log": (run_dir / "audit.jsonl").read_text(),
        "state file": (run_dir / "state.json").read_text(),
        "report": subprocess.run(
            [str(SOP), "report", run_id], capture_output=True, text=True, env=env
        ).stdout,
        "report json": subprocess.run(
            [str(SOP), "report", run_id, "--format", "json"],
            capture_output=True,
            text=True,
            env=env,
        ).stdout,
        "audit table": subprocess.run(
            [str(SOP), "audit", "show", run_id], capture_output=True, text=True, env=env
        ).stdout,
        "argv of processes": argv_file.read_text(),
    }
    leaks = [
        (sink, form)
        for sink, text in sinks.items()
        for form, value in forms(CANARY).items()
        if value in text
    ]
    assert leaks == []
    assert "--debug run --yes" in sinks["argv of processes"]  # sop's own argv was read
    assert not (tmp_path / "PWNED").exists()
    # and the commands did receive the secret itself
    records = [json.loads(line) for line in sinks["audit log"].splitlines()]
    finished = {r["sop"]["step"]: r for r in records if r["event"]["action"] == "host-finished"}
    # each line masked; the first, longer than 32 characters, piece by piece
    assert finished["echo-remote"]["sop"]["output"]["tail"] == "********" * 2 + "\n********"
    assert finished["fail-remote"]["process"]["exit_code"] == 3
    assert finished["echo-remote"]["sop"]["output"]["sha256"] != ""
