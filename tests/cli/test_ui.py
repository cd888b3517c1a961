"""The terminal UI's cheap paths print what the rich renderings they replace would print."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from rich.console import Console
from rich.syntax import Syntax

from sop import events as ev
from sop.cli.ui import CONTINUED, TerminalUI, show_sop, wrap_command
from sop.format.loader import load_sop

ANSI = re.compile(r"\x1b\[[0-9;]*m")
STEP = ev.StepRef("s1", "1", "Check", "run", "demo")
COMMANDS = [
    "hostname; echo ok",
    "for h in a b; do\n  echo \"$h\" | awk '{print $1}'\ndone",
    "x" * 150,
    "  indented\n\ttab\tand\ttabs",
    "echo [bold]not markup[/bold] :smile:",
]


def console(colour: bool) -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    if colour:
        return Console(file=buffer, width=80, force_terminal=True, color_system="standard"), buffer
    return Console(file=buffer, width=80, color_system=None), buffer


@pytest.mark.parametrize("command", COMMANDS)
def test_a_command_without_colour_is_the_text_syntax_highlighting_would_give(
    command: str,
) -> None:
    out, buffer = console(colour=False)
    TerminalUI(out).emit(ev.StepShown(0.0, STEP, command=command))
    reference, expected = console(colour=False)
    reference.print("\nStep 1 · Check", markup=False)
    reference.print(
        Syntax(wrap_command(command, 80), "bash", theme="ansi_dark", background_color="default")
    )
    assert buffer.getvalue() == expected.getvalue()


LONG = (
    "curl -fsS -X POST https://deploy.example.com/api/v1/services/web/rollouts "
    "-H 'Content-Type: application/json' --data '{\"version\": \"2026.12.06-1\"}'\n"
    "systemctl restart web"
)


def test_a_long_command_wraps_with_a_continuation_mark_and_loses_nothing() -> None:
    assert wrap_command(LONG, 80).split("\n") == [
        LONG[:80],
        CONTINUED + LONG[80:146],
        "systemctl restart web",
    ]
    assert wrap_command("a\tb", 80) == "a   b"
    assert wrap_command("日本語のコマンド", 6) == "日本語\n↪ のコ\n↪ マン\n↪ ド"


@pytest.mark.parametrize("colour", [False, True])
def test_at_80_columns_the_step_screen_wraps_a_long_command_with_the_mark(colour: bool) -> None:
    out, buffer = console(colour)
    TerminalUI(out).emit(ev.StepShown(0.0, STEP, command=LONG))
    lines = ANSI.sub("", buffer.getvalue()).split("\n")[2:-1]
    assert [line.rstrip() for line in lines] == wrap_command(LONG, 80).split("\n")


def test_sop_show_wraps_long_commands_with_the_mark(tmp_path: Path) -> None:
    path = tmp_path / "sop.yaml"
    path.write_text(
        "sop: 1\nid: long\ntitle: Long\nsteps:\n  - id: deploy\n    run: |\n"
        + "".join(f"      {line}\n" for line in LONG.split("\n"))
    )
    out, buffer = console(colour=False)
    show_sop(load_sop(path), out)
    shown = [line.rstrip() for line in buffer.getvalue().split("\n")]
    start = shown.index(LONG[:80])
    assert shown[start : start + 3] == wrap_command(LONG, 80).split("\n")
    assert max(len(line) for line in shown) <= 80


def test_the_step_screen_names_the_excluded_hosts_and_a_partial_step_is_marked() -> None:
    out, buffer = console(colour=False)
    ui = TerminalUI(out)
    ui.emit(
        ev.StepShown(
            0.0, STEP, command="./deploy", hosts=("web1", "web2"), excluded={"web3": "disk died"}
        )
    )
    ui.emit(ev.HostExcluded(0.0, STEP, "web2", "hung"))
    ui.emit(ev.StepFinished(1.0, STEP, "partial", 0.0, reason="excluded: web2 (hung)"))
    assert buffer.getvalue() == (
        "\nStep 1 · Check\n./deploy\n  on web1, web2\n  web3 excluded: disk died\n"
        "web2 excluded for the rest of the run: hung\n◐ partial: excluded: web2 (hung)\n"
    )


def test_a_command_on_a_colour_terminal_is_highlighted() -> None:
    out, buffer = console(colour=True)
    TerminalUI(out).emit(ev.StepShown(0.0, STEP, command="echo ok | grep ok"))
    assert "\x1b[" in buffer.getvalue().split("\n", 2)[2]


def finished(*results: ev.HostFinished) -> ev.StepFinished:
    return ev.StepFinished(1.0, STEP, "failure", 2.5, results=results)


@pytest.mark.parametrize("colour", [False, True])
def test_the_per_host_summary_is_one_aligned_line_per_host(colour: bool) -> None:
    out, buffer = console(colour)
    TerminalUI(out).emit(
        finished(
            ev.HostFinished(0.0, STEP, "web-1", "success", 0, 0.5),
            ev.HostFinished(0.0, STEP, "db-primary", "failure", 3, 12.25),
            ev.HostFinished(
                0.0, STEP, "h3", "failure", None, 10.0, "timed out\x1b]0;x\x07\nafter 10s"
            ),
        )
    )
    text = buffer.getvalue()
    plain = text if not colour else __import__("re").sub(r"\x1b\[[0-9;]*m", "", text)
    assert plain.splitlines() == [
        "HOST        RESULT    EXIT  TIME    ERROR",
        "web-1       ✔ ok      0     0.50s",
        "db-primary  ✘ failed  3     12.25s",
        "h3          ✘ failed        10.00s  timed out␛]0;x␇",
        "  after 10s",  # an error's further lines (a trust hint), once, below the table
        "✘ failed in 2.50s",
    ]
    assert ("\x1b[32m" in text and "\x1b[31m" in text) == colour  # green and red lines


def test_sop_show_marks_a_script_that_is_not_strict(tmp_path: Path) -> None:
    path = tmp_path / "sop.yaml"
    path.write_text(
        "sop: 1\nid: s\ntitle: S\nsteps:\n"
        "  - id: strict\n    script: echo one\n"
        "  - id: loose\n    strict: false\n    script: echo two\n"
    )
    out, buffer = console(colour=False)
    show_sop(load_sop(path), out)
    shown = buffer.getvalue()
    assert "1. echo one (script; confirm auto)" in shown
    assert "2. echo two (script; confirm auto; not strict)" in shown


def test_sop_show_names_the_word_to_type_and_the_exits_that_succeed(tmp_path: Path) -> None:
    """What a rendered page says as facts (Confirm: typed: WORD, Succeeds with exit)."""
    path = tmp_path / "sop.yaml"
    path.write_text(
        "sop: 1\nid: s\ntitle: S\ninputs: {key: {required: true}}\nsteps:\n"
        "  - id: check\n    run: systemctl is-active api\n    ok_exit: [0, 3]\n"
        "  - id: revoke\n    run: revoke {{ key }}\n    confirm: {type: '[{{ key }}]'}\n"
    )
    out, buffer = console(colour=False)
    show_sop(load_sop(path), out)
    shown = buffer.getvalue()
    assert "1. systemctl is-active api (run; confirm auto; succeeds with exit 0, 3)" in shown
    assert "2. revoke {{ key }} (run; confirm typed [{{ key }}])" in shown


def test_the_preflight_is_one_line_per_host_its_hints_once_below() -> None:
    out, text = console(False)
    TerminalUI(out).emit(
        ev.Preflight(
            0.0,
            2,
            (
                ev.HostReached("web1", "ops@10.0.0.1", ev.Reach.OK, 0.1),
                ev.HostReached(
                    "web2",
                    "ops@10.0.0.2:2222",
                    ev.Reach.UNKNOWN_KEY,
                    0.1,
                    "web2: unknown host key for [10.0.0.2]:2222: ssh-ed25519 SHA256:x\n"
                    "trust it with:\n    ssh-keyscan -p 2222 10.0.0.2 >> known_hosts",
                ),
                ev.HostReached(
                    "db1",
                    "10.0.0.3",
                    ev.Reach.TIMEOUT,
                    10.0,
                    "db1 (ops@10.0.0.3 port 22): timed out after 10s",
                ),
                ev.HostReached("web9", "", ev.Reach.UNRESOLVABLE, 0.0, "step 2: not a host"),
            ),
            10.02,
            ("step 4 (three) on '{{ victim }}': known only later",),
        )
    )
    assert text.getvalue() == (
        "\n"
        "Pre-flight (re-check 1) 10.02s\n"
        "HOST  ADDRESS            RESULT               DETAIL\n"
        "web1  ops@10.0.0.1       ok\n"
        "web2  ops@10.0.0.2:2222  unknown key          unknown host key for [10.0.0.2]:2222: "
        "ssh-ed25519 SHA256:x\n"
        "db1   10.0.0.3           timeout              timed out after 10s\n"
        "web9  -                  unresolvable target  step 2: not a host\n"
        "  trust it with:\n"
        "      ssh-keyscan -p 2222 10.0.0.2 >> known_hosts\n"
        "not checked: step 4 (three) on '{{ victim }}': known only later\n"
        "✘ 3 of 4 not ok\n"
    )


def test_each_preflight_line_has_the_colour_of_its_result() -> None:
    out, text = console(True)
    reach = [ev.Reach.OK, ev.Reach.OK, ev.Reach.TIMEOUT, ev.Reach.OK]
    results = tuple(
        ev.HostReached(f"h{i}", f"10.0.0.{i}", r, 0.1, "" if r == "ok" else "timed out")
        for i, r in enumerate(reach, 1)
    )
    TerminalUI(out).emit(ev.Preflight(0.0, 1, results, 1.0))
    lines = text.getvalue().split("\n")[2:7]
    assert lines == [
        "\x1b[2mHOST  ADDRESS   RESULT   DETAIL\x1b[0m",
        "\x1b[32mh1    10.0.0.1  ok\x1b[0m",
        "\x1b[32mh2    10.0.0.2  ok\x1b[0m",
        "\x1b[31mh3    10.0.0.3  timeout  timed out\x1b[0m",
        "\x1b[32mh4    10.0.0.4  ok\x1b[0m",
    ]


def test_sop_show_shows_decisions_as_a_tree_and_when_sections_apply(tmp_path: Path) -> None:
    from tests.render.test_decisions import BRANCHING

    path = tmp_path / "sop.yaml"
    path.write_text(BRANCHING)
    out, buffer = console(colour=False)
    show_sop(load_sop(path), out)
    shown = buffer.getvalue()
    assert (
        "1. Does a majority answer? (decide)\n"
        "  • yes → Replace\n"
        "  • no → Restore\n"
        "  • else → Escalate\n\n"
        "Replace\n"
        "Only when the answer to step 1 is “yes”\n"
    ) in shown
    assert (
        "Verify\nRepeats until ok (at most 3 passes)\n\n"
        "5. echo ok (run; confirm auto)  on local\n"
        "echo ok\n\n"
        "6. Clean? (decide)\n"
    ) in shown
    assert "  • no → back to Replace (at most 2 times)\n  • yes → Close\n" in shown


def test_a_dry_run_says_when_each_section_and_step_applies(tmp_path: Path) -> None:
    from sop.run.testing import run_sop
    from tests.render.test_decisions import BRANCHING

    text = BRANCHING.replace(
        "  - run: echo replace\n", "  - run: echo replace\n    when: 'false'\n"
    )
    path = tmp_path / "sop.yaml"
    path.write_text(text)
    _, recorder, _ = run_sop(path, dry_run=True)
    out, buffer = console(colour=False)
    ui = TerminalUI(out)
    for event in recorder.events:
        ui.emit(event)
    shown = buffer.getvalue()
    assert "Replace ─" in shown and "Only when the answer to step 1 is “yes”\n" in shown
    assert "Only when false" in shown
    assert "Verify ─" in shown and "Repeats until ok (at most 3 passes)\n" in shown


def test_titles_are_shown_as_written_never_as_emoji() -> None:
    """rich turns `:fire:` or `:x:` into pictures unless told not to: a step's title (or an
    SOP's) must read on the terminal as it reads in the SOP."""
    from sop.cli.ui import console as sop_console

    buffer = io.StringIO()
    out = sop_console(file=buffer, width=80, color_system=None)
    step = ev.StepRef("s1", "1", "Clear the :x: flag, then :fire:", "run", "demo")
    TerminalUI(out).emit(ev.StepShown(0.0, step, command="echo :smile:"))
    shown = buffer.getvalue()
    assert "Step 1 · Clear the :x: flag, then :fire:" in shown
    assert "echo :smile:" in shown
    assert "\N{CROSS MARK}" not in shown and "\N{FIRE}" not in shown
