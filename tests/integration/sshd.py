"""Real OpenSSH servers on loopback addresses, for tests that need real SSH.

`start_hosts(count, workdir)` starts one `sshd` per 16 addresses (127.0.0.2, 127.0.0.3, ...),
all on one free high port; each address stands for a different host. Keys, `authorized_keys`,
`known_hosts` and an `ssh_config` are written to `workdir`. Nothing ever binds 0.0.0.0.

Why the sshd_config looks the way it does:
- one sshd listens on at most 16 addresses (OpenSSH's MAX_LISTEN_SOCKS), hence one per 16;
- keys under /tmp are not "safe" for sshd's StrictModes, hence `StrictModes no`;
- many parallel logins trip the default `MaxStartups 10:30:100`, hence a larger one;
- Debian's bash sources ~/.bashrc for commands run by sshd unless SHLVL says it is not
  top-level; root's .bashrc here costs ~80 ms per command, hence `SetEnv SHLVL=1`;
- a host's own environment (a tool's `PATH`, `ETCDCTL_ENDPOINTS`) is given with `env=`: sshd's
  `SetEnv` sets it for every session, as a host's profile would;
- sshd re-executes itself, so it is started by absolute path, and it needs /run/sshd.

If a server cannot start, `SshdError` is raised: a test that needs SSH fails, it never skips.
"""

from __future__ import annotations

import contextlib
import ctypes
import getpass
import ipaddress
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from sop.model import Host

SSHD = "/usr/sbin/sshd"
SSH_KEYGEN = "/usr/bin/ssh-keygen"
ADDRESSES_PER_SSHD = 16
FIRST_ADDRESS = ipaddress.IPv4Address("127.0.0.2")
START_TIMEOUT = 10.0
PR_SET_PDEATHSIG = 1


class SshdError(RuntimeError):
    """A test SSH server could not be started."""


class SshHost(NamedTuple):
    name: str
    address: str
    port: int


def loopback_address(index: int) -> str:
    """The index-th test address: 127.0.0.2, 127.0.0.3, ... (127.0.0.1 is left alone)."""
    return str(FIRST_ADDRESS + index)


def generate_key(path: Path) -> Path:
    """An unencrypted ed25519 key pair at `path` and `path`.pub; returns `path`."""
    subprocess.run(
        [SSH_KEYGEN, "-q", "-t", "ed25519", "-N", "", "-C", path.name, "-f", str(path)],
        check=True,
        capture_output=True,
    )
    return path


def public_key(path: Path) -> str:
    """`type base64` of a key pair's public half (the comment dropped)."""
    kind, blob = Path(f"{path}.pub").read_text().split()[:2]
    return f"{kind} {blob}"


def known_hosts_name(address: str, port: int) -> str:
    """How OpenSSH names a host in known_hosts: bare for port 22, `[addr]:port` otherwise."""
    return address if port == 22 else f"[{address}]:{port}"


