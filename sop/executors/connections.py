"""The one place sop opens SSH connections.

Fabric and paramiko accept any host key they have not seen and read no known_hosts file unless
told to; sop owns that decision instead. Every connection made here:

- checks the host key against known_hosts (the given file, else the ssh_config
  `UserKnownHostsFile` or ~/.ssh/known_hosts, plus /etc/ssh/ssh_known_hosts), keyed the
  OpenSSH way: `addr` for port 22, `[addr]:port` otherwise, so a port-22 entry never vouches
  for another port;
- refuses an unknown key (`UnknownHostKeyError`) and a changed key (`ChangedHostKeyError`)
  before authenticating, so nothing runs on a host it could not identify;
- forwards the SSH agent only if the inventory says `forward_agent: true`;
- dials the host before loading fabric and paramiko when no ssh config file can send it
  elsewhere (`_dial_early`), so that the host's side of the handshake starts meanwhile;
- sets TCP_NODELAY (a command round trip is dominated by small packets) and bounds every
  wait (TCP connect, banner, key exchange, authentication) by `connect_timeout`;
- once open, lets its transport thread sleep while the connection is idle: paramiko wakes it
  every 0.1 s to look for a close, which at 64 idle hosts (the pre-flight connects them all
  before the first step) was a tenth of sop's client CPU per host; `close` wakes it at once.

fabric and paramiko are imported inside functions: `sop --help` must not pay for them.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shlex
import socket
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from sop.errors import SopError
from sop.events import Reach
from sop.executors.sshconfig import (
    SshConfigError,
    default_files,
    parse,
    read_ssh_config,
    read_texts,
    routes,
)
from sop.model import Host
from sop.text import visible

if TYPE_CHECKING:
    from fabric import Connection

USER_KNOWN_HOSTS = Path("~/.ssh/known_hosts")
GLOBAL_KNOWN_HOSTS = Path("/etc/ssh/ssh_known_hosts")
SSH_PORT = 22
HASHED = "|1|"  # a known_hosts name hashed by OpenSSH (HashKnownHosts)
CERT_SUFFIX = "-cert.pub"  # a key file's certificate, beside it
IDLE_POLL = 1.0  # seconds an open connection's transport thread sleeps without traffic


class SshError(SopError):
    """Base of every failure to reach a host over SSH; `reach` says which kind (the
    pre-flight's result column)."""

    reach = Reach.UNREACHABLE


class ConnectError(SshError):
    """The host could not be reached, did not answer in time, or refused our credentials."""

    def __init__(self, message: str, reach: Reach = Reach.UNREACHABLE) -> None:
        super().__init__(message)
        self.reach = reach


class UnknownHostKeyError(SshError):
    """The host offered a key that no known_hosts file lists for it."""

    reach = Reach.UNKNOWN_KEY


class ChangedHostKeyError(SshError):
    """The host offered a key other than the one known_hosts lists for it."""

    reach = Reach.KEY_CHANGED


def known_hosts_name(address: str, port: int) -> str:
    """How OpenSSH names a host in known_hosts: bare for port 22, `[addr]:port` otherwise."""
    return address if port == SSH_PORT else f"[{address}]:{port}"


class SshFiles:
    """The ssh config and known_hosts files, each parsed once and shared by the connections of
    one pool (one run), not once per host: paramiko's parse is slow (measured in
    bench/RESULTS.md). known_hosts files are parsed again when they change (a key the responder
    trusted mid-run counts at the retry). A file that cannot be read is tried again by the next
    connection."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ssh_configs: dict[Path | None, Any] = {}
        self._texts: dict[Path | None, list[tuple[Path, str]]] = {}
        self._as_given: dict[Path | None, bool] = {}
        self._fabric_configs: dict[Path | None, Any] = {}
        self._known_hosts: dict[tuple[Path, ...], tuple[tuple[Any, ...], KnownHosts]] = {}
        self._keys: dict[Path, tuple[tuple[Any, ...], Any]] = {}

    def ssh_config(self, path: Path | None) -> Any:
        """The parsed (paramiko) SSHConfig of `path`, else of ~/.ssh/config and
        /etc/ssh/ssh_config, their `Include`s read in (`sshconfig.py`). Only read (looked up)
        afterwards, never changed."""
        with self._lock:
            if path not in self._ssh_configs:
                self._ssh_configs[path] = parse(self._texts_of(path))
            return self._ssh_configs[path]

    def fabric_config(self, path: Path | None) -> Any:
        """The fabric Config of the connections made with the ssh config `path`: one for all of
        them, only read (`_connection_type`)."""
        parsed = self.ssh_config(path)
        with self._lock:
            if path not in self._fabric_configs:
                self._fabric_configs[path] = _config_type()(
                    lazy=True, ssh_config=parsed, runtime_ssh_path=str(path) if path else None
                )
            return self._fabric_configs[path]

    def routes_as_given(self, path: Path | None) -> bool:
        """Whether the ssh config files (`path`, else ~/.ssh/config and /etc/ssh/ssh_config)
        leave every host at its inventory address and port: none sets an option that routes
        (`sshconfig.routes`). Files that cannot be read say no."""
        with self._lock:
            if path not in self._as_given:
                try:
                    self._as_given[path] = not routes(self._texts_of(path))
                except SshConfigError:
                    return False
            return self._as_given[path]

    def _texts_of(self, path: Path | None) -> list[tuple[Path, str]]:
        """The ssh config files' texts, read once for both uses above (the lock held)."""
        if path not in self._texts:
            if path is not None and not path.expanduser().is_file():
                raise SshConfigError(f"{path}: no such file")
            self._texts[path] = read_texts(default_files(path))
        return self._texts[path]

    def known_hosts(self, files: Sequence[Path]) -> KnownHosts:
        """The entries of the known_hosts `files` that exist, as paramiko loads them."""
        from paramiko.hostkeys import HostKeys

        with self._lock:
            key = tuple(files)
            version = tuple(_file_version(path) for path in files)
            cached = self._known_hosts.get(key)
            if cached is None or cached[0] != version:
                known = HostKeys()
                for path in files:
                    if path.is_file():
                        known.load(str(path))
                self._known_hosts[key] = (version, KnownHosts(known._entries))
            return self._known_hosts[key][1]

    def private_key(self, path: Path) -> Any:
        """The (paramiko) private key in `path`, with its `-cert.pub` certificate if there is
        one, loaded again when the file changes; None when it does not load without a
        passphrase (paramiko's own attempt then says why)."""
        from paramiko import PKey

        key_path = str(path.expanduser()).removesuffix(CERT_SUFFIX)  # either may be named
        with self._lock:
            version = (_file_version(Path(key_path)), _file_version(Path(key_path + CERT_SUFFIX)))
            cached = self._keys.get(path)
            if cached is None or cached[0] != version:
                try:
                    key = PKey.from_path(path)
                except Exception:  # encrypted, unreadable, not a key: paramiko's path says why
                    key = None
                self._keys[path] = (version, key)
            return self._keys[path][1]


class KnownHosts:
    """Parsed known_hosts entries, indexed by the names written in clear: a connection gets
    the entries for its own host, not a copy of every entry for paramiko to search (a copy and
    a search per host of every host's entries: client CPU per host growing with the fleet).
    Hashed names (`HashKnownHosts`) are matched as paramiko does, one HMAC per entry."""

    def __init__(self, entries: Sequence[Any]) -> None:
        self.entries = tuple(entries)
        self._by_name: dict[str, list[int]] = {}
        self._hashed: list[int] = []
        for index, entry in enumerate(self.entries):
            for name in entry.hostnames:
                if name.startswith(HASHED):
                    if not self._hashed or self._hashed[-1] != index:
                        self._hashed.append(index)
                else:
                    self._by_name.setdefault(name, []).append(index)

    def entries_for(self, names: Sequence[str]) -> list[Any]:
        """Copies of the entries that name any of `names`, in file order: what
        `HostKeys.lookup` of those names finds, nothing shared."""
        from paramiko.hostkeys import HostKeyEntry, HostKeys

        found = {index for name in names for index in self._by_name.get(name, ())}
        for index in self._hashed:
            hashed = [h for h in self.entries[index].hostnames if h.startswith(HASHED)]
            if any(HostKeys.hash_host(n, h) == h for n in names for h in hashed):
                found.add(index)
        return [
            HostKeyEntry(list(self.entries[i].hostnames), self.entries[i].key)
            for i in sorted(found)
        ]


class SshSetup(NamedTuple):
    """The SSH files a run reads, as `sop doctor` reports them: the ssh config files (those
    that exist, parsed) and the known_hosts files trusted for a host that no `Host` block
    singles out, with the number of host keys each holds (None: no such file)."""

    ssh_configs: tuple[Path, ...]
    known_hosts: tuple[tuple[Path, int | None], ...]


def ssh_setup(ssh_config: Path | None = None, known_hosts: Path | None = None) -> SshSetup:
    """Read the ssh config and known_hosts files as `connect` would (fabric's default config
    files, or `ssh_config` alone); `SshError` naming the file that cannot be read."""
    from paramiko import SSHException
    from paramiko.hostkeys import HostKeys

    if ssh_config is not None and not ssh_config.is_file():
        raise SshError(f"{ssh_config}: no such file")
    candidates = default_files(ssh_config)
    configs = tuple(p.expanduser() for p in candidates if p.expanduser().is_file())
    try:
        merged = read_ssh_config(configs)
    except SshConfigError as exc:
        raise SshError(str(exc)) from None
    keys: list[tuple[Path, int | None]] = []
    path = Path()
    try:
        for path in _known_hosts_files(known_hosts, merged.lookup("*")):
            known = HostKeys()
            if path.exists():
                known.load(str(path))
            keys.append((path, len(known._entries) if path.exists() else None))
    except (OSError, UnicodeDecodeError, SSHException) as exc:
        raise SshError(f"{path}: {getattr(exc, 'strerror', None) or exc}") from None
    return SshSetup(configs, tuple(keys))


def _file_version(path: Path) -> tuple[int, int, int] | None:
    """What changes when a file is written or replaced: inode, size, modification time."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return (stat.st_ino, stat.st_size, stat.st_mtime_ns)


def connect(
    host: Host,
    *,
    known_hosts: Path | None = None,
    ssh_config: Path | None = None,
    connect_timeout: float = 10,
    ssh_files: SshFiles | None = None,
) -> Connection:
    """Open an SSH connection to `host` whose host key known_hosts vouches for.

    `known_hosts`, if given, is the only file trusted; `ssh_config`, if given, replaces
    ~/.ssh/config and /etc/ssh/ssh_config. Inventory values win over ssh_config ones, except
    that an inventory port of 22 (the default) lets ssh_config's `Port` apply. `ssh_files`
    holds those files already parsed (a pool's); without it they are read for this connection.
    """
    ssh_files = ssh_files or SshFiles()
    early = _dial_early(host, ssh_config, connect_timeout, ssh_files)
    try:
        try:
            config = ssh_files.fabric_config(ssh_config)
        except (OSError, SshConfigError) as exc:
            raise ConnectError(f"{host.name}: cannot read ssh config: {exc}") from exc
        conn = _connection_type()(
            host.address,
            user=host.user,
            port=None if host.port == SSH_PORT else host.port,
            config=config,
            forward_agent=host.forward_agent,  # explicit, so ssh_config's ForwardAgent cannot win
            connect_kwargs=_auth_kwargs(host),
        )
        files = _known_hosts_files(known_hosts, conn.ssh_config)
        trusted = ssh_files.known_hosts(files)
        for hop in _hops(conn):
            _guard(hop, _label(host, conn, hop), files, trusted, connect_timeout, ssh_files)
        _open(conn, host, files, connect_timeout, early)
    except BaseException:
        if early is not None and early.sock is not None:
            early.sock.close()  # never left open by a failure before or in `_open`
        raise
    return conn


class Dialled(NamedTuple):
    """A TCP connection made before fabric and paramiko are loaded, or why it failed."""

    target: tuple[str, int]
    sock: socket.socket | None
    error: BaseException | None


def _dial_early(
    host: Host, ssh_config: Path | None, timeout: float, ssh_files: SshFiles
) -> Dialled | None:
    """Connect to the host's inventory address and port now, before loading fabric and
    paramiko (the first connection of a run waits 0.1 s for that import; the others wait on
    it): the host's sshd starts its side of the handshake meanwhile, on another core, and
    every pre-flight thread dials at once. Only when no ssh config file says anything about
    where or how a host is reached (`routes_as_given`): sop never dials an address the
    config would have sent elsewhere (a host behind a jump host, an alias). `_open` uses the
    socket only if the connection's resolved address and port are the ones dialled, and
    raises a failure where its own dial would have."""
    if not ssh_files.routes_as_given(ssh_config):
        return None
    target = (host.address, host.port)
    try:
        return Dialled(target, socket.create_connection(target, timeout=timeout), None)
    except Exception as exc:  # refused, timed out, no such name: `_open` says which
        return Dialled(target, None, exc)


def _label(host: Host, conn: Any, hop: Any) -> str:
    return host.name if hop is conn else f"{host.name} (jump host {hop.host})"


def _auth_kwargs(host: Host) -> dict[str, Any]:
    """The inventory's identity file; fabric adds ssh_config's `IdentityFile`s to it."""
    if host.identity_file:
        return {"key_filename": [str(Path(host.identity_file).expanduser())]}
    return {}


def _known_hosts_files(given: Path | None, ssh_config: dict[str, Any]) -> list[Path]:
    if given is not None:
        return [given]
    configured = ssh_config.get("userknownhostsfile")
    user_files = [Path(p) for p in shlex.split(configured)] if configured else [USER_KNOWN_HOSTS]
    return [p.expanduser() for p in user_files] + [GLOBAL_KNOWN_HOSTS]


def _hops(conn: Any) -> list[Any]:
    """The connection and every ProxyJump connection in front of it (fabric makes those as its
    own Connections; a ProxyCommand gateway is a string)."""
    from fabric import Connection

    hops = [conn]
    while isinstance(hops[-1].gateway, Connection):
        hops.append(hops[-1].gateway)
    return hops


@functools.cache
def _connection_type() -> type[Connection]:
    """fabric's Connection, less the cost of setting its attributes.

    invoke's DataProxy, which Connection is, calls `dir(self)` on every attribute set to tell
    its own attributes from config keys: 0.2 ms of a connection's 0.5 ms to construct. Here
    Connection's names are known once (and an attribute already set on the object counts,
    as `dir` would count it). `inline_ssh_env`, which fabric writes into the config, is kept
    as an attribute instead (how fabric reads it, as `self.inline_ssh_env`, finds it there):
    so no connection writes into the config, and every connection of a pool shares one, read
    only (`SshFiles.fabric_config`); a task step that sets its runner class copies it first.
    Made once, when the first connection is: paramiko's MAC check is made the C one then too
    (`_constant_time_mac_check`)."""
    from fabric import Connection

    own = frozenset(dir(Connection)) | {"inline_ssh_env"}

    class SopConnection(Connection):  # type: ignore[misc]
        def __setattr__(self, key: str, value: Any) -> None:
            if key in own or key in self.__dict__:
                object.__setattr__(self, key, value)
            else:
                super().__setattr__(key, value)

        __getattr__ = _config_lookup

    _constant_time_mac_check()
    return SopConnection


@functools.cache
def _config_type() -> type[Any]:
    """fabric's Config, less the cost of asking it for a name it does not have (`hasattr` of
    `_keypath` and `_root`, four times a connection: each nested value read makes a proxy)."""
    from fabric import Config

    class SopConfig(Config):  # type: ignore[misc]
        __getattr__ = _config_lookup

    return SopConfig


def _config_lookup(self: Any, key: str) -> Any:
    """invoke's DataProxy lookup of a name that is no attribute: a config key, else
    AttributeError, without the message DataProxy builds for that error (`dir` of the class
    and the sorted config keys: 40 us, which fabric pays for every `hasattr` of a name not
    set yet: six times a connection, two on it and four on its config)."""
    try:
        return self._get(key)
    except KeyError:
        if key in self._proxies:
            return getattr(self._config, key)
        raise AttributeError(key) from None


def _constant_time_mac_check() -> None:
    """paramiko compares each packet's MAC in a Python loop over its bytes (6 us a packet, a
    dozen packets a host); `hmac.compare_digest` is the standard library's constant-time
    comparison of the same two byte strings, in C (0.1 us). Same result, same timing
    guarantee; paramiko's `packet.py` calls it as `util.constant_time_bytes_eq`."""
    import hmac

    from paramiko import util

    util.constant_time_bytes_eq = hmac.compare_digest


