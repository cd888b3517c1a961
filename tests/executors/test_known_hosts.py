"""The known_hosts entries a connection is given (executors/connections.py: KnownHosts)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from paramiko.ed25519key import Ed25519Key
from paramiko.hostkeys import HostKeys

from sop.executors.connections import KnownHosts

KEYS = [  # three distinct ed25519 public keys
    "AAAAC3NzaC1lZDI1NTE5AAAAINlfilJYn1+bUaJlBER8g0okgcW47x0ZheKXjHAsMo6g",
    "AAAAC3NzaC1lZDI1NTE5AAAAIGiJ2eL6W1kQyG8vA1rjYcEvxwU9ZKE2i5EqW6vT8V0x",
    "AAAAC3NzaC1lZDI1NTE5AAAAIH5QpJ4x0Z5bW8kq4d6lq1X0Zz7bX2r9oD6yC1aT3cE4",
]


def parsed(tmp_path: Path, lines: list[str]) -> KnownHosts:
    path = tmp_path / "known_hosts"
    path.write_text("".join(line + "\n" for line in lines))
    known = HostKeys()
    known.load(str(path))
    return KnownHosts(known._entries)


def key_of(entry: Any) -> str:
    assert isinstance(entry.key, Ed25519Key)
    return str(entry.key.get_base64())


def test_gives_the_entries_naming_the_host_in_clear_or_hashed_in_file_order(
    tmp_path: Path,
) -> None:
    hashed = HostKeys.hash_host("[10.0.0.2]:2222")
    known = parsed(
        tmp_path,
        [
            f"[10.0.0.1]:2222 ssh-ed25519 {KEYS[0]}",
            f"{hashed} ssh-ed25519 {KEYS[1]}",
            f"web2,[10.0.0.2]:2222 ssh-ed25519 {KEYS[2]}",
            f"10.0.0.2 ssh-ed25519 {KEYS[0]}",
        ],
    )
    found = known.entries_for(("[10.0.0.2]:2222", "10.0.0.2"))
    assert [key_of(e) for e in found] == [KEYS[1], KEYS[2], KEYS[0]]
    assert [e.hostnames for e in found] == [[hashed], ["web2", "[10.0.0.2]:2222"], ["10.0.0.2"]]
    assert known.entries_for(("[10.0.0.9]:2222", "10.0.0.9")) == []


def test_gives_copies_that_paramiko_looks_up_as_it_would_the_file(tmp_path: Path) -> None:
    known = parsed(tmp_path, [f"[10.0.0.1]:2222 ssh-ed25519 {KEYS[0]}"])
    copies = known.entries_for(("[10.0.0.1]:2222", "10.0.0.1"))
    assert copies[0] is not known.entries[0]
    copies[0].hostnames.append("intruder")  # a connection's change stays its own
    assert known.entries[0].hostnames == ["[10.0.0.1]:2222"]
    client_keys = HostKeys()
    client_keys._entries = copies
    assert client_keys.lookup("[10.0.0.1]:2222")["ssh-ed25519"].get_base64() == KEYS[0]
