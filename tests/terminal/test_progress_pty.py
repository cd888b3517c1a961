"""A slow step on three real sshd hosts: at a terminal, after two seconds, a progress line below
the hosts' output, redrawn in place as the seconds pass and gone once the hosts are done; without
a terminal, a plain line instead (issue 14)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable

from ..integration.rundir import SOP, RunDir
from .session import Terminal, run_on

SLOW = """\
sop: 1
id: slow
title: Test
owner: team
reviewed: 2026-11-01
steps:
  - id: slow
    on: web
    run: 'echo "start-$((1 + 1))"; sleep 3.5; echo "end-$((2 + 1))"'
"""

RUNNING = "… 0 of 3 done, 3 running — 0:0{} (step 1)"


def test_at_a_terminal_a_slow_steps_progress_is_redrawn_in_place_below_its_output(
    rundir: RunDir, terminal: Callable[..., Terminal]
) -> None:
    term = terminal(rundir.write_sop(SLOW, "slow.yaml"))
    term.answer(run_on("h01, h02, h03"), "r")

    term.expect("[h03] start-2")
    term.expect(RUNNING.format(2), timeout=4)
    assert term.screen[-1] == RUNNING.format(2)  # the last line, below the hosts' output
    term.expect(RUNNING.format(3), timeout=3)
    assert term.screen[-1] == RUNNING.format(3)  # the same line, redrawn
    assert term.exit_status() == 0

    shown = [line.rstrip() for line in term.screen]
    assert not [line for line in shown if "running —" in line]  # gone once the hosts are done
    assert sorted(line for line in shown if line.startswith("[h0")) == sorted(
        f"[h0{n}] {word}" for n in (1, 2, 3) for word in ("start-2", "end-3")
    )


def test_without_a_terminal_the_progress_is_a_plain_line(rundir: RunDir) -> None:
    sop = rundir.write_sop(SLOW, "slow.yaml")
    proc = subprocess.run(
        [str(SOP), *rundir.args(sop, "--yes")],
        cwd=rundir.path,
        env=rundir.env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "\r" not in proc.stdout and "\x1b" not in proc.stdout
    lines = proc.stdout.splitlines()
    assert [line for line in lines if "running —" in line] == [RUNNING.format(2)]
    progress = lines.index(RUNNING.format(2))
    assert sorted(lines[progress - 3 : progress]) == [f"[h0{n}] start-2" for n in (1, 2, 3)]
    assert sorted(lines[progress + 1 : progress + 4]) == [f"[h0{n}] end-3" for n in (1, 2, 3)]


def test_debug_lines_never_land_on_the_progress_line_which_fits_a_resized_terminal(
    rundir: RunDir,
) -> None:
    env = {k: v for k, v in rundir.env().items() if k not in ("COLUMNS", "LINES")}
    sop = rundir.write_sop(SLOW, "slow.yaml")
    term = Terminal.spawn(["--debug", *rundir.args(sop)], cwd=rundir.path, env=env)
    try:
        term.answer(run_on("h01, h02, h03"), "r")
        term.expect(RUNNING.format(2), timeout=4)
        term.child.setwinsize(50, 30)  # the responder narrows the window while hosts run
        term.expect("… 0 of 3 done, 3 running — 0:\r", timeout=2)  # cut to 29 cells
        assert term.exit_status() == 0
    finally:
        term.close()
    shown = [line.rstrip() for line in term.screen]
    debug = [line for line in shown if "debug: " in line]
    assert any(line.startswith("debug: HostFinished(") for line in debug)
    assert all(line.startswith("debug: ") for line in debug), debug  # each on a line of its own
    assert not [line for line in shown if "running —" in line]  # gone once the hosts are done