def close(conn: Connection) -> None:
    """Close a connection and the jump-host connections in front of it (fabric leaves
    those open), including clients whose handshake never finished."""
    for hop in _hops(conn):
        _wake(hop)
        hop.close()
        hop.client.close()


def _wake(conn: Any) -> None:
    """End the reads of the connection's socket: its transport thread, asleep for up to
    IDLE_POLL, sees the end of the stream at once instead (paramiko's close only closes the
    socket, which wakes no reader)."""
    transport = conn.client.get_transport()
    sock = getattr(transport, "sock", None)
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):  # never connected, or closed already
            sock.shutdown(socket.SHUT_RDWR)


def _guard(
    conn: Any,
    label: str,
    files: Sequence[Path],
    trusted: KnownHosts,
    timeout: float,
    ssh_files: SshFiles,
) -> None:
    """Make a connection trust known_hosts only (`trusted`: the entries of `files`), bound its
    waits, settle its auth options.

    Keys offered: the configured key files, the agent unless ssh_config says
    `IdentitiesOnly yes`, and ~/.ssh/id_* only when no key file is configured at all. The
    first key file comes loaded, once per run (`SshFiles.private_key`).
    """
    known = conn.client.get_host_keys()  # in memory only: nothing ever saves it
    # what known.load(file) would leave in this fresh client for the names it looks up (the
    # host's, and its bare address for the hint of an unknown key), as copies
    names = (known_hosts_name(conn.host, int(conn.port)), conn.host)
    known._entries = trusted.entries_for(names)
    conn.client.set_missing_host_key_policy(_RefuseUnknownKey(label, files))
    conn.connect_timeout = None  # fabric truncates it to an int; ours goes in connect_kwargs
    kwargs = conn.connect_kwargs
    kwargs.update(timeout=timeout, banner_timeout=timeout, auth_timeout=timeout)
    kwargs["channel_timeout"] = timeout
    kwargs["allow_agent"] = conn.ssh_config.get("identitiesonly", "no").lower() != "yes"
    kwargs["look_for_keys"] = not kwargs.get("key_filename")
    _load_first_key(kwargs, ssh_files)
    agent = conn.ssh_config.get("identityagent")
    if agent is not None and kwargs["allow_agent"]:
        if agent.lower() == "none":
            kwargs["allow_agent"] = False
        elif agent != "SSH_AUTH_SOCK":  # that one is the default: $SSH_AUTH_SOCK
            conn.client._agent = _agent_at(agent)


