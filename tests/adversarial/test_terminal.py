"""Terminal spoofing: text sop did not write (SOP files, inventory, inputs, answers, captured
output, a host's SSH banner, audit records) carries escape sequences, C1 controls, bidi
controls or invisible characters. Loading refuses them in files, naming the place; everywhere
else they reach the terminal, a report or a wiki page only as visible markers (`␛`, `<U+202E>`),
never as the raw character that would erase a line, retitle the window, write the clipboard,
hide a link or reorder what the responder reads."""

from __future__ import annotations

import contextlib
import io
import re
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest
import yaml

from tests.integration.rundir import SOP

from .conftest import Attack

# name: (what a host, an input or an answer sends; how sop must show it)
PAYLOADS = {
    "erase-line": ("uptime\x1b[2K\rtouch PWNED", "uptime␛[2K␍touch PWNED"),
    "cursor-up": ("ok\x1b[1A\x1b[2Kfine", "ok␛[1A␛[2Kfine"),
    "osc0-title": ("\x1b]0;owned\x07x", "␛]0;owned␇x"),
    "osc8-link": (
        "\x1b]8;;https://evil.example/\x1b\\click\x1b]8;;\x1b\\",
        "␛]8;;https://evil.example/␛\\click␛]8;;␛\\",
    ),
    "osc52-clipboard": ("\x1b]52;c;dG91Y2ggUFdORUQ=\x07", "␛]52;c;dG91Y2ggUFdORUQ=␇"),
    "bidi-rlo": ("abc\u202efdp.exe", "abc<U+202E>fdp.exe"),
    "bidi-isolate": ("a\u2066b\u2069c", "a<U+2066>b<U+2069>c"),
    "zero-width": ("ro\u200bot", "ro<U+200B>ot"),
    "c1-csi": ("x\x9b2Ky", "x<U+009B>2Ky"),
    "tag-characters": ("ok\U000e0041\U000e0042", "ok<U+E0041><U+E0042>"),
}
# no raw byte of any payload may reach an output
RAW = ("\x1b", "\x9b", "\x07", "\r", "\u202e", "\u2066", "\u2069", "\u200b", "\U000e0041")


def assert_no_raw(*outputs: str) -> None:
    for output in outputs:
        for char in RAW:
            assert char not in output, f"{char!r} reached the output: {output!r}"


# --- loading: a file holding one is refused, with its place ------------------------------------

MESSAGE = "is not allowed in SOP files: it can make a terminal or an editor show text other than what runs"


@pytest.mark.parametrize(
    ("body", "where", "found"),
    [
        ('steps:\n  - run: "uptime\\e[2K\\rtouch @PWNED@"\n', "7:10: steps[0].run", "␛"),
        ('steps:\n  - title: "ok\\x9b2K"\n    run: "true"\n', "7:12: steps[0].title", "<U+009B>"),
        ('steps:\n  - prose: "Read \\u202eevil"\n', "7:12: steps[0].prose", "<U+202E>"),
        ('steps:\n  - run: "true"\n    note: "n\\u200b"\n', "8:11: steps[0].note", "<U+200B>"),
        ('steps:\n  - prose: x\n    ask: {"a\\u2066": {}}\n', "8:11: steps[0].ask.a<U+2066>", "<U+2066>"),
        ("steps:\n  - prose: x\n# review me \u202e esrever\n", "8:13", "<U+202E>"),
        ("steps:\n  - prose: ro\u200bot\n", "7:12: steps[0].prose", "<U+200B>"),
    ],
    ids=["escape-in-run", "c1-in-title", "bidi-in-prose", "zero-width-in-note", "bidi-in-key",
         "bidi-in-comment", "raw-zero-width"],
)  # fmt: skip
def test_a_hiding_character_in_an_sop_is_refused_with_its_place(
    attack: Attack, body: str, where: str, found: str
) -> None:
    attack.write(body)
    kind = {
        "␛": "a control character",
        "<U+009B>": "a control character",
        "<U+202E>": "a bidirectional control",
        "<U+2066>": "a bidirectional control",
        "<U+200B>": "an invisible character",
    }[found]
    expected = f"attack.yaml:{where}: {kind} ({found}) {MESSAGE}"
    lint = attack.sop("lint", "attack.yaml")
    assert lint.returncode == 1
    assert lint.stdout.splitlines() == [expected]
    show = attack.sop("show", "attack.yaml")
    assert show.returncode == 1
    assert show.stderr.splitlines() == [expected]
    run = attack.run(attack.path / "attack.yaml")
    assert run.returncode == 1
    assert_no_raw(lint.stdout, lint.stderr, show.stdout, show.stderr, run.stdout, run.stderr)
    attack.assert_nothing_ran()


