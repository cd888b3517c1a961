"""ssh_config `Include`, read as OpenSSH reads it (paramiko keeps it as an unknown option):
relative to ~/.ssh, wildcards in sorted order, inside a Host block, missing files skipped, at
most 16 levels; a config sop cannot read is an error naming the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from sop.executors.sshconfig import MAX_DEPTH, SshConfigError, read_ssh_config, routes_as_given


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / ".ssh" / "config.d").mkdir(parents=True)
    return tmp_path


def lookup(config: Path, host: str) -> dict[str, object]:
    return dict(read_ssh_config([config]).lookup(host))


def test_a_relative_include_is_read_from_the_users_ssh_folder(home: Path) -> None:
    ssh = home / ".ssh"
    (ssh / "config.d" / "20-db.conf").write_text("Host db\n  HostName 10.0.0.5\n  Port 2201\n")
    (ssh / "config.d" / "10-web.conf").write_text("Host web\n  HostName 10.0.0.7\n")
    (ssh / "config").write_text("Include config.d/*.conf\nHost *\n  User ops\n")
    assert lookup(ssh / "config", "db") == {
        "hostname": "10.0.0.5",
        "port": "2201",
        "user": "ops",
    }
    assert lookup(ssh / "config", "web")["hostname"] == "10.0.0.7"


def test_the_first_value_wins_in_sorted_order_as_in_openssh(home: Path) -> None:
    ssh = home / ".ssh"
    (ssh / "config.d" / "b.conf").write_text("Host app\n  User second\n")
    (ssh / "config.d" / "a.conf").write_text("Host app\n  User first\n")
    (ssh / "config").write_text("Include ~/.ssh/config.d/*\n")
    assert lookup(ssh / "config", "app")["user"] == "first"


def test_an_include_inside_a_host_block_applies_to_that_host(home: Path) -> None:
    ssh = home / ".ssh"
    (ssh / "jump.conf").write_text("  ProxyJump bastion\n")
    (ssh / "config").write_text("Host inner\n  Include jump.conf\n  Port 2222\nHost other\n")
    assert lookup(ssh / "config", "inner")["proxyjump"] == "bastion"
    assert "proxyjump" not in lookup(ssh / "config", "other")


def test_a_missing_file_or_an_empty_match_is_skipped(home: Path) -> None:
    ssh = home / ".ssh"
    (ssh / "config").write_text("Include nothing-here.conf none.d/*\nHost a\n  Port 2022\n")
    assert lookup(ssh / "config", "a")["port"] == "2022"


def test_include_without_space_before_equals_and_in_any_case(home: Path) -> None:
    ssh = home / ".ssh"
    (ssh / "x.conf").write_text("Host x\n  Port 2023\n")
    (ssh / "config").write_text("INCLUDE=x.conf\n")
    assert lookup(ssh / "config", "x")["port"] == "2023"


def test_an_include_loop_stops_at_the_depth_openssh_allows(home: Path) -> None:
    ssh = home / ".ssh"
    (ssh / "config").write_text("Include config\n")
    with pytest.raises(SshConfigError) as caught:
        read_ssh_config([ssh / "config"])
    assert str(caught.value) == f"{ssh / 'config'}:1: Include nested more than {MAX_DEPTH} deep"


def test_an_unreadable_included_file_names_itself(home: Path) -> None:
    ssh = home / ".ssh"
    (ssh / "bad.conf").write_bytes(b"Host \xff\n")
    (ssh / "config").write_text("Include bad.conf\n")
    with pytest.raises(SshConfigError) as caught:
        read_ssh_config([ssh / "config"])
    assert str(caught.value).startswith(f"{ssh / 'bad.conf'}: ")


DEBIAN_DEFAULT = """\
# This is the ssh client system-wide configuration file.
Include /etc/ssh/ssh_config.d/*.conf

Host *
#   ForwardAgent no
#   Port 22
#   ProxyCommand ssh -q -W %h:%p gateway.example.com
    SendEnv LANG LC_*
    HashKnownHosts yes
    GSSAPIAuthentication yes
"""


@pytest.mark.parametrize(
    ("text", "as_given"),
    [
        ("", True),
        (DEBIAN_DEFAULT, True),  # the options that route are there in comments only
        ("Host *\n  User ops\n  IdentityFile ~/.ssh/ops\n  IdentitiesOnly yes\n", True),
        ("Host db\n  HostName 10.0.0.5\n", False),  # an alias: sent to another address
        ("Host *\n  Port 2222\n", False),
        ("Host *\n\tport=2222\n", False),  # `=`, a tab, any case
        ("Host 10.*\n  ProxyJump bastion\n", False),  # behind a jump host: never dialled
        ("Host *\n  ProxyCommand nc %h %p\n", False),
        ("Match host db exec true\n  User ops\n", False),  # anything, under conditions
        ("CanonicalizeHostname yes\n", False),
        ("Host *\n  AddressFamily inet6\n", False),
        ("Host *\n  BindAddress 10.0.0.9\n", False),
    ],
)
def test_a_config_routes_hosts_as_given_unless_an_option_sends_them_elsewhere(
    home: Path, text: str, as_given: bool
) -> None:
    """Whether sop may dial a host's inventory address before reading the config with
    paramiko (sop.executors.connections): only when no line could send it elsewhere."""
    config = home / ".ssh" / "config"
    config.write_text(text)
    assert routes_as_given([config, home / "missing"]) is as_given


def test_a_routing_option_an_include_brings_in_counts(home: Path) -> None:
    ssh = home / ".ssh"
    (ssh / "config.d" / "50-jump.conf").write_text("Host 10.*\n  ProxyJump bastion\n")
    (ssh / "config").write_text("Include config.d/*.conf\nHost *\n  User ops\n")
    assert routes_as_given([ssh / "config"]) is False
    (ssh / "config.d" / "50-jump.conf").write_text("Host *\n  ServerAliveInterval 30\n")
    assert routes_as_given([ssh / "config"]) is True


def test_a_config_that_cannot_be_read_is_not_taken_as_routing_nothing(home: Path) -> None:
    config = home / ".ssh" / "config"
    config.write_text("Include loop\n")
    (home / ".ssh" / "loop").write_text("Include loop\n")  # nested past OpenSSH's depth
    assert routes_as_given([config]) is False