def _load_first_key(kwargs: dict[str, Any], ssh_files: SshFiles) -> None:
    """The first key file as paramiko's `pkey`, which it tries first, as it would that file:
    loaded once for the run, not parsed once per key type it might be (three times for an
    ed25519 key) on every host. A file that does not load without a passphrase stays a file."""
    given = kwargs.get("key_filename")
    names = [given] if isinstance(given, str) else list(given or ())
    if not names or any(kwargs.get(k) is not None for k in ("pkey", "passphrase", "password")):
        return
    key = ssh_files.private_key(Path(names[0]))
    if key is not None:
        kwargs["pkey"], kwargs["key_filename"] = key, names[1:]


def _agent_at(where: str) -> Any:
    """The ssh-agent at an `IdentityAgent` socket (`~` and `$VARIABLES` expanded), as paramiko
    would use `$SSH_AUTH_SOCK`'s. One that cannot be reached offers no key, as with ssh."""
    from paramiko import SSHException
    from paramiko.agent import Agent, AgentSSH

    agent = Agent.__new__(Agent)  # Agent() would connect to $SSH_AUTH_SOCK's
    AgentSSH.__init__(agent)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(os.path.expanduser(os.path.expandvars(where)))
        agent._connect(sock)
    except (OSError, SSHException):
        sock.close()
        agent._conn, agent._keys = None, ()
    return agent


