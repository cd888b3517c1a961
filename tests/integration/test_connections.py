"""sop.executors.connections against real OpenSSH servers on loopback addresses."""

from __future__ import annotations

import getpass
import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from sop.executors.connections import (
    IDLE_POLL,
    ChangedHostKeyError,
    ConnectError,
    ConnectionPool,
    UnknownHostKeyError,
    close,
    connect,
    known_hosts_name,
)
from sop.model import Host
from tests.conftest import REPO

from .sshd import SilentListener, Sshd, SshdError, SshdHosts, SshHost, free_port, start_hosts


def fingerprint(public_key: Path) -> str:
    """The SHA256 fingerprint as OpenSSH itself prints it (not as paramiko computes it)."""
    out = subprocess.run(
        ["ssh-keygen", "-l", "-E", "sha256", "-f", str(public_key)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return out.split()[1]


def remote(conn: Any, command: str) -> str:
    result = conn.run(command, hide=True, in_stream=False)
    return str(result.stdout).strip()


@pytest.fixture
def empty_ssh_config(tmp_path: Path) -> Path:
    """An ssh_config with nothing in it, so the tests do not depend on ~/.ssh/config."""
    path = tmp_path / "ssh_config"
    path.write_text("")
    return path


@pytest.fixture
def opener(sshd_hosts: SshdHosts, empty_ssh_config: Path) -> Callable[..., Any]:
    """connect() defaulting to the fixture's known_hosts, no ssh_config, a short timeout."""

    def open_(host: Host, **kwargs: Any) -> Any:
        kwargs["known_hosts"] = kwargs.get("known_hosts") or sshd_hosts.known_hosts
        kwargs["ssh_config"] = kwargs.get("ssh_config") or empty_ssh_config
        kwargs.setdefault("connect_timeout", 5)
        return connect(host, **kwargs)

    return open_


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    return tmp_path / "marker"


@pytest.fixture
def agent(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A running ssh-agent, announced in SSH_AUTH_SOCK (so forwarding would be visible)."""
    out = subprocess.run(["ssh-agent", "-s"], check=True, capture_output=True, text=True).stdout
    env = dict(part.split("=", 1) for part in out.replace("\n", "").split(";") if "=" in part)
    monkeypatch.setenv("SSH_AUTH_SOCK", env["SSH_AUTH_SOCK"])
    try:
        yield env["SSH_AUTH_SOCK"]
    finally:
        subprocess.run(["kill", env["SSH_AGENT_PID"]], check=False)


def run_unless_refused(open_: Callable[[], Any], marker: Path) -> None:
    """What a step does: connect, then run a command that leaves a marker file behind."""
    conn = open_()
    try:
        remote(conn, f"touch {marker}")
    finally:
        conn.close()


class TestConnect:
    def test_runs_commands_on_three_different_hosts(
        self, sshd_hosts: SshdHosts, opener: Callable[..., Any]
    ) -> None:
        for index in range(3):
            host = sshd_hosts.host(index)
            conn = opener(host)
            try:
                assert remote(conn, "echo hello") == "hello"
                assert remote(conn, "hostname") == socket.gethostname()
                # SSH_CONNECTION is "client_ip client_port server_ip server_port"
                server = remote(conn, "echo $SSH_CONNECTION").split()[2:]
                assert server == [host.address, str(host.port)]
            finally:
                conn.close()

    def test_sets_tcp_nodelay(self, sshd_hosts: SshdHosts, opener: Callable[..., Any]) -> None:
        conn = opener(sshd_hosts.host(0))
        try:
            sock = conn.client.get_transport().sock
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        finally:
            conn.close()

    def test_an_idle_connection_wakes_its_transport_thread_once_a_second(
        self, sshd_hosts: SshdHosts, opener: Callable[..., Any], tmp_path: Path
    ) -> None:
        jump = sshd_hosts.hosts[0]
        ssh_config = tmp_path / "ssh_config"
        ssh_config.write_text(
            f"Host {sshd_hosts.hosts[1].address}\n    ProxyJump {jump.address}\n"
            f"Host {jump.address}\n    Port {jump.port}\n    User {sshd_hosts.user}\n"
            f"    IdentityFile {sshd_hosts.client_key}\n"
        )
        for conn in (opener(sshd_hosts.host(0)), opener(sshd_hosts.host(1), ssh_config=ssh_config)):
            try:
                hops = [conn, conn.gateway] if conn.gateway else [conn]
                # paramiko's own 0.1 s, ten wake-ups a second per idle host, is for the handshake
                assert [hop.transport.sock.gettimeout() for hop in hops] == [IDLE_POLL] * len(hops)
                assert remote(conn, "sleep 1.2; echo late") == "late"  # output after a sleep
            finally:
                close(conn)

    def test_close_ends_the_transport_thread_at_once(
        self, sshd_hosts: SshdHosts, opener: Callable[..., Any]
    ) -> None:
        conn = opener(sshd_hosts.host(0))
        transport = conn.client.get_transport()
        time.sleep(0.05)  # the transport thread asleep in its read
        started = time.monotonic()
        close(conn)
        transport.join(IDLE_POLL)
        assert not transport.is_alive()
        assert time.monotonic() - started < IDLE_POLL / 2

    def test_resolves_an_alias_through_ssh_config(self, sshd_hosts: SshdHosts) -> None:
        # Only the alias: address, port, user, key and known_hosts all come from ssh_config.
        conn = connect(Host(name="h02", address="h02"), ssh_config=sshd_hosts.ssh_config)
        try:
            entry = sshd_hosts.hosts[1]
            server = remote(conn, "echo $SSH_CONNECTION").split()[2:]
            assert server == [entry.address, str(entry.port)]
        finally:
            conn.close()

    def test_reads_the_hosts_an_include_brings_in(
        self, sshd_hosts: SshdHosts, tmp_path: Path
    ) -> None:
        """A config that keeps its hosts in config.d/ (Include, which paramiko does not read):
        the alias resolves to the host the included file describes."""
        (tmp_path / "config.d").mkdir()
        (tmp_path / "config.d" / "50-fleet.conf").write_text(sshd_hosts.ssh_config.read_text())
        ssh_config = tmp_path / "ssh_config"
        ssh_config.write_text(f"Include {tmp_path}/config.d/*.conf\n")
        conn = connect(Host(name="h03", address="h03"), ssh_config=ssh_config)
        try:
            entry = sshd_hosts.hosts[2]
            server = remote(conn, "echo $SSH_CONNECTION").split()[2:]
            assert server == [entry.address, str(entry.port)]
        finally:
            conn.close()

    def test_authenticates_with_the_agent_identity_agent_names(
        self, sshd_hosts: SshdHosts, agent: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """IdentityAgent (1Password, Secretive, gpg-agent...) is the only way in: no key file,
        $SSH_AUTH_SOCK's agent holds no key, ~/.ssh has none."""
        monkeypatch.setenv("HOME", str(tmp_path))
        subprocess.run(["ssh-add", "-q", str(sshd_hosts.client_key)], check=True, env=os.environ)
        holder = tmp_path / "agent.sock"
        os.symlink(agent, holder)  # the agent that holds the key, at a path of its own
        monkeypatch.setenv("SSH_AUTH_SOCK", str(tmp_path / "no-agent-here"))
        monkeypatch.setenv("AGENT_HOME", str(tmp_path))
        target = sshd_hosts.hosts[0]
        block = (
            f"Host h01\n    HostName {target.address}\n    Port {target.port}\n"
            f"    User {sshd_hosts.user}\n    UserKnownHostsFile {sshd_hosts.known_hosts}\n"
        )
        ssh_config = tmp_path / "ssh_config"
        ssh_config.write_text(block + "    IdentityAgent $AGENT_HOME/agent.sock\n")
        conn = connect(Host(name="h01", address="h01"), ssh_config=ssh_config, connect_timeout=5)
        try:
            assert remote(conn, "echo in") == "in"
        finally:
            close(conn)
        # `IdentityAgent none`: no agent at all, although $SSH_AUTH_SOCK's holds the key
        monkeypatch.setenv("SSH_AUTH_SOCK", agent)
        ssh_config.write_text(block + "    IdentityAgent none\n")
        with pytest.raises(ConnectError, match="authentication failed"):
            connect(Host(name="h01", address="h01"), ssh_config=ssh_config, connect_timeout=5)

    def test_checks_the_key_of_a_jump_host_too(
        self, sshd_hosts: SshdHosts, opener: Callable[..., Any], tmp_path: Path
    ) -> None:
        jump, target = sshd_hosts.hosts[0], sshd_hosts.hosts[1]
        ssh_config = tmp_path / "ssh_config"
        ssh_config.write_text(
            f"Host {target.address}\n    ProxyJump {jump.address}\n"
            f"Host {jump.address}\n    Port {jump.port}\n    User {sshd_hosts.user}\n"
            f"    IdentityFile {sshd_hosts.client_key}\n"
        )
        conn = opener(sshd_hosts.host(1), ssh_config=ssh_config)
        try:
            assert conn.gateway.host == jump.address
            server = remote(conn, "echo $SSH_CONNECTION").split()[2:]
            assert server == [target.address, str(target.port)]
        finally:
            close(conn)
        assert not conn.gateway.is_connected

        target_only = tmp_path / "known_hosts"
        target_only.write_text(sshd_hosts.known_hosts_line(target))
        with pytest.raises(UnknownHostKeyError) as info:
            opener(sshd_hosts.host(1), ssh_config=ssh_config, known_hosts=target_only)
        assert str(info.value).startswith(
            f"h02 (jump host {jump.address}): unknown host key for [{jump.address}]:{jump.port}:"
        )

    def test_does_not_import_fabric_until_it_connects(self) -> None:
        code = (
            "import sys, sop.executors.connections; "
            "print(sorted(m for m in ('fabric', 'paramiko', 'invoke') if m in sys.modules))"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], check=True, capture_output=True, text=True
        ).stdout
        assert out.strip() == "[]"


class TestHostKeys:
    def test_refuses_an_unknown_key_before_running_anything(
        self, sshd_hosts: SshdHosts, opener: Callable[..., Any], tmp_path: Path, marker: Path
    ) -> None:
        known_hosts = tmp_path / "known_hosts"
        known_hosts.write_text("")
        host = sshd_hosts.host(0)
        with pytest.raises(UnknownHostKeyError) as info:
            run_unless_refused(lambda: opener(host, known_hosts=known_hosts), marker)
        assert not marker.exists()
        name = f"[{host.address}]:{host.port}"
        assert str(info.value) == (
            f"h01: unknown host key for {name}: "
            f"ssh-ed25519 {fingerprint(sshd_hosts.host_key_pub)}; refusing to connect.\n"
            f"It is not in {known_hosts}.\n"
            "If that fingerprint matches the host's own (check out of band, e.g. "
            "`ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub` on its console), trust it with:\n"
            f"    mkdir -p -m 700 {tmp_path} && "
            f"ssh-keyscan -p {host.port} -t ssh-ed25519 {host.address} >> {known_hosts}"
        )

    def test_suggests_a_keyscan_that_makes_the_host_known(
        self, sshd_hosts: SshdHosts, opener: Callable[..., Any], tmp_path: Path, marker: Path
    ) -> None:
        known_hosts = tmp_path / "no-ssh-folder-yet" / "known_hosts"  # as on a fresh account
        host = sshd_hosts.host(1)
        with pytest.raises(UnknownHostKeyError) as info:
            opener(host, known_hosts=known_hosts)
        command = str(info.value).splitlines()[-1].strip()
        subprocess.run(command, shell=True, check=True, capture_output=True)
        assert stat.S_IMODE(known_hosts.parent.stat().st_mode) == 0o700
        # the positive control for the marker: with the key trusted, the command runs
        run_unless_refused(lambda: opener(host, known_hosts=known_hosts), marker)
        assert marker.exists()

    def test_a_pool_reads_known_hosts_again_once_it_changed(
        self, sshd_hosts: SshdHosts, tmp_path: Path
    ) -> None:
        known_hosts = tmp_path / "known_hosts"
        known_hosts.write_text("")
        host = sshd_hosts.host(2)
        with ConnectionPool(known_hosts=known_hosts) as pool:
            with pytest.raises(UnknownHostKeyError):
                pool.get(host)
            # the responder trusts the key mid-run, then retries: the same pool connects
            known_hosts.write_text(sshd_hosts.known_hosts_line(sshd_hosts.hosts[2]))
            result = pool.get(host).run("echo trusted", hide=True, in_stream=False)
            assert result.stdout == "trusted\n"

    def test_treats_a_changed_key_as_fatal(
        self, sshd_hosts: SshdHosts, opener: Callable[..., Any], tmp_path: Path, marker: Path
    ) -> None:
        impostor = sshd_hosts.start_impostor()
        known_hosts = tmp_path / "known_hosts"
        genuine_line = sshd_hosts.known_hosts_line(impostor)
        known_hosts.write_text("# trusted hosts\n" + genuine_line)
        host = sshd_hosts.model_host(impostor, name="db1")
        with pytest.raises(ChangedHostKeyError) as info:
            run_unless_refused(lambda: opener(host, known_hosts=known_hosts), marker)
        assert not marker.exists()
        name = known_hosts_name(impostor.address, impostor.port)
        offered = fingerprint(Path(f"{sshd_hosts.impostor_key(impostor)}.pub"))
        expected = fingerprint(sshd_hosts.host_key_pub)
        assert offered != expected
        assert str(info.value) == (
            f"db1: HOST KEY CHANGED for {name}; refusing to connect.\n"
            f"The host offered     ssh-ed25519 {offered}\n"
            f"known_hosts expects  ssh-ed25519 {expected} "
            f"({known_hosts}:2: {genuine_line.strip()})\n"
            "Someone may be intercepting the connection, or the host was reinstalled.\n"
            "Only after verifying the new key out of band, remove the old entry with:\n"
            f"    ssh-keygen -R '{name}' -f {known_hosts}"
        )

    def test_finds_a_changed_key_under_a_hashed_name(
        self, sshd_hosts: SshdHosts, opener: Callable[..., Any], tmp_path: Path
    ) -> None:
        impostor = sshd_hosts.start_impostor()
        known_hosts = tmp_path / "known_hosts"
        known_hosts.write_text(sshd_hosts.known_hosts_line(impostor))
        subprocess.run(
            ["ssh-keygen", "-H", "-f", str(known_hosts)], check=True, capture_output=True
        )
        assert impostor.address not in known_hosts.read_text()
        with pytest.raises(ChangedHostKeyError, match=rf"\({known_hosts}:\d+: \|1\|"):
            opener(sshd_hosts.model_host(impostor), known_hosts=known_hosts)

    def test_does_not_accept_a_port_22_entry_for_another_port(
        self, sshd_hosts: SshdHosts, opener: Callable[..., Any], tmp_path: Path, marker: Path
    ) -> None:
        host = sshd_hosts.host(2)
        right_key_wrong_port = sshd_hosts.known_hosts_line(SshHost("h03", host.address, 22))
        assert right_key_wrong_port.startswith(f"{host.address} ssh-ed25519 ")
        known_hosts = tmp_path / "known_hosts"
        known_hosts.write_text(right_key_wrong_port)
        with pytest.raises(UnknownHostKeyError) as info:
            run_unless_refused(lambda: opener(host, known_hosts=known_hosts), marker)
        assert not marker.exists()
        assert (
            f"(A key is known for {host.address} on port 22, but host keys are per port.)"
            in str(info.value).splitlines()
        )


class TestAgentForwarding:
    def test_is_off_by_default_even_if_ssh_config_turns_it_on(
        self, sshd_hosts: SshdHosts, opener: Callable[..., Any], agent: str, tmp_path: Path
    ) -> None:
        ssh_config = tmp_path / "ssh_config"
        ssh_config.write_text("Host *\n    ForwardAgent yes\n")
        conn = opener(sshd_hosts.host(0), ssh_config=ssh_config)
        try:
            assert conn.forward_agent is False
            assert remote(conn, "echo ${SSH_AUTH_SOCK:-none}") == "none"
        finally:
            conn.close()

    def test_is_on_when_the_inventory_asks(
        self, sshd_hosts: SshdHosts, opener: Callable[..., Any], agent: str
    ) -> None:
        host = sshd_hosts.host(0)._replace(forward_agent=True)
        conn = opener(host)
        try:
            assert conn.forward_agent is True
            assert remote(conn, "echo ${SSH_AUTH_SOCK:-none}").startswith("/tmp/ssh-")
        finally:
            conn.close()


class TestFailures:
    def test_times_out_on_a_host_that_never_speaks_ssh(
        self, opener: Callable[..., Any], silent_listener: SilentListener
    ) -> None:
        host = Host(name="hung", address=silent_listener.address, port=silent_listener.port)
        started = time.monotonic()
        with pytest.raises(ConnectError) as info:
            opener(host, connect_timeout=1.5)
        elapsed = time.monotonic() - started
        assert 1.0 <= elapsed < 4, elapsed
        assert str(info.value).startswith(
            f"hung ({getpass.getuser()}@{host.address} port {host.port}): no SSH handshake within 1.5s"
        )

    def test_reports_a_refused_connection(self, opener: Callable[..., Any]) -> None:
        port = free_port(["127.0.0.1"])
        with pytest.raises(
            ConnectError, match=rf"^gone \({getpass.getuser()}@127.0.0.1 port \d+\): .*refused"
        ):
            opener(Host(name="gone", address="127.0.0.1", port=port))

    def test_reports_a_key_the_host_does_not_accept(
        self, sshd_hosts: SshdHosts, opener: Callable[..., Any], tmp_path: Path
    ) -> None:
        stranger = tmp_path / "stranger"
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(stranger)], check=True
        )
        host = sshd_hosts.host(0)._replace(identity_file=str(stranger))
        with pytest.raises(
            ConnectError, match=rf"^h01 \({getpass.getuser()}@127.0.0.2 port \d+\): authentication"
        ):
            opener(host)


