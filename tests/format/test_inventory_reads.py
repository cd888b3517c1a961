"""An inventory file is parsed once per process while it stays the same: a run's lint and its
walk ask for it in turn (a 250-host inventory is 15 ms to parse), and see one reading of it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sop.errors import SopFileError
from sop.format import yamlnodes
from sop.format.discovery import find_inventory
from sop.format.loader import load_inventory

INVENTORY = "hosts:\n  web-1: {address: 10.0.0.1}\n  web-2: {address: 10.0.0.2}\n"


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The inventory files read from disk, in order."""
    seen: list[str] = []
    real = yamlnodes.read_bytes

    def read_bytes(path: Path, name: str) -> bytes:
        seen.append(Path(path).name)
        return real(path, name)

    monkeypatch.setattr(yamlnodes, "read_bytes", read_bytes)
    return seen


def test_an_unchanged_inventory_is_read_once(tmp_path: Path, reads: list[str]) -> None:
    path = tmp_path / "inventory.yaml"
    path.write_text(INVENTORY)
    first = load_inventory(path)
    again = find_inventory(tmp_path / "restart.yaml", [path])
    assert again is first
    assert reads == ["inventory.yaml"]
    assert sorted(first.hosts) == ["web-1", "web-2"]


def test_a_changed_inventory_is_read_again_even_at_the_same_size_and_time(
    tmp_path: Path, reads: list[str]
) -> None:
    path = tmp_path / "inventory.yaml"
    path.write_text(INVENTORY)
    before = os.stat(path)
    assert load_inventory(path).hosts["web-1"].address == "10.0.0.1"
    path.write_text(INVENTORY.replace("10.0.0.1", "10.0.0.9"))  # the same size
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))  # the same modification time
    assert load_inventory(path).hosts["web-1"].address == "10.0.0.9"  # its change time moved
    assert reads == ["inventory.yaml", "inventory.yaml"]


def test_a_broken_inventory_is_never_kept(tmp_path: Path, reads: list[str]) -> None:
    path = tmp_path / "inventory.yaml"
    path.write_text("hosts:\n  web-1: {port: not-a-port}\n")
    for _ in range(2):
        with pytest.raises(SopFileError):
            load_inventory(path)
    assert reads == ["inventory.yaml", "inventory.yaml"]


def test_the_same_name_from_another_folder_is_another_file(
    tmp_path: Path, reads: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, address in (("a", "10.0.0.1"), ("b", "10.0.0.2")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "inventory.yaml").write_text(
            f"hosts:\n  web-1: {{address: {address}}}\n"
        )
    found = []
    for name in ("a", "b"):
        monkeypatch.chdir(tmp_path / name)
        found.append(load_inventory(Path("inventory.yaml")).hosts["web-1"].address)
    assert found == ["10.0.0.1", "10.0.0.2"]