def _open(
    conn: Any, host: Host, files: Sequence[Path], timeout: float, early: Dialled | None = None
) -> None:
    import paramiko

    where = f"{host.name} ({conn.user}@{conn.host} port {conn.port})"
    sock: socket.socket | None = None
    target = (conn.host, int(conn.port))
    if early is not None and (conn.gateway or early.target != target):
        if early.sock is not None:
            early.sock.close()  # resolved elsewhere after all: dial what was resolved
        early = None
    try:
        if not conn.gateway:
            if early is None:
                sock = socket.create_connection(target, timeout=timeout)
            elif early.error is not None:
                raise early.error
            else:
                sock = early.sock
                assert sock is not None  # a dial either connected or failed
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn.connect_kwargs["sock"] = sock
        conn.open()
        for hop in _hops(conn):  # open, jump hosts too: no handshake timer is left to check
            hop.transport.sock.settimeout(IDLE_POLL)
    except BaseException as exc:
        close(conn)
        if sock is not None:
            sock.close()
        # the server's words (its banner, its version line) are in the message: made visible
        said = visible(str(exc))
        if isinstance(exc, paramiko.BadHostKeyException):
            raise _changed_key(host, conn, exc, files) from None
        if isinstance(exc, paramiko.AuthenticationException):
            raise ConnectError(
                f"{where}: authentication failed: {said}", Reach.AUTH_FAILED
            ) from exc
        if isinstance(exc, paramiko.SSHException) and "No authentication methods" in said:
            raise ConnectError(
                f"{where}: authentication failed: no key to offer (no IdentityFile, no key in "
                "the agent, none in ~/.ssh)",
                Reach.AUTH_FAILED,
            ) from exc
        if isinstance(exc, TimeoutError):
            raise ConnectError(f"{where}: timed out after {timeout:g}s", Reach.TIMEOUT) from exc
        if isinstance(exc, ConnectionRefusedError):
            raise ConnectError(f"{where}: connection refused", Reach.REFUSED) from exc
        if isinstance(exc, paramiko.SSHException) and (
            "banner" in said or "No existing session" in said
        ):
            raise ConnectError(
                f"{where}: no SSH handshake within {timeout:g}s ({said})", Reach.TIMEOUT
            ) from exc
        if isinstance(exc, (UnicodeError, ValueError)):  # e.g. an address no resolver takes
            raise ConnectError(f"{where}: not a usable address ({said})") from None
        if isinstance(exc, (OSError, EOFError, paramiko.SSHException)):
            raise ConnectError(f"{where}: {said or type(exc).__name__}") from exc
        raise
    finally:
        conn.connect_kwargs.pop("sock", None)  # a reopen must not reuse a closed socket