class TestConnectionPool:
    def test_its_connections_share_one_config_that_connecting_never_writes(
        self, sshd_hosts: SshdHosts, empty_ssh_config: Path
    ) -> None:
        """One fabric Config for the pool, only read: a connection costs 0.3 ms less, and no
        thread writes into what the others read (a task step copies it before it sets its
        runner class: test_run_ssh.py's task on two hosts)."""
        with ConnectionPool(
            known_hosts=sshd_hosts.known_hosts, ssh_config=empty_ssh_config, connect_timeout=5
        ) as pool:
            first, second = pool.get(sshd_hosts.host(0)), pool.get(sshd_hosts.host(1))
            assert first.config is second.config
            assert first.config._modifications == {}  # nothing set beyond its defaults
            assert first.inline_ssh_env is second.inline_ssh_env is True  # fabric's default
            assert remote(second, "echo $SSH_CONNECTION").split()[2] == "127.0.0.3"

    def test_reuses_one_connection_per_host_across_threads(
        self, sshd_hosts: SshdHosts, opener: Callable[..., Any]
    ) -> None:
        opened: list[Host] = []

        def counting(host: Host, **kwargs: Any) -> Any:
            opened.append(host)
            return opener(host, **kwargs)

        hosts = [sshd_hosts.host(0), sshd_hosts.host(1)]
        with ConnectionPool(known_hosts=sshd_hosts.known_hosts, opener=counting) as pool:
            with ThreadPoolExecutor(8) as workers:
                seen = list(
                    workers.map(
                        lambda i: remote(pool.get(hosts[i % 2]), "echo $SSH_CONNECTION"),
                        range(16),
                    )
                )
            # one TCP connection (client port) per host, whatever the number of steps
            assert len(set(seen)) == 2
            assert sorted(opened, key=lambda h: h.name) == hosts
            assert len(pool) == 2
            first = pool.get(hosts[0])
            assert pool.get(hosts[0]) is first
        assert not first.is_connected

    def test_reads_the_identity_file_once_and_again_once_it_changed(
        self,
        sshd_hosts: SshdHosts,
        empty_ssh_config: Path,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        import paramiko

        identity = tmp_path / "id_ed25519"
        shutil.copy(sshd_hosts.client_key, identity)
        identity.chmod(0o600)
        read: list[str] = []
        from_path = paramiko.PKey.from_path

        def counting(path: Any, password: str | None = None) -> Any:
            read.append(str(path))
            return from_path(path, password)

        monkeypatch.setattr(paramiko.PKey, "from_path", staticmethod(counting))
        hosts = [sshd_hosts.host(i)._replace(identity_file=str(identity)) for i in range(3)]
        with ConnectionPool(
            known_hosts=sshd_hosts.known_hosts, ssh_config=empty_ssh_config
        ) as pool:
            assert [remote(pool.get(h), "echo in") for h in hosts] == ["in"] * 3
            assert read == [str(identity)]
            pool.close_all()
            # another key in its place: read again, and refused by hosts that do not know it
            identity.unlink()
            subprocess.run(
                ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(identity)], check=True
            )
            with pytest.raises(ConnectError, match="authentication failed"):
                pool.get(hosts[0])
            assert read == [str(identity)] * 2

    def test_a_key_with_a_passphrase_is_left_to_paramiko(
        self, sshd_hosts: SshdHosts, opener: Callable[..., Any], tmp_path: Path
    ) -> None:
        locked = tmp_path / "locked"
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "a passphrase", "-f", str(locked)],
            check=True,
        )
        with pytest.raises(ConnectError, match="authentication failed"):
            opener(sshd_hosts.host(0)._replace(identity_file=str(locked)))

    def test_reconnects_after_a_dropped_connection(
        self, sshd_hosts: SshdHosts, opener: Callable[..., Any]
    ) -> None:
        with ConnectionPool(opener=opener) as pool:
            first = pool.get(sshd_hosts.host(0))
            before = remote(first, "echo $SSH_CONNECTION")
            first.client.get_transport().close()
            second = pool.get(sshd_hosts.host(0))
            assert second is not first
            assert remote(second, "echo $SSH_CONNECTION") != before

    def test_raises_connect_errors_to_the_caller_every_time(
        self, opener: Callable[..., Any], tmp_path: Path, sshd_hosts: SshdHosts
    ) -> None:
        empty = tmp_path / "known_hosts"
        empty.write_text("")
        with ConnectionPool(known_hosts=empty, opener=opener) as pool:
            for _ in range(2):
                with pytest.raises(UnknownHostKeyError):
                    pool.get(sshd_hosts.host(0))
            assert len(pool) == 0


