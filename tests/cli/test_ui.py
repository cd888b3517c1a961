"""The terminal UI's cheap paths print what the rich renderings they replace would print."""

from __future__ import annotations

import io

import pytest
from rich.console import Console
from rich.syntax import Syntax

from sop import events as ev
from sop.cli.ui import TerminalUI

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
        Syntax(command, "bash", theme="ansi_dark", background_color="default", word_wrap=True)
    )
    assert buffer.getvalue() == expected.getvalue()


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
        "h3          ✘ failed        10.00s  timed out␛]0;x␇ after 10s",
        "✘ failed in 2.50s",
    ]
    assert ("\x1b[32m" in text and "\x1b[31m" in text) == colour  # green and red lines