class _RefuseUnknownKey:
    """paramiko MissingHostKeyPolicy (duck-typed) that refuses, explaining how to trust."""

    def __init__(self, label: str, files: Sequence[Path]) -> None:
        self.label = label
        self.files = files

    def missing_host_key(self, client: Any, hostname: str, key: Any) -> None:
        address, port = _split_name(hostname)
        target = shlex.quote(str(self.files[0]))
        folder = self.files[0].parent
        mkdir = "" if folder == Path() else f"mkdir -p -m 700 {shlex.quote(str(folder))} && "
        port_flag = "" if port == SSH_PORT else f"-p {port} "
        lines = [
            f"{self.label}: unknown host key for {hostname}: "
            f"{key.get_name()} {key.fingerprint}; refusing to connect.",
            f"It is not in {', '.join(str(f) for f in self.files)}.",
        ]
        if port != SSH_PORT and client.get_host_keys().lookup(address) is not None:
            lines.append(f"(A key is known for {address} on port 22, but host keys are per port.)")
        lines += [
            "If that fingerprint matches the host's own (check out of band, e.g. "
            "`ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub` on its console), trust it with:",
            f"    {mkdir}ssh-keyscan {port_flag}-t {key.get_name()} {address} >> {target}",
        ]
        raise UnknownHostKeyError("\n".join(lines))