def free_port(addresses: Sequence[str]) -> int:
    """A port that is free on every one of `addresses` right now."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind((addresses[0], 0))
            port: int = probe.getsockname()[1]
        if port >= 1024 and all(_bindable(a, port) for a in addresses[1:]):
            return port
    raise SshdError(f"no port is free on all of {addresses[0]}..{addresses[-1]}")


def _bindable(address: str, port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind((address, port))
        except OSError:
            return False
    return True


def wait_for_banner(address: str, port: int, deadline: float) -> bool:
    """True once `address:port` accepts a connection and sends an SSH banner."""
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((address, port), timeout=1) as sock:
                if sock.recv(64).startswith(b"SSH-"):
                    return True
        except OSError:
            pass
        time.sleep(0.02)
    return False


@dataclass
class Sshd:
    """One `sshd -D -e` process serving up to 16 addresses on one port."""

    addresses: tuple[str, ...]
    port: int
    host_key: Path
    authorized_keys: Path
    workdir: Path
    label: str
    env: Mapping[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def config_path(self) -> Path:
        return self.workdir / f"sshd_config.{self.label}"

    @property
    def log_path(self) -> Path:
        return self.workdir / f"sshd.{self.label}.log"

    def config_text(self) -> str:
        listen = "".join(f"ListenAddress {a}:{self.port}\n" for a in self.addresses)
        return (
            listen
            + f"HostKey {self.host_key}\n"
            + f"AuthorizedKeysFile {self.authorized_keys}\n"
            + "PidFile none\n"
            "StrictModes no\n"
            "UsePAM no\n"
            "PubkeyAuthentication yes\n"
            "PasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\n"
            "PermitRootLogin prohibit-password\n"
            "AllowAgentForwarding yes\n"
            "X11Forwarding no\n"
            "MaxStartups 200:30:400\n"
            "MaxSessions 100\n"
            "PrintMotd no\n"
            "PrintLastLog no\n"
            "UseDNS no\n"
            + "".join(f"SetEnv {name}={value}\n" for name, value in self.env.items())
            + "SetEnv SHLVL=1\n"
            "LogLevel INFO\n"
            "Subsystem sftp internal-sftp\n"
        )

    def start(self) -> None:
        if len(self.addresses) > ADDRESSES_PER_SSHD:
            raise SshdError(f"one sshd serves at most {ADDRESSES_PER_SSHD} addresses")
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        self.config_path.write_text(self.config_text())
        check = subprocess.run([SSHD, "-t", "-f", str(self.config_path)], capture_output=True)
        if check.returncode != 0:
            raise SshdError(f"sshd rejects {self.config_path}: {check.stderr.decode().strip()}")
        with self.log_path.open("wb") as log:  # a file, never a pipe: a full pipe blocks sshd
            self.process = subprocess.Popen(
                [SSHD, "-D", "-e", "-f", str(self.config_path)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,
            )
        deadline = time.monotonic() + START_TIMEOUT
        # A banner alone proves nothing: another server may hold the address. sshd -e logs
        # "Server listening on ADDR port PORT." for each socket it really bound.
        for address in self.addresses:
            if not self._wait_listening(address, deadline) or not wait_for_banner(
                address, self.port, deadline
            ):
                self.stop()
                raise SshdError(
                    f"sshd {self.label} does not answer on {address}:{self.port}; "
                    f"its log says:\n{self.log_tail()}"
                )

    def _wait_listening(self, address: str, deadline: float) -> bool:
        listening = f"Server listening on {address} port {self.port}."
        failed = f"Bind to port {self.port} on {address} failed"
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                return False
            log = self.log_path.read_text(errors="replace")
            if listening in log:
                return True
            if failed in log:
                return False
            time.sleep(0.01)
        return False

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self.process = None


def _die_with_parent() -> None:
    """Runs in the child before exec: SIGTERM it if the test process dies without teardown.

    (Linux ties this to the thread that started the child; start servers from the main thread.)
    """
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class SilentListener:
    """Accepts TCP connections on a loopback address and never says a word (a hung host)."""

    def __init__(self, address: str = "127.0.0.1") -> None:
        self._server = socket.create_server((address, 0))
        self.address: str = address
        self.port: int = self._server.getsockname()[1]
        self._held: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, name="silent-listener", daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            self._held.append(conn)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._server.shutdown(socket.SHUT_RDWR)
        self._server.close()
        self._thread.join(timeout=5)
        for conn in self._held:
            conn.close()

    def __enter__(self) -> SilentListener:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SshdHosts:
    """`count` hosts served by real sshd processes; see `start_hosts`."""

    def __init__(
        self,
        count: int,
        workdir: Path,
        *,
        first_index: int = 0,
        env: Mapping[str, str] | None = None,
    ) -> None:
        if count < 1:
            raise ValueError("count must be at least 1")
        self.workdir = workdir
        self.env = dict(env or {})
        self.user = getpass.getuser()
        addresses = [loopback_address(first_index + i) for i in range(count)]
        self._next_index = first_index + count
        self.port = free_port(addresses)
        width = max(2, len(str(count)))
        self.hosts: list[SshHost] = [
            SshHost(f"h{i + 1:0{width}d}", a, self.port) for i, a in enumerate(addresses)
        ]
        self.host_key = generate_key(workdir / "host_key")
        self.host_key_pub = Path(f"{self.host_key}.pub")
        self.client_key = generate_key(workdir / "client_key")
        self.authorized_keys = workdir / "authorized_keys"
        self.authorized_keys.write_text(public_key(self.client_key) + "\n")
        self.known_hosts = workdir / "known_hosts"
        self.known_hosts.write_text("".join(self.known_hosts_line(h) for h in self.hosts))
        self.ssh_config = workdir / "ssh_config"
        self.ssh_config.write_text("".join(self._ssh_config_block(h) for h in self.hosts))
        self._servers: list[Sshd] = []
        self._listeners: list[SilentListener] = []

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> SshdHosts:
        try:
            for n, start in enumerate(range(0, len(self.hosts), ADDRESSES_PER_SSHD)):
                chunk = self.hosts[start : start + ADDRESSES_PER_SSHD]
                self._start_server(tuple(h.address for h in chunk), self.host_key, f"main{n}")
        except BaseException:
            self.close()
            raise
        return self

    def _start_server(self, addresses: tuple[str, ...], host_key: Path, label: str) -> Sshd:
        server = Sshd(
            addresses, self.port, host_key, self.authorized_keys, self.workdir, label, self.env
        )
        self._servers.append(server)
        server.start()
        return server

    def served_cpu(self) -> float:
        """CPU seconds (user + system) the sshd servers have used so far, with the connections
        they served: each is an sshd child of its server, its CPU counted there once reaped."""
        ticks = 0
        for server in self._servers:
            if server.process is not None:
                stat = Path(f"/proc/{server.process.pid}/stat").read_text()
                fields = stat.rsplit(")", 1)[1].split()  # from field 3 (state) on
                ticks += sum(int(v) for v in fields[11:15])  # utime stime cutime cstime
        return ticks / os.sysconf("SC_CLK_TCK")

    def close(self) -> None:
        for server in self._servers:
            server.stop()
        for listener in self._listeners:
            listener.close()
        self._servers.clear()
        self._listeners.clear()

    def __enter__(self) -> SshdHosts:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def pids(self) -> list[int]:
        return [s.process.pid for s in self._servers if s.process is not None]

    # -- files -------------------------------------------------------------------------------

    def known_hosts_line(self, host: SshHost, key: Path | None = None) -> str:
        """The known_hosts line for `host` with this fixture's host key (or `key`'s)."""
        key_text = public_key(key or self.host_key)
        return f"{known_hosts_name(host.address, host.port)} {key_text}\n"

    def _ssh_config_block(self, host: SshHost) -> str:
        return (
            f"Host {host.name}\n"
            f"    HostName {host.address}\n"
            f"    Port {host.port}\n"
            f"    User {self.user}\n"
            f"    IdentityFile {self.client_key}\n"
            f"    IdentitiesOnly yes\n"
            f"    UserKnownHostsFile {self.known_hosts}\n"
            f"    StrictHostKeyChecking yes\n"
        )

    def host(self, name_or_index: str | int) -> Host:
        """A `sop.model.Host` for one of the hosts, by name or position."""
        if isinstance(name_or_index, int):
            entry = self.hosts[name_or_index]
        else:
            entry = next(h for h in self.hosts if h.name == name_or_index)
        return self.model_host(entry)

    def model_host(self, entry: SshHost, **overrides: Any) -> Host:
        host = Host(
            name=entry.name,
            address=entry.address,
            port=entry.port,
            user=self.user,
            identity_file=str(self.client_key),
        )
        return host._replace(**overrides)

    def model_hosts(self) -> list[Host]:
        return [self.model_host(h) for h in self.hosts]

    def inventory_data(
        self, groups: Mapping[str, Iterable[str]] | None = None
    ) -> dict[str, object]:
        """The inventory as plain data: every host, group `all`, plus `groups`."""
        hosts = {
            h.name: {
                "address": h.address,
                "port": h.port,
                "user": self.user,
                "identity_file": str(self.client_key),
            }
            for h in self.hosts
        }
        all_groups = {"all": [h.name for h in self.hosts]}
        all_groups.update({name: list(members) for name, members in (groups or {}).items()})
        return {"hosts": hosts, "groups": all_groups}

    def write_inventory(
        self, path: Path, groups: Mapping[str, Iterable[str]] | None = None
    ) -> Path:
        """Write an inventory YAML (see sop/format/schema.py INVENTORY) listing every host."""
        path.write_text(yaml.safe_dump(self.inventory_data(groups), sort_keys=False))
        return path

    # -- misbehaving hosts -------------------------------------------------------------------

    def start_impostor(self) -> SshHost:
        """A new sshd with a DIFFERENT host key on a fresh address and this fixture's port.

        It accepts this fixture's client key. `known_hosts_line(impostor)` gives the line a
        client would hold if it had known the host under the genuine key.
        """
        address = loopback_address(self._next_index)
        self._next_index += 1
        if not _bindable(address, self.port):
            raise SshdError(f"{address}:{self.port} is taken")
        label = f"impostor{len(self._servers)}"
        key = generate_key(self.workdir / f"host_key.{label}")
        self._start_server((address,), key, label)
        return SshHost(label, address, self.port)

    def impostor_key(self, impostor: SshHost) -> Path:
        return self.workdir / f"host_key.{impostor.name}"

    def silent_host(self) -> SshHost:
        """An address that accepts TCP and never speaks SSH; closed with the fixture."""
        address = loopback_address(self._next_index)
        self._next_index += 1
        listener = SilentListener(address)
        self._listeners.append(listener)
        return SshHost(f"silent{len(self._listeners)}", listener.address, listener.port)


def start_hosts(
    count: int, workdir: Path, *, first_index: int = 0, env: Mapping[str, str] | None = None
) -> SshdHosts:
    """Start sshd processes serving `count` hosts; files go to `workdir`. Close when done.

    `env` is set in every SSH session on them (sshd's `SetEnv`): the hosts' own environment.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    os.chmod(workdir, 0o700)
    return SshdHosts(count, workdir, first_index=first_index, env=env).start()