DIAL_ORDER = """
import json, sys
from pathlib import Path
events = []
def hook(event, args):
    if event == "socket.connect":
        events.append(["connect", list(args[1])[:2]])
    elif event == "import" and args[0] == "fabric":
        events.append(["import fabric"])
sys.addaudithook(hook)
from sop.executors.connections import ConnectError, close, connect
from sop.model import Host
host = Host(**json.loads(sys.argv[1]))
try:
    conn = connect(host, known_hosts=Path(sys.argv[2]), ssh_config=Path(sys.argv[3]),
                   connect_timeout=5)
except ConnectError as exc:
    events.append(["error", str(exc)])
else:
    close(conn)
print(json.dumps(events))
"""


def dial_order(host: Host, known_hosts: Path, ssh_config: Path) -> list[list[Any]]:
    """What a fresh process connecting to `host` did, in order: its TCP connects (address,
    port), the moment it loaded fabric, and the error it raised if it raised one."""
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            DIAL_ORDER,
            json.dumps(host._asdict()),
            str(known_hosts),
            str(ssh_config),
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    )
    events: list[list[Any]] = json.loads(done.stdout)
    return events


class TestDialledEarly:
    """A host is dialled before fabric and paramiko load (their import takes 0.1 s; the
    host's sshd starts meanwhile), only when no ssh config can send it elsewhere, and once."""

    def test_a_host_is_dialled_once_before_fabric_loads(
        self, sshd_hosts: SshdHosts, empty_ssh_config: Path
    ) -> None:
        host = sshd_hosts.host(1)
        events = dial_order(host, sshd_hosts.known_hosts, empty_ssh_config)
        assert events == [["connect", [host.address, host.port]], ["import fabric"]]

    def test_an_alias_is_dialled_only_where_the_config_sends_it(
        self, sshd_hosts: SshdHosts
    ) -> None:
        entry = sshd_hosts.hosts[2]
        events = dial_order(
            Host(name="h03", address="h03"), sshd_hosts.known_hosts, sshd_hosts.ssh_config
        )
        assert events == [["import fabric"], ["connect", [entry.address, entry.port]]]

    def test_a_refused_dial_is_reported_as_before_and_not_tried_again(
        self, empty_ssh_config: Path, sshd_hosts: SshdHosts
    ) -> None:
        port = free_port(["127.0.0.1"])
        events = dial_order(
            Host(name="gone", address="127.0.0.1", port=port),
            sshd_hosts.known_hosts,
            empty_ssh_config,
        )
        assert events[:2] == [["connect", ["127.0.0.1", port]], ["import fabric"]]
        assert events[2][0] == "error" and len(events) == 3
        assert events[2][1].startswith(f"gone ({getpass.getuser()}@127.0.0.1 port {port}): ")
        assert "refused" in events[2][1]

    def test_a_config_that_routes_leaves_the_dial_to_the_resolved_connection(
        self, sshd_hosts: SshdHosts, tmp_path: Path
    ) -> None:
        """Any routing option (here a Port for every host) and nothing is dialled before the
        config is read: not even the inventory's own address."""
        host = sshd_hosts.host(0)
        config = tmp_path / "ssh_config"
        config.write_text(f"Host nothing-here\n  Port {host.port}\n")
        events = dial_order(host, sshd_hosts.known_hosts, config)
        assert events == [["import fabric"], ["connect", [host.address, host.port]]]