def _changed_key(host: Host, conn: Any, exc: Any, files: Sequence[Path]) -> ChangedHostKeyError:
    hop = next((h for h in _hops(conn) if h.host == exc.hostname), conn)
    name = known_hosts_name(hop.host, int(hop.port))
    found = _find_known_hosts_line(name, files, exc.expected_key)
    origin = f" ({found})" if found else ""
    lines = [
        f"{_label(host, conn, hop)}: HOST KEY CHANGED for {name}; refusing to connect.",
        f"The host offered     {exc.key.get_name()} {exc.key.fingerprint}",
        f"known_hosts expects  {exc.expected_key.get_name()} "
        f"{exc.expected_key.fingerprint}{origin}",
        "Someone may be intercepting the connection, or the host was reinstalled.",
        "Only after verifying the new key out of band, remove the old entry with:",
        f"    ssh-keygen -R {shlex.quote(name)} -f {shlex.quote(str(files[0]))}",
    ]
    return ChangedHostKeyError("\n".join(lines))


def _find_known_hosts_line(name: str, files: Sequence[Path], key: Any) -> str | None:
    """`file:line: text` of the known_hosts entry holding `key` for `name`, if any."""
    from paramiko.hostkeys import HostKeyEntry, HostKeys

    for path in files:
        if not path.is_file():
            continue
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            try:
                entry = HostKeyEntry.from_line(text, number)
            except Exception:  # paramiko skips lines it cannot parse; so do we
                continue
            if entry is None or entry.key != key:
                continue
            for pattern in entry.hostnames:
                hashed = pattern.startswith("|1|") and HostKeys.hash_host(name, pattern) == pattern
                if pattern == name or hashed:
                    return f"{path}:{number}: {text}"
    return None


