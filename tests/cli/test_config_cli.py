"""`sop config` and the defaults the team configuration gives the commands, as a user calls
them: one sop.toml, trusted or not."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from sop.cli import cli
from tests.conftest import MINIMAL
from tests.webhook import webhook


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("SOP_STATE_DIR", raising=False)
    monkeypatch.delenv("SOP_PATH", raising=False)
    folder = tmp_path / "repo"
    (folder / "runbooks").mkdir(parents=True)
    (folder / "runbooks" / "minimal.yaml").write_text(MINIMAL)
    monkeypatch.chdir(folder)
    return folder


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_show_says_what_an_untrusted_file_asked_for_and_trust_makes_it_count(repo: Path) -> None:
    toml = repo / "sop.toml"
    toml.write_text('state_dir = "state"\n[[notify]]\nurl = "https://hooks.example.com/x/y"\n')

    code, out, _ = invoke("config", "show")
    assert code == 0
    ignored = "is a project configuration you have not trusted, and"
    assert out.splitlines()[0] == (
        f"project  {toml} (not trusted: its notifications, SSH files, state directory and "
        "roles are ignored, its inventory is data for lint, doctor and simulated drills only, "
        f"until `sop config trust {toml}`)"
    )
    assert [ignored in line for line in out.splitlines()[1:]] == [True, True]

    code, out, _ = invoke("config", "trust")
    assert (code, out.split(" (sha256")[0]) == (0, f"trusted: {toml}")

    code, out, _ = invoke("config", "show", "--format", "json")
    assert json.loads(out) == {
        "sources": [{"path": str(toml), "kind": "project", "trusted": True}],
        "settings": {"state_dir": {"value": str(repo / "state"), "from": f"{toml}:1:1"}},
        "notify": [
            {
                "target": "https://hooks.example.com",
                "kind": "json",
                "events": [
                    "approval-needed",
                    "run-finished",
                    "run-paused",
                    "run-started",
                    "status-update",
                    "step-failed",
                ],
                "from": f"{toml}:2:1",
            }
        ],
        "ignored": [],
        "data_only": {},
    }


def test_a_setting_is_the_default_of_its_option_and_the_environment_wins(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (repo / "sop.toml").write_text('state_dir = "team-state"\n')
    assert invoke("config", "trust")[0] == 0

    assert invoke("run", "--yes", "minimal")[0] == 0
    assert len(list((repo / "team-state" / "runs").iterdir())) == 1

    monkeypatch.setenv("SOP_STATE_DIR", str(repo / "mine"))
    assert invoke("run", "--yes", "minimal")[0] == 0
    assert len(list((repo / "mine" / "runs").iterdir())) == 1
    assert invoke("run", "--yes", "--state-dir", "given", "minimal")[0] == 0
    assert len(list((repo / "given" / "runs").iterdir())) == 1


def test_a_setting_is_never_the_value_of_a_flag_of_the_same_name(repo: Path) -> None:
    (repo / "sop.toml").write_text('inventory = "inventory.yaml"\n')
    assert invoke("config", "trust")[0] == 0

    code, out, _ = invoke("schema")

    assert (
        code == 0 and json.loads(out)["title"] == "sop: an executable Standard Operating Procedure"
    )


def test_an_untrusted_files_webhook_hears_nothing_and_the_run_says_why(repo: Path) -> None:
    with webhook() as hook:
        toml = repo / "sop.toml"
        toml.write_text(f'[[notify]]\nurl = "{hook.url}"\n')

        code, _, err = invoke("run", "--yes", "minimal")
        assert code == 0 and hook.bodies == []
        assert err.startswith(
            f"sop: {toml}:1:1: notify: warning: ignored: sop.toml is a project configuration "
            "you have not trusted"
        )
        assert invoke("lint", "runbooks")[2].count("warning: ignored") == 0  # CI lints quietly

        assert invoke("config", "trust")[0] == 0
        assert invoke("run", "--yes", "minimal")[0] == 0
        assert [b["event"] for b in hook.received] == ["run-started", "run-finished"]


def test_a_broken_config_file_stops_every_command_at_its_line(repo: Path) -> None:
    (repo / "sop.toml").write_text('preflight = "warn"\nprefligth = "off"\n')

    assert invoke("list") == (
        1,
        "",
        f"{repo / 'sop.toml'}:2:1: prefligth: unknown setting (known: library, inventory, "
        "state_dir, known_hosts, ssh_config, preflight, roles, incident_prefix, notify)\n",
    )


def test_the_incident_prefix_makes_a_bare_number_the_teams_ticket_id_everywhere(
    repo: Path,
) -> None:
    """An untrusted file may set it (it names no program, URL or host); the notification comes
    from the user's own file."""
    (repo / "sop.toml").write_text('incident_prefix = "INC-"\n')
    mine = Path(os.environ["XDG_CONFIG_HOME"]) / "sop" / "config.toml"
    mine.parent.mkdir(parents=True)
    state = repo / "state"
    with webhook() as hook:
        mine.write_text(
            f'state_dir = "{state}"\n[[notify]]\nurl = "{hook.url}"\nevents = ["run-started"]\n'
        )
        mine.chmod(0o600)
        code, out, err = invoke("run", "--yes", "minimal", "--incident", "4711")
        assert code == 0, err
        assert "incident INC-4711" in out
        assert [b["incident"] for b in hook.received] == ["INC-4711"]
    (run_dir,) = (state / "runs").iterdir()
    log = [json.loads(line) for line in (run_dir / "audit.jsonl").read_text().splitlines()]
    assert {r["labels"]["incident"] for r in log} == {"INC-4711"}
    assert "- Incident: INC-4711" in invoke("report", run_dir.name)[1]

    assert invoke("run", "--yes", "minimal", "--incident", "inc-4711")[0] == 0  # prefixed: kept
    assert invoke("run", "--yes", "minimal", "--incident", "4712")[0] == 0
    code, out, _ = invoke("runs", "--incident", "4711", "--format", "json")
    assert (code, [r["incident"] for r in json.loads(out)]) == (0, ["INC-4711", "INC-4711"])
    assert [r["incident"] for r in json.loads(invoke("runs", "--format", "json")[1])] == [
        "INC-4711",
        "INC-4711",
        "INC-4712",
    ]

    code, out, err = invoke("config", "show")
    assert f"incident_prefix = INC-  ({repo / 'sop.toml'}:1:1)" in out.splitlines()


