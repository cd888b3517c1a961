"""Inventories teams already have, against the real sshd hosts: Ansible INI, Ansible YAML, a
dynamic inventory program, and several at once (later ones win per host)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .rundir import RunDir
from .sshd import SshdHosts

SOP = """\
sop: 1
id: mark-web
title: Mark the web hosts
owner: team
reviewed: 2026-11-01
on: [web]
steps:
  - id: mark
    title: Mark
    run: "@MARK@ mark"
"""


@pytest.fixture
def rundir(tmp_path: Path, sshd_hosts: SshdHosts) -> RunDir:
    return RunDir.create(tmp_path / "runbooks", sshd_hosts)


def ini(hosts: SshdHosts) -> str:
    h1, h2 = hosts.hosts[:2]
    return (
        "[web]\n"
        f"h0[1:2] ansible_port={hosts.port}\n"
        "[web:vars]\n"
        f"ansible_user={hosts.user}\n"
        f"ansible_ssh_private_key_file={hosts.client_key}\n"
        "ansible_python_interpreter=/usr/bin/python3\n"
        "[all:vars]\n"
        f"ansible_host={h1.address}\n"  # every host at h01's address: only h02's own line wins
        "[web_h2]\n"
        f"h02 ansible_host={h2.address}\n"
    )


def run_with(rundir: RunDir, *inventories: Path) -> tuple[int, str, list[str], dict[str, object]]:
    sop = rundir.write_sop(SOP)
    args = ["run", str(sop), "--yes"]
    for inventory in inventories:
        args += ["--inventory", str(inventory)]
    args += ["--known-hosts", str(rundir.hosts.known_hosts), "--ssh-config", str(rundir.ssh_config)]
    done = rundir.sop(args)
    firsts = [
        json.loads(log.read_text().splitlines()[0])
        for log in (rundir.path.parent / "sop-state").rglob("audit.jsonl")
    ]
    runs = [first for first in firsts if "drill" not in first.get("tags", [])]  # not a drill's
    started: dict[str, object] = runs[0]["sop"] if runs else {}
    return done.returncode, done.stdout + done.stderr, rundir.marks(), started


def test_an_ansible_ini_inventory_reaches_its_hosts(rundir: RunDir) -> None:
    path = rundir.path / "hosts.ini"
    path.write_text(ini(rundir.hosts))
    code, output, marks, started = run_with(rundir, path)
    assert code == 0, output
    assert sorted(marks) == ["h01 mark", "h02 mark"]
    assert "inventory: hosts.ini: ansible_python_interpreter is not used by sop, ignored" in output
    h1, h2 = rundir.hosts.hosts[:2]
    assert started["inventories"] == [str(path.resolve())]
    assert started["resolved"] == [
        {"name": "h01", "address": f"{rundir.hosts.user}@{h1.address}:{rundir.hosts.port}"},
        {"name": "h02", "address": f"{rundir.hosts.user}@{h2.address}:{rundir.hosts.port}"},
    ]


def test_an_ansible_yaml_inventory_reaches_its_hosts(rundir: RunDir) -> None:
    hosts = rundir.hosts
    h3 = hosts.hosts[2]
    path = rundir.path / "hosts.yml"
    path.write_text(
        "all:\n"
        "  vars:\n"
        f"    ansible_user: {hosts.user}\n"
        f"    ansible_port: {hosts.port}\n"
        f"    ansible_ssh_private_key_file: {hosts.client_key}\n"
        "  children:\n"
        "    web:\n"
        "      hosts:\n"
        "        h03:\n"
        f"          ansible_host: {h3.address}\n"
    )
    code, output, marks, _started = run_with(rundir, path)
    assert code == 0, output
    assert marks == ["h03 mark"]


def test_a_dynamic_inventory_runs_for_a_real_run_and_never_for_lint(rundir: RunDir) -> None:
    hosts = rundir.hosts
    h4 = hosts.hosts[3]
    listed = {
        "web": {"hosts": ["h04"]},
        "_meta": {
            "hostvars": {
                "h04": {
                    "ansible_host": h4.address,
                    "ansible_port": hosts.port,
                    "ansible_user": hosts.user,
                    "ansible_ssh_private_key_file": str(hosts.client_key),
                }
            }
        },
    }
    ran = rundir.path / "inventory-ran"
    script = rundir.path / "cmdb"
    script.write_text(
        f"#!/bin/sh\necho \"$@\" >> '{ran}'\ncat <<'EOF'\n{json.dumps(listed)}\nEOF\n"
    )
    script.chmod(0o755)
    sop = rundir.write_sop(SOP)
    for command in (["lint", str(sop)], ["drill", "--yes", "--pace", "0", str(sop)]):
        done = rundir.sop([*command, "--inventory", str(script)])
        assert done.returncode == 0, done.stdout + done.stderr
    dry = rundir.sop(["run", "--dry-run", str(sop), "--inventory", str(script)])
    assert dry.returncode != 0
    assert f"{script} is a dynamic inventory: sop runs it only for a real run" in dry.stderr
    assert not ran.exists()
    code, output, marks, started = run_with(rundir, script)
    assert code == 0, output
    assert marks == ["h04 mark"]
    assert ran.read_text() == "--list\n"
    assert started["resolved"] == [
        {"name": "h04", "address": f"{hosts.user}@{h4.address}:{hosts.port}"}
    ]


def test_later_inventories_win_per_host_and_the_override_is_shown(rundir: RunDir) -> None:
    first = rundir.path / "hosts.ini"
    first.write_text(ini(rundir.hosts))
    second = rundir.path / "moved.ini"
    h3 = rundir.hosts.hosts[2]
    hosts = rundir.hosts
    second.write_text(  # the whole host is replaced, not one variable: it says everything
        f"[web]\nh02 ansible_host={h3.address} ansible_port={hosts.port} "
        f"ansible_user={hosts.user} ansible_ssh_private_key_file={hosts.client_key}\n"
    )
    code, output, marks, started = run_with(rundir, first, second)
    assert code == 0, output
    assert sorted(marks) == ["h01 mark", "h03 mark"]  # h02's name, h03's address
    assert f"inventory: host h02: {second} (" in output
    assert started["inventories"] == [str(first.resolve()), str(second.resolve())]
