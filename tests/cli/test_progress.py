"""A slow step's progress as the responder sees it: after two seconds, hosts done / failed /
running and the time, one line below the hosts' output (in place on a terminal), or a plain line
every ten seconds elsewhere. Driven by events and a fake clock (`ticking=False`: the test ticks)."""

from __future__ import annotations

import io
import sys

import pytest
from rich.console import Console

from sop import events as ev
from sop.cli.progress import elapsed
from sop.cli.ui import TerminalUI
from sop.events import Outcome
from sop.run.testing import FakeClock

from ..terminal.session import screen

STEP = ev.StepRef("deploy", "4", "Deploy", "run", "demo")
HOSTS = ("web1", "web2", "web3", "web4", "web5", "web6")


class Run:
    """A TerminalUI on a fake terminal (or a pipe) and a fake clock."""

    def __init__(self, terminal: bool, *, debug: bool = False) -> None:
        self.buffer = io.StringIO()
        self.clock = FakeClock()
        out = Console(file=self.buffer, width=100, force_terminal=terminal, color_system=None)
        self.ui = TerminalUI(out, self.clock, ticking=False, debug=debug)

    def emit(self, event: ev.Event) -> None:
        self.ui.emit(event)

    def at(self, seconds: float) -> None:
        """`seconds` after the step started, the ticker looks at the clock."""
        self.clock.t = self.started + seconds
        self.ui.tick()

    def start(self, hosts: tuple[str, ...] = HOSTS, running: int = len(HOSTS)) -> None:
        self.started = self.clock.t
        self.emit(ev.StepStarted(self.clock.t, STEP, 1, hosts, "deploy"))
        for host in hosts[:running]:
            self.emit(ev.HostStarted(self.clock.t, STEP, host, 1))

    def finish(self, host: str, outcome: Outcome = Outcome.SUCCESS) -> None:
        self.emit(ev.HostFinished(self.clock.t, STEP, host, outcome, 0, 1.0))

    def output(self, host: str, text: str, multi_host: bool = True) -> None:
        self.emit(ev.Output(self.clock.t, STEP, host, "stdout", text, multi_host))

    @property
    def raw(self) -> str:
        return self.buffer.getvalue()

    @property
    def screen(self) -> list[str]:
        return screen(self.raw)


def test_elapsed_time_reads_as_a_clock() -> None:
    assert [elapsed(s) for s in (0, 7.9, 72, 3723)] == ["0:00", "0:07", "1:12", "1:02:03"]


def test_after_two_seconds_the_terminal_shows_done_failed_and_running_below_the_output() -> None:
    run = Run(terminal=True)
    run.start(running=5)  # parallel: 5, so web6 waits
    run.at(1.9)
    assert run.screen[-2:] == ["running on 6 host(s)...", ""]  # a quick step shows none

    run.at(2.0)
    assert run.screen[-1] == "… 0 of 6 done, 5 running, 1 waiting — 0:02 (step 4)"

    run.clock.t = run.started + 12.4
    for host in HOSTS[:3]:
        run.finish(host)
    run.finish("web4", Outcome.FAILURE)
    run.emit(ev.HostStarted(run.clock.t, STEP, "web6", 1))
    assert run.screen[-1] == "… 4 of 6 done, 1 failed, 2 running — 0:12 (step 4)"
    assert sum("of 6 done" in line for line in run.screen) == 1  # redrawn in place


def test_output_lines_scroll_above_the_progress_line_which_is_redrawn_below_them() -> None:
    run = Run(terminal=True)
    run.start()
    run.at(3)
    run.output("web1", "pulling image\nstarted\n")
    run.output("web2", "pulling")  # half a line waits for its end, the progress line stays
    assert run.screen[-4:] == [
        "running on 6 host(s)...",
        "[web1] pulling image",
        "[web1] started",
        "… 0 of 6 done, 6 running — 0:03 (step 4)",
    ]
    run.at(4)
    assert run.screen[-1] == "… 0 of 6 done, 6 running — 0:04 (step 4)"


def test_after_half_a_line_of_one_hosts_output_no_progress_is_drawn_until_the_line_ends() -> None:
    run = Run(terminal=True)
    run.start(hosts=("web1",))
    run.output("web1", "Password: ", multi_host=False)
    run.at(5)
    assert run.screen[-1] == "Password: "
    run.output("web1", "ok\n", multi_host=False)
    assert run.screen[-2:] == ["Password: ok", "… 0 of 1 done, 1 running — 0:05 (step 4)"]