def _split_name(hostname: str) -> tuple[str, int]:
    if hostname.startswith("[") and "]:" in hostname:
        address, _, port = hostname[1:].rpartition("]:")
        return address, int(port)
    return hostname, SSH_PORT


class ConnectionPool:
    """One open connection per host for one run, shared by the threads that run steps.

    Connections to different hosts open in parallel; two threads asking for the same host
    share one connection. A connection that dropped is replaced on the next `get`.
    """

    def __init__(
        self,
        *,
        known_hosts: Path | None = None,
        ssh_config: Path | None = None,
        connect_timeout: float = 10,
        opener: Callable[..., Connection] = connect,
    ) -> None:
        self._options: dict[str, Any] = {
            "known_hosts": known_hosts,
            "ssh_config": ssh_config,
            "connect_timeout": connect_timeout,
        }
        self._options["ssh_files"] = SshFiles()  # parsed once for the whole run
        self._opener = opener
        self._lock = threading.Lock()
        self._host_locks: dict[Host, threading.Lock] = {}
        self._connections: dict[Host, Connection] = {}

    def get(self, host: Host) -> Connection:
        """The open connection to `host`, connecting first if there is none."""
        with self._lock:
            host_lock = self._host_locks.setdefault(host, threading.Lock())
        with host_lock:
            conn = self._connections.get(host)
            if conn is not None and conn.is_connected:
                return conn
            if conn is not None:
                close(conn)
            conn = self._opener(host, **self._options)
            with self._lock:
                self._connections[host] = conn
            return conn

    def close_all(self) -> None:
        with self._lock:
            connections = list(self._connections.values())
            self._connections.clear()
        for conn in connections:
            close(conn)

    def __len__(self) -> int:
        return len(self._connections)

    def __enter__(self) -> ConnectionPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close_all()
