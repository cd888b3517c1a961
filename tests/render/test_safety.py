"""Bad input: duplicate ids, hostile ids, files outside the output folder, tasks files that
must not be imported, and commands or connections that must not happen."""

from __future__ import annotations

import gc
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from sop.model import Sop
from sop.render import RenderError, render_files, render_library, write_files
from sop.render.pages import safe_name


@pytest.mark.parametrize(
    ("sop_id", "name"),
    [
        ("disk-full", "disk-full"),
        ("../../etc/passwd", "etc-passwd"),
        ("/abs/path", "abs-path"),
        ("..", "sop"),
        (".hidden", "hidden"),
        ("a b\\c", "a-b-c"),
    ],
)
def test_page_names_are_safe(sop_id: str, name: str) -> None:
    assert safe_name(sop_id) == name


def test_two_sops_with_the_same_id_are_an_error(sample_sops: tuple[Sop, ...]) -> None:
    sop = sample_sops[0]
    twin = sop._replace(path=Path("elsewhere/restart-api.yaml"))
    with pytest.raises(RenderError) as error:
        render_files([sop, twin], "markdown")
    assert str(error.value) == (
        f"two SOPs have the id 'restart-api': {sop.path} and elsewhere/restart-api.yaml"
    )


def test_ids_that_make_the_same_page_name_are_an_error(sample_sops: tuple[Sop, ...]) -> None:
    sop = sample_sops[0]
    with pytest.raises(RenderError, match="would both be written to the page 'a-b'"):
        render_files([sop._replace(id="a/b"), sop._replace(id="a..b")], "html")


def test_an_sop_called_index_does_not_replace_the_index(sample_sops: tuple[Sop, ...]) -> None:
    files = render_files([sample_sops[0]._replace(id="index")], "markdown")
    assert set(files) == {"index.md", "sop-index.md"}
    assert "(sop-index.md)" in files["index.md"]


def test_hostile_ids_stay_inside_the_output_folder(
    sample_sops: tuple[Sop, ...], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    written = render_library([sample_sops[0]._replace(id="../../escape")], "html", out)
    assert sorted(p.name for p in written) == ["escape.html", "index.html"]
    assert all(p.resolve().is_relative_to(out.resolve()) for p in written)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_writing_refuses_names_outside_the_folder(tmp_path: Path) -> None:
    for name in ("../x.md", "/tmp/x.md", "a/../../x.md"):
        with pytest.raises(RenderError, match="refusing to write"):
            write_files({"ok.md": "", name: ""}, tmp_path / "out")
    assert not (tmp_path / "out").exists()  # nothing written when any name is bad


def test_rendering_runs_nothing_and_connects_nowhere(
    sample_sops: tuple[Sop, ...], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("rendering tried to run a command or open a connection")

    monkeypatch.setattr(subprocess, "Popen", forbidden)
    monkeypatch.setattr(socket, "create_connection", forbidden)
    monkeypatch.setattr(socket.socket, "connect", forbidden)
    tasks_module = [m for m in sys.modules if m.startswith("sop_tasks_")]
    for fmt in ("markdown", "html", "confluence"):
        render_library(sample_sops, fmt, tmp_path / fmt)
    # the sample tasks file raises when imported, yet its docstring is on the page
    assert "Restart the API with systemd" in (tmp_path / "html" / "restart-api.html").read_text()
    assert [m for m in sys.modules if m.startswith("sop_tasks_")] == tasks_module


def test_output_is_deterministic(runbook_sops: tuple[Sop, ...], tmp_path: Path) -> None:
    for fmt in ("markdown", "html", "confluence"):
        first = render_library(runbook_sops, fmt, tmp_path / "a" / fmt, mkdocs=fmt == "markdown")
        second = render_library(
            tuple(reversed(runbook_sops)), fmt, tmp_path / "b" / fmt, mkdocs=fmt == "markdown"
        )
        assert [p.relative_to(tmp_path / "a") for p in first] == [
            p.relative_to(tmp_path / "b") for p in second
        ]
        for a, b in zip(first, second, strict=True):
            assert a.read_bytes() == b.read_bytes(), a.name


def test_writing_refuses_a_symbolic_link_that_leads_outside(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "sub").symlink_to(tmp_path)
    with pytest.raises(RenderError, match="refusing to write 'sub/x\\.md'"):
        write_files({"sub/x.md": ""}, out)
    assert not (tmp_path / "x.md").exists()


def test_rendering_leaves_the_cycle_collector_as_it_was(sample_sops: tuple[Sop, ...]) -> None:
    assert gc.isenabled()
    render_files(sample_sops, "markdown")
    assert gc.isenabled()
    gc.disable()
    try:
        render_files(sample_sops, "html")
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_writing_again_leaves_the_files_that_hold_their_text(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_files({"a.md": "same\n", "b.md": "old\n", "c.md": "longer than before\n"}, out)
    before = {p.name: p.stat() for p in out.iterdir()}
    (out / "c.md").write_text("longer than before, and edited by hand\n")
    paths = write_files({"a.md": "same\n", "b.md": "new\n", "c.md": "longer than before\n"}, out)
    assert [p.name for p in paths] == ["a.md", "b.md", "c.md"]
    assert {p.name: p.read_text() for p in paths} == {
        "a.md": "same\n",
        "b.md": "new\n",
        "c.md": "longer than before\n",
    }
    after = (out / "a.md").stat()
    assert (after.st_ino, after.st_mtime_ns) == (before["a.md"].st_ino, before["a.md"].st_mtime_ns)
    assert (out / "b.md").stat().st_mtime_ns >= before["b.md"].st_mtime_ns
    assert (out / "b.md").stat().st_size == len("new\n")