class TestTheSshdFixture:
    def test_scales_to_twenty_hosts_in_parallel(
        self, sshd_factory: Callable[[int], SshdHosts], empty_ssh_config: Path
    ) -> None:
        hosts = sshd_factory(20)
        assert len(hosts.pids) == 2  # at most 16 listen addresses per sshd

        def echo_address(host: Host) -> str:
            conn = connect(host, known_hosts=hosts.known_hosts, ssh_config=empty_ssh_config)
            try:
                return remote(conn, "echo $SSH_CONNECTION").split()[2]
            finally:
                conn.close()

        barrier = threading.Barrier(20)

        def at_once(host: Host) -> str:
            barrier.wait(timeout=10)
            return echo_address(host)

        with ThreadPoolExecutor(20) as workers:
            addresses = list(workers.map(at_once, hosts.model_hosts()))
        assert addresses == [h.address for h in hosts.hosts]
        assert len(set(addresses)) == 20

    def test_writes_an_inventory_naming_every_host(
        self, sshd_hosts: SshdHosts, tmp_path: Path
    ) -> None:
        import yaml

        path = sshd_hosts.write_inventory(tmp_path / "inventory.yaml", {"web": ["h01", "h02"]})
        data = yaml.safe_load(path.read_text())
        assert data["hosts"]["h01"] == {
            "address": "127.0.0.2",
            "port": sshd_hosts.port,
            "user": sshd_hosts.user,
            "identity_file": str(sshd_hosts.client_key),
        }
        assert data["groups"] == {"all": ["h01", "h02", "h03", "h04"], "web": ["h01", "h02"]}

    def test_fails_rather_than_skips_when_sshd_rejects_its_config(self, tmp_path: Path) -> None:
        missing = tmp_path / "no_such_key"
        port = free_port(["127.0.0.2"])
        server = Sshd(("127.0.0.2",), port, missing, missing, tmp_path, "x")
        with pytest.raises(SshdError, match=r"^sshd rejects .*sshd_config\.x: .*no_such_key"):
            server.start()

    def test_fails_rather_than_skips_when_sshd_cannot_listen(
        self, sshd_hosts: SshdHosts, tmp_path: Path
    ) -> None:
        taken = sshd_hosts.hosts[0]  # the session's sshd already listens there
        key = sshd_hosts.host_key
        server = Sshd((taken.address,), taken.port, key, key, tmp_path, "y")
        with pytest.raises(SshdError, match=r"(?s)does not answer.*Bind to port"):
            server.start()
        assert server.process is None

    def test_leaves_no_process_behind(self, tmp_path: Path) -> None:
        with start_hosts(2, tmp_path / "sshd", first_index=100) as hosts:
            pids = hosts.pids
            assert pids
        for pid in pids:
            with pytest.raises(ProcessLookupError):
                os.kill(pid, 0)


def test_the_fixture_counts_the_cpu_its_sshd_spent_serving(sshd_hosts: SshdHosts) -> None:
    """bench/ bounds a fan-out's time from below by what the hosts' sshd cost: it must see
    the CPU of connections served (each connection's sshd child, counted once reaped)."""
    before = sshd_hosts.served_cpu()
    for host in sshd_hosts.hosts[:3] * 3:
        subprocess.run(
            ["ssh", "-F", str(sshd_hosts.ssh_config), "-o", "BatchMode=yes", host.name, "true"],
            check=True,
            capture_output=True,
            timeout=30,
        )
    deadline = time.monotonic() + 10
    while sshd_hosts.served_cpu() == before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert sshd_hosts.served_cpu() > before
