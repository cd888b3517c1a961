"""`sop config` and the defaults the team configuration gives the commands, as a user calls
them: one sop.toml, trusted or not."""

from __future__ import annotations

import json
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
        f"project  {toml} (not trusted: its notifications, inventory, SSH files and state "
        f"directory are ignored until `sop config trust {toml}`)"
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
        "state_dir, known_hosts, ssh_config, preflight, roles, notify)\n",
    )