def test_the_progress_line_goes_when_no_host_runs_and_when_the_step_ends() -> None:
    run = Run(terminal=True)
    run.start(hosts=HOSTS[:2])
    run.at(3)
    run.finish("web1")
    assert run.screen[-1] == "… 1 of 2 done, 1 running — 0:03 (step 4)"
    run.finish("web2")  # a canary's result, say: the prompt that follows gets a clean line
    assert run.screen[-1] == ""
    run.at(4)
    assert run.screen[-1] == ""
    run.emit(ev.StepFinished(run.clock.t, STEP, Outcome.SUCCESS, 4.0))
    run.at(5)
    assert "done" not in "\n".join(run.screen)
    assert run.screen[-2:] == ["✔ ok in 4.00s", ""]


def test_without_a_terminal_progress_is_a_plain_line_every_ten_seconds() -> None:
    run = Run(terminal=False)
    run.start(hosts=HOSTS[:2])
    for second in range(1, 26):
        run.at(second)
        if second == 15:
            run.output("web1", "half done\n")
            run.finish("web1")
    assert "\r" not in run.raw and "\x1b" not in run.raw
    assert run.raw.split("\n")[1:] == [
        "… 0 of 2 done, 2 running — 0:02 (step 4)",
        "… 0 of 2 done, 2 running — 0:12 (step 4)",
        "[web1] half done",
        "… 1 of 2 done, 1 running — 0:22 (step 4)",
        "",
    ]


def test_closing_the_ui_takes_the_progress_line_away() -> None:
    run = Run(terminal=True)
    run.start()
    run.at(3)
    run.ui.close()
    assert run.screen[-1] == ""


def test_a_terminal_resized_while_a_step_runs_gets_a_progress_line_that_fits() -> None:
    run = Run(terminal=True)
    run.start()
    run.at(3)
    assert run.screen[-1] == "… 0 of 6 done, 6 running — 0:03 (step 4)"
    run.ui.out.width = 30  # the responder narrows the window: the next tick measures it
    run.at(4)
    assert run.screen[-1] == "… 0 of 6 done, 6 running — 0:"  # 29 cells: never wraps
    run.ui.out.width = 100
    run.at(5)
    assert run.screen[-1] == "… 0 of 6 done, 6 running — 0:05 (step 4)"


def test_debug_lines_take_the_progress_line_away_and_each_has_a_line_of_its_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    run = Run(terminal=True, debug=True)
    monkeypatch.setattr(sys, "stderr", run.buffer)  # one terminal for stdout and stderr
    run.start(hosts=HOSTS[:2])
    run.at(3)
    run.output("web1", "pulling\n")
    run.finish("web1")
    shown = [line for line in run.screen if line]
    debug = [line for line in shown if "debug: " in line]
    assert [line.split("(")[0] for line in debug] == [
        "debug: StepStarted",
        "debug: HostStarted",
        "debug: HostStarted",
        "debug: Output",
        "debug: HostFinished",
    ]
    assert all(line.startswith("debug: ") for line in debug)  # none after the progress text
    assert shown[-1] == "… 1 of 2 done, 1 running — 0:03 (step 4)"  # drawn again below


HEADER = ev.RunStarted(
    0.0,
    "r1",
    "t1",
    "disk-full",
    "Disk full",
    "/x.yaml",
    "0" * 64,
    "ann",
    None,
    {},
    ("web1",),
    context="The filesystem at `/var` is **almost** full.",
    impact="Writes fail \x1b[2Jand logs are lost.",
    links=(("Disk dashboard", "https://grafana.example.com/d/disk"),),
)


def test_the_run_header_shows_the_sops_context_impact_and_links_made_visible() -> None:
    run = Run(terminal=False)
    run.emit(HEADER)
    text = [line.strip("│ ") for line in run.screen]
    at = text.index("Context")
    assert text[at : at + 9] == [
        "Context",
        "The filesystem at /var is almost full.",
        "",
        "Impact",
        "Writes fail ␛[2Jand logs are lost.",
        "",
        "Links",
        "• Disk dashboard: https://grafana.example.com/d/disk",
        "╰" + "─" * 98 + "╯",
    ]
    assert "\x1b" not in run.raw