def test_an_escape_in_an_inventory_group_name_is_refused(attack: Attack) -> None:
    (attack.path / "inventory.yaml").write_text(
        'hosts:\n  web-1: {address: 127.0.0.1}\ngroups:\n  "web\\e[2K\\rprod": [web-1]\n'
    )
    attack.write('on: "web-1"\nsteps:\n  - run: touch @PWNED@\n    confirm: typed\n')
    result = attack.sop("lint", "--inventory", "inventory.yaml", "attack.yaml")
    assert result.returncode == 1
    assert f"inventory.yaml:4:3: groups.web␛[2K␍prod: a control character (␛) {MESSAGE}" in (
        result.stdout
    )
    assert_no_raw(result.stdout, result.stderr)


# --- a run: inputs, answers, captured output and failures reach the terminal visibly ----------

FLOW = """\
inputs:
  x: {}
steps:
  - id: grab
    title: "Grab {{ x }}"
    run: cat @DIR@/evil-output
    capture: out
  - id: look
    title: "Look at {{ out }}"
    prose: "The host said {{ out }}; the input was {{ x }}."
    note: "Note: {{ out }}"
    ask:
      verdict: {help: "Verdict on {{ x }}"}
  - id: fail
    title: "Fail on {{ verdict }}"
    run: printf '%s' {{ out }} >&2; exit 3
"""


def run_flow(attack: Attack, payload: str) -> tuple[str, str, Path]:
    (attack.path / "evil-output").write_text(payload)
    result = attack.run(attack.write(FLOW), "-i", f"x={payload}", "-a", f"verdict={payload}")
    assert result.returncode == 1, result.stderr
    (run_dir,) = (attack.state / "runs").iterdir()
    return result.stdout, result.stderr, run_dir


@pytest.mark.parametrize("name", PAYLOADS)
def test_run_data_reaches_the_terminal_only_as_visible_markers(attack: Attack, name: str) -> None:
    payload, shown = PAYLOADS[name]
    stdout, stderr, run_dir = run_flow(attack, payload)
    assert_no_raw(stdout, stderr)
    assert f"Step 1 · Grab {shown}" in stdout  # an input in a title
    assert f"Step 2 · Look at {shown}" in stdout  # a capture in a title
    assert f"verdict = {shown}" in stdout  # an answer
    assert shown in stdout.split("Step 3", 1)[1]  # output and the command shown
    report = attack.sop("report", run_dir.name)
    show = attack.sop("audit", "show", run_dir.name)
    assert report.returncode == 0 and show.returncode == 0
    assert_no_raw(report.stdout, report.stderr, show.stdout, show.stderr)
    # Markdown shows the marker too (`<` of `<U+202E>` as an entity)
    assert ("␛" if "␛" in shown else "&lt;U+") in report.stdout
    attack.assert_nothing_ran()


def test_debug_output_shows_no_raw_escape(attack: Attack) -> None:
    payload, _ = PAYLOADS["osc52-clipboard"]
    (attack.path / "evil-output").write_text(payload)
    result = attack.sop("--debug", "run", "--yes", attack.name(attack.write(FLOW)), "-i", "x=a",
                        "-a", "verdict=b")  # fmt: skip
    assert "debug: " in result.stderr
    assert_no_raw(result.stdout, result.stderr)