@pytest.mark.parametrize("given", ["47 11", "4711\n", "", "INC-", "-x", "4711;rm"])
def test_an_incident_that_is_no_ticket_id_is_refused_before_anything_runs(
    repo: Path, given: str
) -> None:
    (repo / "sop.toml").write_text('incident_prefix = "INC-"\n')
    code, _, err = invoke("run", "--yes", "--state-dir", "state", "minimal", "--incident", given)
    assert (code, err) == (
        2,
        f"sop: error: --incident {given!r}: not a ticket id (letters, digits and . _ : # / + -, "
        "at most 64, as INC-4711)\n",
    )
    assert not (repo / "state").exists()


def test_an_incident_prefix_that_could_start_no_ticket_id_is_an_error_at_its_line(
    repo: Path,
) -> None:
    (repo / "sop.toml").write_text('preflight = "warn"\nincident_prefix = "INC "\n')
    assert invoke("list") == (
        1,
        "",
        f"{repo / 'sop.toml'}:2:1: incident_prefix: must be the start of a ticket id (letters, "
        "digits and . _ : # / + -, at most 64, as INC-4711), as INC-\n",
    )


TARGETED = """\
sop: 1
id: targeted
title: Targeted
owner: team
reviewed: 2026-11-01
on: web
steps:
  - id: hello
    run: echo hello
"""


@pytest.fixture
def untrusted_inventories(repo: Path) -> Path:
    """An untrusted sop.toml naming an Ansible INI inventory and a dynamic one that leaves a
    mark when it is run; an SOP that targets the INI's group."""
    (repo / "runbooks" / "targeted.yaml").write_text(TARGETED)
    (repo / "hosts.ini").write_text("[web]\nweb1 ansible_host=192.0.2.1\nweb2\n")
    mark = repo / "cmdb-ran"
    program = repo / "cmdb.py"
    program.write_text(f"#!/bin/sh\ntouch {mark}\necho '{{}}'\n")
    program.chmod(0o755)
    (repo / "sop.toml").write_text('inventory = ["hosts.ini", "cmdb.py"]\n')
    return mark


def test_an_untrusted_projects_inventory_is_data_for_lint_and_a_simulated_drill(
    repo: Path, untrusted_inventories: Path
) -> None:
    code, out, err = invoke("lint", "runbooks/targeted.yaml")
    assert (code, err) == (0, "1 file(s) checked: 0 error(s), 0 warning(s)\n"), out

    drill = subprocess.run(  # in a process of its own: the drill guard goes on first
        [sys.executable, "-m", "sop", "drill", "--yes", "--pace=0", "--state-dir=s", "targeted"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert drill.returncode == 0, drill.stderr
    assert "web1" in drill.stdout and "web2" in drill.stdout

    code, out, _ = invoke("config", "show")
    assert (
        f"inventory = {repo / 'hosts.ini'} {repo / 'cmdb.py'}  ({repo / 'sop.toml'}:1:1; not "
        "trusted: read as data by lint, doctor and simulated drills, never by a run)"
    ) in out.splitlines()
    assert not untrusted_inventories.exists()  # the dynamic inventory never ran


def test_an_untrusted_projects_inventory_never_chooses_where_a_real_run_connects(
    repo: Path, untrusted_inventories: Path
) -> None:
    code, out, err = invoke("run", "--yes", "--state-dir", "state", "targeted")
    assert code == 1, out
    assert err.startswith(
        f"sop: {repo / 'sop.toml'}:1:1: inventory: warning: ignored: sop.toml is a project "
        "configuration you have not trusted, and `inventory` decides where a run connects"
    )
    assert "target 'web' needs an inventory" in err
    assert not untrusted_inventories.exists() and not (repo / "state").exists()
    # a dry run shows what a real run would do: the same
    code, out, err = invoke("run", "--dry-run", "targeted")
    assert code == 1 and "target 'web' needs an inventory" in err


def test_lint_checks_targets_against_an_untrusted_projects_static_inventory(repo: Path) -> None:
    (repo / "runbooks" / "dbs.yaml").write_text(TARGETED.replace("on: web", "on: db"))
    (repo / "hosts.ini").write_text("[web]\nweb1\n")
    (repo / "sop.toml").write_text('inventory = "hosts.ini"\n')

    code, out, _ = invoke("lint", "runbooks/dbs.yaml")

    assert (code, out) == (
        1,
        f"runbooks/dbs.yaml:6:1: on[0]: target 'db' is not a host or group of "
        f"{repo / 'hosts.ini'}\n",
    )
