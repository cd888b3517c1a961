"""The team configuration: found, merged, checked at its file:line, and trusted only as far as
the user said: an untrusted project file cannot name what runs or sends anything."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sop.audit.sharing import UnsafeFileError
from sop.config.files import read_config_file
from sop.config.team import Setting, check_config_file, load_team_config
from sop.config.trust import trust
from sop.errors import Location, SopFileError
from sop.model import Notifier

PROJECT = """\
preflight = "warn"   # safe from anyone
inventory = ["inventories/prod.ini", "/etc/sop/extra.yaml"]

[[notify]]
url = "https://hooks.example.com/services/T0/B0/xyz"
format = "slack"
events = ["step-failed", "run-finished"]

[[notify]]
command = ["/usr/local/bin/page", "--team", "ops"]
"""


@pytest.fixture
def home(tmp_path: Path) -> dict[str, str]:
    """The user's configuration folder, in the test's folder."""
    return {"XDG_CONFIG_HOME": str(tmp_path / "xdg")}


def project(tmp_path: Path, text: str = PROJECT) -> Path:
    repo = tmp_path / "repo"
    (repo / "runbooks" / "disk").mkdir(parents=True, exist_ok=True)
    (repo / "sop.toml").write_text(text)
    return repo


def user(env: dict[str, str], text: str) -> Path:
    path = Path(env["XDG_CONFIG_HOME"]) / "sop" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o600)
    return path


def test_an_untrusted_project_file_gives_only_what_cannot_run_or_send(
    tmp_path: Path, home: dict[str, str]
) -> None:
    repo = project(tmp_path)
    config = load_team_config(repo / "runbooks" / "disk", home)  # found upward

    toml = repo / "sop.toml"
    assert config.settings == {"preflight": Setting("preflight", "warn", Location(str(toml), 1, 1))}
    assert config.notifiers == ()
    hint = f"read the file, then `sop config trust {toml}`"
    assert [str(p) for p in config.ignored] == [
        f"{toml}:2:1: inventory: warning: ignored: sop.toml is a project configuration you have "
        "not trusted, and `inventory` decides where a run connects and may be a program (lint, "
        f"doctor and simulated drills read it as data, and run no program); {hint}",
        f"{toml}:4:1: notify: warning: ignored: sop.toml is a project configuration you have "
        f"not trusted, and `notify` could make sop run or send something; {hint}",
    ]
    # its inventories count as data only (lint, doctor, simulated drills), never for a run
    assert config.data_only == {
        "inventory": Setting(
            "inventory",
            (str(repo / "inventories/prod.ini"), "/etc/sop/extra.yaml"),
            Location(str(toml), 2, 1),
        )
    }


def test_a_trusted_project_file_counts_until_it_changes(
    tmp_path: Path, home: dict[str, str]
) -> None:
    repo = project(tmp_path)
    toml = repo / "sop.toml"
    assert trust(read_config_file(toml), home) is True
    assert trust(read_config_file(toml), home) is False  # already there

    config = load_team_config(repo, home)

    assert config.value("inventory") == (str(repo / "inventories/prod.ini"), "/etc/sop/extra.yaml")
    assert config.notifiers == (
        Notifier(
            url="https://hooks.example.com/services/T0/B0/xyz",
            format="slack",
            events=frozenset({"step-failed", "run-finished"}),
            where=Location(str(toml), 4, 1),
        ),
        Notifier(command=("/usr/local/bin/page", "--team", "ops"), where=Location(str(toml), 9, 1)),
    )
    assert config.notifiers[0].label == "https://hooks.example.com"  # never the token's path
    assert config.ignored == () and config.data_only == {}

    toml.write_text(PROJECT.replace("ops", "all"))  # a pull request changes it
    changed = load_team_config(repo, home)
    assert changed.notifiers == () and [p.path for p in changed.ignored] == ["inventory", "notify"]


def test_the_users_file_is_trusted_and_the_projects_values_win(
    tmp_path: Path, home: dict[str, str]
) -> None:
    mine = user(
        home,
        'preflight = "off"\nstate_dir = "~/incidents"\n[[notify]]\ncommand = ["notify-send"]\n',
    )
    repo = project(tmp_path, 'preflight = "check"\n')

    config = load_team_config(repo, home)

    assert config.value("preflight") == "check"
    assert config.value("state_dir") == str(Path.home() / "incidents")
    assert config.notifiers == (
        Notifier(command=("notify-send",), where=Location(str(mine), 3, 1)),
    )
    assert [(s.kind, s.trusted) for s in config.sources] == [("user", True), ("project", False)]


def test_a_users_file_others_can_write_is_refused(tmp_path: Path, home: dict[str, str]) -> None:
    mine = user(home, 'preflight = "off"\n')
    mine.chmod(0o666)

    with pytest.raises(UnsafeFileError) as caught:
        load_team_config(tmp_path, home)

    assert str(caught.value) == (
        f"your sop configuration {mine} is writable by other users; run `chmod go-w {mine}` "
        "first (and check that nobody changed it)"
    )


def test_a_trust_list_others_can_write_is_refused(tmp_path: Path, home: dict[str, str]) -> None:
    repo = project(tmp_path)
    trust(read_config_file(repo / "sop.toml"), home)
    listed = Path(home["XDG_CONFIG_HOME"]) / "sop" / "trusted-projects"
    os.chmod(listed, 0o646)

    with pytest.raises(UnsafeFileError, match="trusted-projects is writable by other users"):
        load_team_config(repo, home)


def test_every_problem_is_named_at_its_line(tmp_path: Path, home: dict[str, str]) -> None:
    mine = user(
        home,
        'preflight = "sometimes"\nstatedir = "/x"\n\n[[notify]]\nurl = "ftp://x"\n'
        'events = ["finished"]\ntimeout = 0\n\n[[notify]]\ncommand = "page ops"\n'
        'format = "slack"\nretry = 2\n\n[[notify]]\nname = "both"\n',
    )

    with pytest.raises(SopFileError) as caught:
        load_team_config(tmp_path, home)

    assert str(caught.value).splitlines() == [
        f"{mine}:1:1: preflight: must be one of check, warn, off",
        f"{mine}:2:1: statedir: unknown setting (known: library, inventory, state_dir, "
        "known_hosts, ssh_config, preflight, roles, incident_prefix, notify)",
        f"{mine}:5:1: notify[0].url: must be an http:// or https:// URL",
        f"{mine}:6:1: notify[0].events: must be a list of: run-started, step-failed, "
        "approval-needed, status-update, run-paused, run-finished",
        f"{mine}:7:1: notify[0].timeout: must be seconds, 0 to 60",
        f"{mine}:12:1: notify[1].retry: unknown key (known: url, command, format, events, "
        "name, timeout, retries)",
        f"{mine}:10:1: notify[1].command: must be a list of strings (argv, no shell)",
        f"{mine}:11:1: notify[1].format: must be slack or json, and only with `url`",
        f"{mine}:14:1: notify[2]: give either `url` or `command` (one of them)",
    ]


def test_a_file_that_is_not_toml_is_named_at_its_line_and_column(tmp_path: Path) -> None:
    repo = project(tmp_path, 'library = "runbooks"\npreflight = warn\n')
    cut = project(tmp_path / "cut", 'inventory = [\n  "a",\n')

    with pytest.raises(SopFileError) as caught:
        check_config_file(read_config_file(repo / "sop.toml"))
    with pytest.raises(SopFileError) as at_the_end:
        check_config_file(read_config_file(cut / "sop.toml"))

    assert str(caught.value) == f"{repo / 'sop.toml'}:2:13: not valid TOML: Invalid value"
    assert str(at_the_end.value) == f"{cut / 'sop.toml'}:3:1: not valid TOML: Invalid value"
