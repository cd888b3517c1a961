"""`sop list`'s cache: trusted only while every file it describes is unchanged."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from sop.format import listcache as catalog
from tests.conftest import MINIMAL, REPO

Write = Callable[..., Path]


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A cache of its own, and no racy window unless a test asks for it."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr(catalog, "RACY_NS", 0)
    return tmp_path / "xdg" / "sop" / catalog.CACHE_NAME


def titles(*paths: str) -> list[str]:
    return [row.title for row in catalog.catalog([Path(p) for p in paths]).rows]


def entries(cache: Path) -> dict[str, dict[str, object]]:
    data: dict[str, dict[str, object]] = json.loads(cache.read_text())["entries"]
    return data


def test_second_listing_reads_no_sop(write: Write, cache: Path) -> None:
    write(MINIMAL, "runbooks/a.yaml")
    assert titles("runbooks") == ["Minimal"]
    assert list(entries(cache)) == [os.path.abspath("runbooks/a.yaml")]
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600
    assert stat.S_IMODE(cache.parent.stat().st_mode) == 0o700
    probe = (
        "import sys\nfrom sop.cli import cli\n"
        "try:\n    cli.main(args=['list'], prog_name='sop')\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in ('sop.format.loader', 'yaml') if m in sys.modules))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=True
    ).stdout
    assert out.splitlines() == [
        "ID       TITLE    PHASE  OWNER  REVIEWED",
        "minimal  Minimal         team   2026-11-01",
        "[]",
    ]


def test_a_change_that_keeps_size_and_mtime_is_seen(write: Write, cache: Path) -> None:
    path = write(MINIMAL, "runbooks/a.yaml")
    before = path.stat()
    assert titles("runbooks") == ["Minimal"]
    path.write_text(MINIMAL.replace("title: Minimal", "title: Changed"))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert (path.stat().st_size, path.stat().st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    assert titles("runbooks") == ["Changed"]


def test_a_file_changed_a_moment_ago_is_not_cached(
    write: Write, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(catalog, "RACY_NS", 60 * 10**9)
    write(MINIMAL, "runbooks/a.yaml")
    assert titles("runbooks") == ["Minimal"]
    assert not cache.exists()  # nothing trustworthy to store
    monkeypatch.setattr(catalog, "RACY_NS", 0)
    assert titles("runbooks") == ["Minimal"]
    assert len(entries(cache)) == 1


def test_a_broken_file_is_reported_every_time_and_listed_once_fixed(
    write: Write, cache: Path
) -> None:
    write(MINIMAL, "runbooks/good.yaml")
    bad = write("sop: [\n", "runbooks/bad.yaml")
    for _ in range(2):
        listing = catalog.catalog([Path("runbooks")])
        assert [r.id for r in listing.rows] == ["minimal"]
        assert [str(p) for p in listing.problems] == [
            "runbooks/bad.yaml:2:1: invalid YAML: did not find expected node content "
            "(while parsing a flow node)"
        ]
    assert list(entries(cache)) == [os.path.abspath("runbooks/good.yaml")]
    bad.write_text(MINIMAL.replace("id: minimal", "id: fixed"))
    assert sorted(r.id for r in catalog.catalog([Path("runbooks")]).rows) == ["fixed", "minimal"]


def test_a_deleted_tasks_file_makes_the_entry_stale(write: Write, cache: Path) -> None:
    write(MINIMAL.replace("owner: team", "owner: team\ntasks: tasks.py"), "runbooks/a.yaml")
    tasks = write("", "runbooks/tasks.py")
    assert titles("runbooks") == ["Minimal"]
    tasks.unlink()
    listing = catalog.catalog([Path("runbooks")])
    assert listing.rows == ()
    assert [p.message for p in listing.problems] == ["'tasks.py' does not exist"]


@pytest.mark.parametrize(
    "content",
    [b"not json", b"[]", b'{"header": 1}', b'{"header": null, "entries": []}', b"\xff\xfe"],
)
def test_a_corrupt_cache_is_ignored_and_rewritten(
    write: Write, cache: Path, content: bytes
) -> None:
    write(MINIMAL, "runbooks/a.yaml")
    cache.parent.mkdir(parents=True)
    cache.write_bytes(content)
    assert titles("runbooks") == ["Minimal"]
    assert len(entries(cache)) == 1


def test_an_entry_from_another_sop_version_is_not_trusted(write: Write, cache: Path) -> None:
    write(MINIMAL, "runbooks/a.yaml")
    assert titles("runbooks") == ["Minimal"]
    data = json.loads(cache.read_text())
    data["header"][0] = "0.0.0-old"
    data["entries"][os.path.abspath("runbooks/a.yaml")]["title"] = "Stale"
    cache.write_text(json.dumps(data))
    assert titles("runbooks") == ["Minimal"]


def test_forged_entry_with_a_matching_signature_is_what_the_cache_can_lie_about(
    write: Write, cache: Path
) -> None:
    """The cache feeds the listing only; `show` and `run` read the file (threat model T15)."""
    write(MINIMAL, "runbooks/a.yaml")
    titles("runbooks")
    data = json.loads(cache.read_text())
    data["entries"][os.path.abspath("runbooks/a.yaml")]["title"] = "Forged"
    cache.write_text(json.dumps(data))
    assert titles("runbooks") == ["Forged"]
    from sop.format.discovery import load_library

    assert [s.title for s in load_library([Path("runbooks")]).sops] == ["Minimal"]


def test_no_cache_when_asked_or_when_it_cannot_be_written(
    write: Write, cache: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    write(MINIMAL, "runbooks/a.yaml")
    monkeypatch.setenv("SOP_NO_CACHE", "1")
    assert titles("runbooks") == ["Minimal"]
    assert not cache.parent.parent.exists()
    monkeypatch.delenv("SOP_NO_CACHE")
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))  # a file where a folder must go
    assert titles("runbooks") == ["Minimal"]


def test_moved_and_deleted_files(write: Write, cache: Path) -> None:
    write(MINIMAL, "runbooks/a.yaml")
    assert titles("runbooks") == ["Minimal"]
    Path("runbooks/a.yaml").rename("runbooks/b.yaml")
    listing = catalog.catalog([Path("runbooks")])
    assert [(r.id, str(r.path)) for r in listing.rows] == [("minimal", "runbooks/b.yaml")]
    Path("runbooks/b.yaml").unlink()
    assert titles("runbooks") == []