def test_a_captured_markdown_link_is_shown_as_literal_text(attack: Attack) -> None:
    link = "[reset the MFA here](https://evil.example/login) <b>**urgent**</b> `x`"
    (attack.path / "evil-output").write_text(link)
    result = attack.run(
        attack.write(
            """\
            steps:
              - run: cat @DIR@/evil-output
                capture: out
              - prose: "The host says: {{ out }}"
                note: "Also: {{ out }}"
            """
        )
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.count(f"The host says: {link}") == 1
    assert result.stdout.count(f"Also: {link}") == 1


def test_report_cells_escape_html_backticks_and_pipes(attack: Attack) -> None:
    hostile = "<script>alert(1)</script> | `x` [a](javascript:alert(1))\nnext"
    (attack.path / "evil-output").write_text(hostile)
    result = attack.run(
        attack.write(
            """\
            steps:
              - run: cat @DIR@/evil-output
                capture: out
              - prose: ok
                ask: {why: {}}
              - title: "{{ out }}"
                run: printf '%s' {{ out }}; exit 3
            """
        ),
        "-a",
        f"why={hostile}",
    )
    assert result.returncode == 1
    (run_dir,) = (attack.state / "runs").iterdir()
    report = attack.sop("report", run_dir.name).stdout
    assert "<script>" not in report
    assert (
        "&lt;script&gt;alert(1)&lt;/script&gt; \\| \\`x\\` \\[a\\](javascript:alert(1)) next"
        in (report)
    )
    rows = [line for line in report.splitlines() if line.startswith("| ")]
    assert {len(re.split(r"(?<!\\)\|", line)) for line in rows} == {10}  # 8 cells each


# --- the terminal itself: the confirmation prompt in a pseudo-terminal -------------------------


def test_the_command_confirmed_at_a_terminal_is_the_command_that_runs(attack: Attack) -> None:
    """The attack of the finding: `uptime` shown, `touch` run. An input cannot reach a command
    unquoted, so the payload arrives as a captured value in a title, a note and the command."""
    (attack.path / "evil-output").write_text("uptime\x1b[2K\r\x1b[1A\x1b]0;sop\x07")
    attack.write(
        """\
        steps:
          - run: cat @DIR@/evil-output
            capture: out
            confirm: never
          - title: "Check {{ out }}"
            note: "{{ out }}"
            run: echo {{ out }}; touch @PWNED@
            confirm: typed
        """
    )
    child = pexpect.spawn(
        str(SOP),
        ["run", "attack.yaml"],
        cwd=str(attack.path),
        env=attack.env(TERM="xterm-256color", NO_COLOR="1"),
        encoding="utf-8",
        timeout=20,
        dimensions=(50, 200),
    )
    child.logfile_read = transcript = io.StringIO()
    try:
        child.expect_exact(
            "Run on local? [r]un / [s]kip / [e]dit / [o]ff-script / [q]uit / [a]bort: "
        )
        child.sendline("r")
        child.expect_exact("Type 'local' to run on it: ")
        child.sendline("no")
        child.expect_exact("'no' is not 'local': nothing ran.")
        child.expect_exact(
            "Run on local? [r]un / [s]kip / [e]dit / [o]ff-script / [q]uit / [a]bort: "
        )
        child.sendline("q")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    seen = transcript.getvalue()
    assert "\x1b[2K" not in seen and "\x1b[1A" not in seen and "\x1b]0;" not in seen
    assert "Check uptime␛[2K␍␛[1A␛]0;sop␇" in seen
    assert "touch" in seen.split("Check uptime", 1)[1]
    attack.assert_nothing_ran()


# --- a hostile SSH server: its banner before any host key check ---------------------------------

# lines before the version line are a "banner" to paramiko; after 100 of them it gives up and
# quotes the last one in its error (and its transport thread logs a traceback)
BANNER = b"\x1b]0;owned\x07\x1b[2K<script>alert(1)</script> \x1b]52;c;cm0gLXJmIH4=\x07\r\n" * 101


@contextlib.contextmanager
def hostile_server() -> Iterator[int]:
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn, contextlib.suppress(OSError):
                conn.sendall(BANNER)
                conn.settimeout(2)
                conn.recv(4096)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        server.close()
        thread.join(timeout=5)


def test_a_hostile_ssh_banner_reaches_no_output_raw(attack: Attack) -> None:
    with hostile_server() as port:
        (attack.path / "inventory.yaml").write_text(
            yaml.safe_dump({"hosts": {"target": {"address": "127.0.0.1", "port": port}}})
        )
        (attack.path / "known_hosts").write_text("")
        attack.write("on: target\nsteps:\n  - run: touch @PWNED@\n")
        result = attack.sop(
            "run", "--yes", "attack.yaml", "--inventory", "inventory.yaml",
            "--known-hosts", "known_hosts", env={"HOME": str(attack.path)},
        )  # fmt: skip
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and "Exception" not in result.stderr
    assert_no_raw(result.stdout, result.stderr)
    assert "␛]0;owned␇␛[2K<script>alert(1)</script> ␛]52;c;cm0gLXJmIH4=␇" in result.stdout
    (run_dir,) = (attack.state / "runs").iterdir()
    report = attack.sop("report", run_dir.name)
    assert "<script>" not in report.stdout
    assert_no_raw(report.stdout)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in report.stdout
    attack.assert_nothing_ran()


def test_the_cli_prints_only_through_the_filtered_helpers() -> None:
    """Structural: a command that printed with click or print() directly would bypass the
    filter. Only ui.py talks to click's output, and it filters."""
    cli = Path(__file__).parents[2] / "sop" / "cli"
    direct = re.compile(r"\bclick\.(?:echo|secho)\(|(?<![\w.])print\(")
    offenders = [
        f"{path.name}:{number}"
        for path in sorted(cli.glob("*.py"))
        if path.name != "ui.py"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if direct.search(line)
    ]
    assert offenders == []
