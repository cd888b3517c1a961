from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from sop.cli import cli
from tests.render.conftest import SAMPLE, TWO_RUNBOOKS


def test_render_writes_pages_and_reports_them(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["render", *map(str, TWO_RUNBOOKS), "--format", "html", "--out", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "demo.html",
        "disk-full.html",
        "index.html",
    ]
    assert f"2 SOP(s) rendered: 3 file(s) in {tmp_path}" in result.output


def test_render_mkdocs_writes_a_config_and_a_docs_folder(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["render", str(SAMPLE), "--out", str(tmp_path), "--mkdocs"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["docs", "mkdocs.yml"]
    assert sorted(p.name for p in (tmp_path / "docs").iterdir()) == ["index.md", "restart-api.md"]


def test_mkdocs_with_another_format_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["render", str(SAMPLE), "--format", "confluence", "--mkdocs", "--out", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert "--mkdocs goes with --format markdown" in result.output
    assert list(tmp_path.iterdir()) == []


def test_a_broken_sop_stops_the_render(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("sop: 1\nid: bad\ntitle: Bad\nsteps:\n  - comand: ls\n")
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["render", str(tmp_path), "--out", str(out)])
    assert result.exit_code == 1
    assert "bad.yaml:5:" in result.output
    assert not out.exists()


def test_duplicate_ids_are_an_error(tmp_path: Path) -> None:
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "x.yaml").write_text(
            "sop: 1\nid: same\ntitle: Same\nsteps:\n  - prose: hi\n"
        )
    result = CliRunner().invoke(cli, ["render", str(tmp_path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert "two SOPs have the id 'same'" in result.output


def test_help_does_not_load_jinja2_or_the_renderers() -> None:
    code = (
        "import sys; from sop.cli import cli\n"
        "try: cli(['--help'])\n"
        "except SystemExit: pass\n"
        "print(sorted(m for m in ('jinja2', 'markdown_it', 'sop.render') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_plain_lists_render_confluence_pages_without_task_lists(tmp_path: Path) -> None:
    args = ["render", str(SAMPLE), "--format", "confluence", "--out", str(tmp_path)]
    result = CliRunner().invoke(cli, [*args, "--plain-lists"])
    assert result.exit_code == 0, result.output
    page = (tmp_path / "restart-api.xml").read_text()
    assert "<ac:task-list>" not in page
    assert "<ul>\n<li>" in page
    result = CliRunner().invoke(cli, [*args[:2], "--out", str(tmp_path / "md"), "--plain-lists"])
    assert result.exit_code == 2
    assert "--plain-lists goes with --format confluence" in result.output
