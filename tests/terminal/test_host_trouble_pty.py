"""Hosts that cannot be reached, seen at the terminal: a host that accepts TCP and never speaks
SSH, and a host whose key known_hosts does not hold yet (trusted mid-run, then retried); at a
step (no pre-flight: a host that goes away mid-run), and at the pre-flight before the first."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from pathlib import Path

from ..integration.rundir import RunDir
from ..integration.sshd import SshdHosts
from .session import Terminal, run_on

Start = Callable[..., Terminal]

SOP = """\
sop: 1
id: {id}
title: Test
owner: team
reviewed: 2026-11-01
steps:
  - id: one
    on: {on}
    run: "@MARK@ one"
"""
MENU = "What now? [r]etry"


def test_a_silent_host_fails_in_one_line_and_only_for_itself(
    rundir: RunDir, sshd_hosts: SshdHosts
) -> None:
    silent = sshd_hosts.silent_host()  # accepts TCP, never says a word
    rundir = RunDir.create(rundir.path, sshd_hosts, extra_hosts={"silent": silent})
    sop = rundir.write_sop(SOP.format(id="silent", on="[h01, silent]"), "silent.yaml")
    args = rundir.args(sop, "--preflight=off")
    term = Terminal.spawn(args, cwd=rundir.path, env=rundir.env())
    try:
        term.answer(run_on("h01, silent"), "r")
        term.expect(MENU, timeout=30)
        term.interrupt_prompt()
        assert term.exit_status() == 130
    finally:
        term.close()

    shown = term.transcript
    assert "Traceback" not in shown
    where = f"silent ({sshd_hosts.user}@{silent.address} port {silent.port})"
    lines = [line for line in shown.splitlines() if where in line]
    assert len(lines) == 1, shown
    assert re.fullmatch(  # its real time: the connect timeout
        rf"silent +✘ failed +1\d\.\d\ds  {re.escape(where)}: no SSH handshake within 10s.*",
        lines[0],
    ), lines[0]
    assert re.search(r"^h01 +✔ ok ", shown, re.M), shown
    assert rundir.marks() == ["h01 one"]


def test_a_key_trusted_mid_run_counts_at_the_retry(
    rundir: RunDir, sshd_hosts: SshdHosts, tmp_path: Path
) -> None:
    known_hosts = tmp_path / "fresh" / "known_hosts"  # no folder yet, as on a new account
    sop = rundir.write_sop(SOP.format(id="trust", on="h01"), "trust.yaml")
    args = rundir.args(sop, "--preflight=off", known_hosts=known_hosts)
    term = Terminal.spawn(args, cwd=rundir.path, env=rundir.env())
    try:
        term.answer(run_on("h01"), "r")
        term.expect(MENU)
        shown = term.transcript
        assert shown.count("unknown host key") == 1, shown
        assert shown.count("ssh-keyscan") == 1, shown
        hint = re.search(r"^ +(mkdir -p -m 700 \S+ && ssh-keyscan .*)$", shown, re.M)
        assert hint, shown
        subprocess.run(hint[1], shell=True, check=True, capture_output=True)
        term.child.sendline("r")
        assert term.exit_status() == 0
    finally:
        term.close()
    assert rundir.marks() == ["h01 one"]
    assert "Run success" in term.transcript


PREFLIGHT = (
    "Pre-flight: some hosts are not ready. What now? [r]e-check / [c]ontinue / [q]uit / [a]bort: "
)


def test_the_preflight_rechecks_a_key_trusted_at_its_prompt(
    rundir: RunDir, sshd_hosts: SshdHosts, tmp_path: Path
) -> None:
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(sshd_hosts.known_hosts_line(sshd_hosts.hosts[0]))  # h01 only
    sop = rundir.write_sop(
        SOP.format(id="recheck", on="[h01, h02]").replace(
            "    run:", "    confirm: never\n    run:"
        ),
        "recheck.yaml",
    )
    args = rundir.args(sop, known_hosts=known_hosts)
    term = Terminal.spawn(args, cwd=rundir.path, env=rundir.env())
    try:
        term.expect(PREFLIGHT)
        first = term.transcript
        assert re.search(r"^h01 +\S+ +ok *$", first, re.M), first
        assert re.search(r"^h02 +\S+ +unknown key +unknown host key for ", first, re.M), first
        assert rundir.marks() == []  # before any step
        hint = re.search(r"^ +((?:mkdir .* && )?ssh-keyscan .*)$", first, re.M)
        assert hint, first
        subprocess.run(hint[1], shell=True, check=True, capture_output=True)
        term.child.sendline("r")
        term.expect("Pre-flight (re-check 1)")
        assert term.exit_status() == 0
    finally:
        term.close()
    shown = term.transcript
    again = shown[shown.index("Pre-flight (re-check 1)") :]
    assert re.search(r"^h02 +\S+ +ok *$", again, re.M), again
    assert "✔ 2 host(s) ok" in again
    assert "Traceback" not in shown
    assert sorted(rundir.marks()) == ["h01 one", "h02 one"]
    assert "Run success" in shown


def test_quit_at_the_preflight_pauses_before_any_step(
    rundir: RunDir, sshd_hosts: SshdHosts
) -> None:
    silent = sshd_hosts.silent_host()
    rundir = RunDir.create(rundir.path, sshd_hosts, extra_hosts={"silent": silent})
    sop = rundir.write_sop(SOP.format(id="quit", on="[h01, silent]"), "quit.yaml")
    term = Terminal.spawn(rundir.args(sop), cwd=rundir.path, env=rundir.env())
    try:
        term.answer(PREFLIGHT, "q")
        assert term.exit_status() == 4  # paused: `sop resume` checks the hosts again
    finally:
        term.close()
    shown = term.transcript
    assert re.search(r"^silent +\S+ +timeout +no SSH handshake within 10s ", shown, re.M), shown
    assert "Traceback" not in shown
    assert "Run paused after" in shown
    assert rundir.marks() == []
