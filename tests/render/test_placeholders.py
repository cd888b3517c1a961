"""`sop render --placeholders`: a command copied from a page fails before anything runs until
its variables are set (shell), or reads as a form to fill in (angle), or stays as written."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from sop.cli import cli
from sop.model import Sop
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
    body, stdin, set_first = fill(sop.steps[index].body, style, Variables.of(sop))
    assert stdin == ""
    return body, set_first


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


STDIN_SOP = """\
sop: 1
id: feed
title: Feed
owner: team-sre
reviewed: 2026-10-01
inputs:
  customer: {help: Whose orders, required: true}
  token: {help: API token, secret: true, required: true}
steps:
  - id: query
    run: cat > "$MARKERS"/query.sql
    stdin: |
      SELECT '$1', `x`, 'a\\b' FROM orders WHERE customer = '{{ customer }}';
      SOP_STDIN
  - id: plain
    run: cat | tr a-z A-Z > "$MARKERS"/plain.txt
    stdin: "as $written `here`, {{ '{{' }} raw"
  - id: expression
    run: cat > "$MARKERS"/x
    stdin: "{{ customer | sql_literal }}"
"""


@pytest.fixture
def stdin_sops(tmp_path: Path) -> tuple[Sop, ...]:
    path = tmp_path / "sops" / "feed.yaml"
    path.parent.mkdir()
    path.write_text(STDIN_SOP)
    return load(path)


def _step_fill(sop: Sop, index: int, style: str) -> tuple[str, str, tuple[str, ...]]:
    step = sop.steps[index]
    return fill(step.body, style, Variables.of(sop), step.stdin)


def test_shell_style_feeds_stdin_from_a_here_document(stdin_sops: tuple[Sop, ...]) -> None:
    sop = stdin_sops[0]
    body, stdin, set_first = _step_fill(sop, 0, "shell")
    assert body == (
        '{\ncat > "$MARKERS"/query.sql\n} <<SOP_STDIN_\n'
        "SELECT '\\$1', \\`x\\`, 'a\\\\b' FROM orders WHERE customer = '${SOP_CUSTOMER:?}';\n"
        "SOP_STDIN\n"
        "SOP_STDIN_"
    )
    assert (stdin, set_first) == ("", ("SOP_CUSTOMER=  # Whose orders (required)",))
    # no placeholder: a quoted delimiter, the text as written; a pipe reads it as a whole
    body, stdin, set_first = _step_fill(sop, 1, "shell")
    assert body == (
        "{\ncat | tr a-z A-Z > \"$MARKERS\"/plain.txt\n} <<'SOP_STDIN'\n"
        "as $written `here`, {{ '{{' }} raw\nSOP_STDIN"
    )
    assert (stdin, set_first) == ("", ())
    # one simple command: the here-document follows it
    variables = Variables({}, {})
    assert fill("psql -X {{ db }}", "shell", variables, "SELECT 1;\n").body == (
        "psql -X \"${SOP_DB:?}\" <<'SOP_STDIN'\nSELECT 1;\nSOP_STDIN"
    )


def test_angle_and_jinja_styles_show_stdin_in_their_own_style(
    stdin_sops: tuple[Sop, ...],
) -> None:
    sop = stdin_sops[0]
    body, stdin, set_first = _step_fill(sop, 0, "angle")
    assert (body, set_first) == ('cat > "$MARKERS"/query.sql', ())
    assert stdin.startswith("SELECT '$1', `x`, 'a\\b' FROM orders WHERE customer = '<customer>';")
    assert _step_fill(sop, 0, "jinja")[1] == sop.steps[0].stdin
    # an expression stays as written in every style
    assert _step_fill(sop, 2, "angle")[1] == "{{ customer | sql_literal }}"
    assert "{{ customer | sql_literal }}\nSOP_STDIN" in _step_fill(sop, 2, "shell")[0]


def test_a_pasted_here_document_feeds_what_sop_feeds(
    stdin_sops: tuple[Sop, ...], tmp_path: Path
) -> None:
    from sop.run.steps.commands import render_stdin

    sop = stdin_sops[0]
    markers = tmp_path / "markers"
    markers.mkdir()
    query, _, set_first = _step_fill(sop, 0, "shell")
    unset = _paste(query, markers)
    assert unset.returncode != 0
    assert "SOP_CUSTOMER: parameter null or not set" in unset.stderr
    assert list(markers.iterdir()) == []

    value = "O$(id)`x`"
    filled = set_first[0].replace("SOP_CUSTOMER=", "SOP_CUSTOMER=" + shlex.quote(value))
    plain, _, _ = _step_fill(sop, 1, "shell")
    done = _paste("\n".join([filled, query, plain]), markers)
    assert done.returncode == 0, done.stderr
    sent = render_stdin(sop.steps[0].stdin or "", {"customer": value})
    assert (markers / "query.sql").read_text() == sent
    assert (markers / "plain.txt").read_text() == "AS $WRITTEN `HERE`, {{ '{{' }} RAW\n"


def test_pages_show_stdin_in_the_chosen_style(stdin_sops: tuple[Sop, ...], tmp_path: Path) -> None:
    from tests.render.test_mdx import compile_mdx

    shell = render_files(stdin_sops, "markdown")["feed.md"]
    assert '```bash\n{\ncat > "$MARKERS"/query.sql\n} <<SOP_STDIN_\nSELECT' in shell
    assert "With standard input:" not in shell
    angle = render_files(stdin_sops, "markdown", placeholders="angle")["feed.md"]
    assert "With standard input:\n\n```text\nSELECT '$1'" in angle
    assert "customer = '<customer>';" in angle
    html = render_files(stdin_sops, "html", placeholders="angle")["feed.html"]
    assert "customer = &#39;&lt;customer&gt;&#39;;" in html
    confluence = render_files(stdin_sops, "confluence")["feed.xml"]
    assert "customer = &#39;${SOP_CUSTOMER:?}&#39;" not in confluence  # CDATA, not escaped
    assert "customer = '${SOP_CUSTOMER:?}';" in confluence
    pages = []
    for style in ("shell", "angle", "jinja"):
        pages.append(tmp_path / f"{style}.md")
        pages[-1].write_text(render_files(stdin_sops, "markdown", placeholders=style)["feed.md"])
    result = compile_mdx(pages)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("style", "run"),
    [
        (
            "shell",
            'sop run feed --input customer="${SOP_CUSTOMER:?}"'
            ' --secret-file token="${SOP_TOKEN_FILE:?}"',
        ),
        ("angle", "sop run feed --input 'customer=<customer>' --secret-file 'token=<token_file>'"),
        (
            "jinja",
            "sop run feed --input 'customer={{ customer }}' --secret-file 'token={{ token_file }}'",
        ),
    ],
)
def test_run_it_commands_name_their_inputs_in_the_chosen_style(
    stdin_sops: tuple[Sop, ...], style: str, run: str
) -> None:
    page = render_files(stdin_sops, "markdown", placeholders=style)["feed.md"]
    run_it = page[page.index("## Run it") :]
    assert f"```bash\n{run} --dry-run\n```" in run_it
    assert f"```bash\n{run}\n```" in run_it
    shown = "Set these first:\n\n```bash\nSOP_CUSTOMER=  # Whose orders (required)\n"
    shown += "SOP_TOKEN_FILE=  # a file holding API token (secret)\n```"
    assert (shown in run_it) is (style == "shell")


def test_a_pasted_run_it_command_passes_the_values_once_set(
    stdin_sops: tuple[Sop, ...], tmp_path: Path
) -> None:
    page = render_files(stdin_sops, "markdown")["feed.md"]
    run = "sop run feed --input customer=" + page.split("sop run feed --input customer=")[2]
    run = run.split("\n")[0]
    fake = 'sop() { printf \'%s\\n\' "$@" > "$MARKERS"/argv; }\n'
    assert _paste(fake + run, tmp_path).returncode != 0
    assert not (tmp_path / "argv").exists()
    done = _paste(fake + "SOP_CUSTOMER='a b'\nSOP_TOKEN_FILE=/run/t\n" + run, tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "argv").read_text().split("\n")[:-1] == [
        "run",
        "feed",
        "--input",
        "customer=a b",
        "--secret-file",
        "token=/run/t",
    ]


def test_text_for_a_reader_shows_a_value_as_its_name_in_angles() -> None:
    """Titles, notes, prose and facts are read, not pasted: `<node>`, not Jinja (jinja style:
    as written); an expression stays as written."""
    from sop.render.placeholders import in_text

    text = "Restart chronyd on {{ node }} ({{ node | choice }}), not {{ node ~ 'x' }}"
    assert in_text(text, "shell") == "Restart chronyd on <node> (<node>), not {{ node ~ 'x' }}"
    assert in_text(text, "angle") == in_text(text, "shell")
    assert in_text(text, "jinja") == text
