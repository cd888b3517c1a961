"""`sop render --placeholders`: a command copied from a page fails before anything runs until
its variables are set (shell), or reads as a form to fill in (angle), or stays as written."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from sop.cli import cli
from sop.render import render_files
from sop.render.placeholders import Variables, fill
from tests.render.conftest import load

SOP = """\
sop: 1
id: placeholders
title: Placeholders
owner: team-sre
reviewed: 2026-10-01
inputs:
  host: {help: Host to restart, required: true}
  mode: {help: How to restart, default: "graceful now", choices: ["graceful now", hard]}
  token: {help: API admin token, secret: true, env: API_TOKEN}
  password: {help: Admin password, secret: true, required: true}
steps:
  - id: count
    run: ls {{ workdir }} | wc -l
    capture: files
  - id: touch
    run: touch "$MARKERS"/{{ host }}-{{ mode | choice }} {{ files }} {{ 'a' if host else 'b' }}
  - id: login
    run: login --token {{ token }} --password {{ password }}
"""


@pytest.fixture
def sop_file(tmp_path: Path) -> Path:
    path = tmp_path / "sops" / "placeholders.yaml"
    path.parent.mkdir()
    path.write_text(SOP.replace("{{ workdir }}", "/tmp"))
    return path


def _fill(sop_file: Path, style: str, index: int) -> tuple[str, tuple[str, ...]]:
    sop = load(sop_file)[0]
    return fill(sop.steps[index].body, style, Variables.of(sop))


def test_shell_placeholders_and_what_sets_them(sop_file: Path) -> None:
    body, set_first = _fill(sop_file, "shell", 1)
    assert body == (
        'touch "$MARKERS"/"${SOP_HOST:?}"-"${SOP_MODE:?}" "${SOP_FILES:?}"'
        " {{ 'a' if host else 'b' }}"
    )
    assert set_first == (
        "SOP_HOST=  # Host to restart (required)",
        "SOP_MODE='graceful now'  # How to restart",
        "SOP_FILES=  # what step 1 printed",
    )
    body, set_first = _fill(sop_file, "shell", 2)
    assert body == 'login --token "${API_TOKEN:?}" --password "${SOP_PASSWORD:?}"'
    assert set_first == (
        "read -rs API_TOKEN  # API admin token (secret: typed, not shown)",
        "read -rs SOP_PASSWORD  # Admin password (secret: typed, not shown)",
    )


def test_angle_and_jinja_placeholders(sop_file: Path) -> None:
    assert _fill(sop_file, "angle", 2) == ("login --token <token> --password <password>", ())
    sop = load(sop_file)[0]
    assert _fill(sop_file, "jinja", 2) == (sop.steps[2].body, ())


def _paste(script: str, markers: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", script],
        cwd=markers,
        env={"PATH": "/usr/bin:/bin", "MARKERS": str(markers)},
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_a_pasted_command_fails_before_it_runs_until_its_variables_are_set(
    sop_file: Path, tmp_path: Path
) -> None:
    body, set_first = _fill(sop_file, "shell", 1)
    body = body.replace(" {{ 'a' if host else 'b' }}", "")
    markers = tmp_path / "markers"
    markers.mkdir()

    unset = _paste(body, markers)
    assert unset.returncode != 0
    assert "SOP_HOST: parameter null or not set" in unset.stderr
    assert list(markers.iterdir()) == []

    # as the page lists them, with nothing filled in: still nothing runs
    assert _paste("\n".join([*set_first, body]), markers).returncode != 0
    assert list(markers.iterdir()) == []

    filled = [
        line.replace("SOP_HOST=", "SOP_HOST=web1").replace("SOP_FILES=", "SOP_FILES=x")
        for line in set_first
    ]
    done = _paste("\n".join([*filled, body]), markers)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in markers.iterdir()) == ["web1-graceful now", "x"]


def test_pages_show_the_set_block_in_every_format(sop_file: Path) -> None:
    sops = load(sop_file)
    markdown = render_files(sops, "markdown")["placeholders.md"]
    assert (
        "Set these first:\n\n```bash\nSOP_HOST=  # Host to restart (required)\n"
        "SOP_MODE='graceful now'  # How to restart\nSOP_FILES=  # what step 1 printed\n```"
    ) in markdown
    assert '```bash\ntouch "$MARKERS"/"${SOP_HOST:?}"-"${SOP_MODE:?}"' in markdown
    html = render_files(sops, "html")["placeholders.html"]
    assert "<p>Set these first:</p>" in html
    assert "SOP_MODE=&#39;graceful now&#39;  # How to restart" in html
    confluence = render_files(sops, "confluence")["placeholders.xml"]
    assert "<p>Set these first:</p>" in confluence
    assert "<![CDATA[read -rs API_TOKEN  # API admin token" in confluence


@pytest.mark.parametrize(
    ("option", "shown"),
    [
        ((), 'login --token "${API_TOKEN:?}"'),
        (("--placeholders", "angle"), "login --token <token> --password <password>"),
        (("--placeholders", "jinja"), "login --token {{ token }} --password {{ password }}"),
    ],
)
def test_cli_option(sop_file: Path, tmp_path: Path, option: tuple[str, ...], shown: str) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["render", str(sop_file), "--out", str(out), *option])
    assert result.exit_code == 0, result.output
    page = (out / "placeholders.md").read_text()
    assert shown in page
    assert ("Set these first:" in page) is (not option)
