"""`sop run` as a responder uses it: the real CLI in a pseudo-terminal, real local commands and
real SSH hosts (h01..h04, see tests/integration/sshd.py). `mark` (tests/integration/rundir.py)
records in order which command ran on which host, so each test shows what ran and what did not.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from ..integration.rundir import RunDir
from ..integration.sshd import SshdHosts
from .session import DONE, WHY_SKIP, Terminal, failed, run_on, running, typed, wait_until

Start = Callable[..., Terminal]

HEADER = """\
sop: 1
id: {id}
title: Test
owner: team
reviewed: 2026-11-01
tasks: tasks.py
"""


def write(rundir: RunDir, sop_id: str, body: str) -> Path:
    return rundir.write_sop(HEADER.format(id=sop_id) + body, f"{sop_id}.yaml")


# -- a whole SOP, walked at the terminal ------------------------------------------------------

JOURNEY = """\
steps:
  - heading: Diagnosis
  - id: look
    title: Look at the dashboard
    prose: Open the disk dashboard. Which mount is full?
    ask:
      mount: {help: Mount that is full, pattern: '^/.*'}
  - id: local-run
    run: "@MARK@ local-run {{ mount }}"
  - id: remote-run
    on: h01
    run: "@MARK@ remote-run {{ mount }}"
  - id: script
    on: h02
    script: |
      @MARK@ script first
      @MARK@ script second
  - id: task
    on: h03
    task: mark
    args: {mark: "@MARK@", name: task, words: "{{ mount }}"}
  - heading: Mitigation
  - id: fleet
    on: web
    run: |
      @MARK@ fleet; echo "hello from $(echo "$SSH_CONNECTION" | cut -d' ' -f3)"
  - id: flaky
    on: h04
    run: "@MARK@ flaky; exit 3"
  - id: after-skip
    run: "@MARK@ after-skip"
  - id: breaks
    on: h01
    run: "@MARK@ breaks; exit 4"
  - id: never
    on: h02
    run: "@MARK@ never"
rollback:
  - id: undo
    on: h02
    run: "@MARK@ undo"
  - id: tell
    prose: "Tell #ops what you undid."
"""


def test_a_responder_walks_every_kind_of_step_retries_skips_and_rolls_back(
    rundir: RunDir, terminal: Start
) -> None:
    term = terminal(write(rundir, "journey", JOURNEY))

    term.answer(DONE, "d")
    term.answer("Mount that is full: ", "/var/log")
    term.answer(run_on("local"), "r")
    term.answer(run_on("h01"), "r")
    term.answer(run_on("h02"), "r")
    term.answer(run_on("h03", task=True), "r")
    term.answer(run_on("h01, h02, h03"), "r")
    term.answer(run_on("h04"), "r")
    term.answer(failed("h04"), "r")  # retry: fails again
    term.answer(failed("h04"), "s")
    term.answer(WHY_SKIP, "known flaky, ticket OPS-1")
    term.answer(run_on("local"), "r")
    term.answer(run_on("h01"), "r")
    term.answer(failed("h01"), "b")  # rollback
    term.answer(run_on("h02"), "r")
    term.answer(DONE, "d")

    assert term.exit_status() == 1
    marks = rundir.marks()
    assert marks[:5] == [
        "local local-run /var/log",
        "h01 remote-run /var/log",
        "h02 script first",
        "h02 script second",
        "h03 task /var/log",
    ]
    assert sorted(marks[5:8]) == ["h01 fleet", "h02 fleet", "h03 fleet"]
    assert marks[8:] == [
        "h04 flaky",
        "h04 flaky",
        "local after-skip",
        "h01 breaks",
        "h02 undo",
    ]
    shown = term.transcript
    for host, address in (("h01", "127.0.0.2"), ("h02", "127.0.0.3"), ("h03", "127.0.0.4")):
        assert f"[{host}] hello from {address}\n" in shown
    assert "skipped: known flaky, ticket OPS-1" in shown
    assert "h03 $ " in shown  # the command the task ran, with its host
    assert "Rollback" in shown
    assert "Run rolled-back" in shown


# -- confirmations ---------------------------------------------------------------------------

TWO_STEPS = """\
steps:
  - id: first
    on: h01
    run: "@MARK@ first"
  - id: second
    run: "@MARK@ second"
"""


def test_a_declined_step_runs_nothing_and_the_run_goes_on(rundir: RunDir, terminal: Start) -> None:
    term = terminal(write(rundir, "decline", TWO_STEPS))

    term.answer(run_on("h01"), "s")
    term.answer(WHY_SKIP, "")  # a reason is required: asked again
    term.answer(WHY_SKIP, "not during the sale")
    term.expect(run_on("local"))
    assert rundir.marks() == []
    term.child.sendline("r")

    assert term.exit_status() == 0
    assert rundir.marks() == ["local second"]
    assert "skipped: not during the sale" in term.transcript


QUIT_SOP = """\
steps:
  - id: first
    run: "@MARK@ first"
  - id: look
    prose: Look at the graphs.
  - id: second
    on: h01
    run: "@MARK@ second"
  - id: third
    run: "@MARK@ third"
"""


@pytest.mark.parametrize("where", ["prose", "run"])
def test_quit_pauses_the_run_and_nothing_after_it_runs(
    rundir: RunDir, terminal: Start, where: str
) -> None:
    term = terminal(write(rundir, "quit", QUIT_SOP))

    term.answer(run_on("local"), "r")
    if where == "prose":
        term.answer(DONE, "q")
    else:
        term.answer(DONE, "d")
        term.answer(run_on("h01"), "q")

    assert term.exit_status() == 4
    assert rundir.marks() == ["local first"]
    step = "2 (look)" if where == "prose" else "3 (second)"
    assert "Run paused after" in term.transcript
    assert f"quit at step {step}. Nothing is finished" in term.transcript


TYPED = """\
steps:
  - id: deploy
    on: web
    confirm: typed
    run: "@MARK@ deploy"
"""


def test_a_typed_confirmation_needs_the_target_name(rundir: RunDir, terminal: Start) -> None:
    term = terminal(write(rundir, "typed", TYPED))

    term.answer(run_on("h01, h02, h03"), "r")
    term.answer(typed("web"), "h01")
    term.expect("'h01' is not 'web': nothing ran.")
    term.answer(run_on("h01, h02, h03"), "r")  # asked again
    term.expect(typed("web"))
    assert rundir.marks() == []
    term.child.sendline("web")

    assert term.exit_status() == 0
    assert sorted(rundir.marks()) == ["h01 deploy", "h02 deploy", "h03 deploy"]


def test_an_edited_command_runs_as_edited_after_a_reason(rundir: RunDir, terminal: Start) -> None:
    term = terminal(write(rundir, "edit", TWO_STEPS))

    term.answer(run_on("h01"), "e")
    term.expect(f"New command: {rundir.mark} first")  # on the line, to edit in place
    term.child.send("\x7f" * len("first") + "edited\r")
    term.answer("Why change the command?: ", "the first one is wrong today")
    term.answer(run_on("h01"), "r")
    term.answer(run_on("local"), "r")

    assert term.exit_status() == 0
    assert rundir.marks() == ["h01 edited", "local second"]
    assert "deviation: command edited (the first one is wrong today)" in term.transcript


CANARY = """\
steps:
  - id: deploy
    on: all
    canary: 1
    run: "@MARK@ deploy"
  - id: after
    run: "@MARK@ after"
"""


def test_after_the_canary_the_responder_may_stop_before_the_other_hosts(
    rundir: RunDir, terminal: Start
) -> None:
    term = terminal(write(rundir, "canary", CANARY))

    term.answer(run_on("h01, h02, h03, h04"), "r")
    term.answer("The canary succeeded. Run on the other 3 host(s)? [y]es / [n]o: ", "n")
    term.answer(failed("h02", "h03", "h04", of=4), "s")
    term.answer(WHY_SKIP, "canary looks odd")
    term.answer(run_on("local"), "r")

    assert term.exit_status() == 0
    assert rundir.marks() == ["h01 deploy", "local after"]
    assert "not run: stopped after the canary" in term.transcript


SECRET = "hunter2-is-not-a-password"
SECRET_SOP = """\
inputs:
  token: {help: API token, secret: true, env: OPS_TOKEN}
steps:
  - id: use
    on: h01
    run: '@MARK@ token "$SOP_SECRET_TOKEN"; echo "token=$SOP_SECRET_TOKEN"'
"""


def test_a_secret_typed_at_the_prompt_is_not_echoed_and_reaches_the_command(
    rundir: RunDir, terminal: Start
) -> None:
    term = terminal(write(rundir, "secret", SECRET_SOP))

    term.answer("API token: ", SECRET)
    term.answer(run_on("h01"), "r")

    assert term.exit_status() == 0
    assert rundir.marks() == [f"h01 token {SECRET}"]
    assert SECRET not in term.transcript
    assert "token=********" in term.transcript


# -- Ctrl-C ----------------------------------------------------------------------------------

NAP = """\
steps:
  - id: nap
    on: {target}
    run: "@MARK@ nap; {nap} 30; @MARK@ woke"
  - id: after
    run: "@MARK@ after"
"""


@pytest.mark.parametrize(
    ("target", "hosts"),
    [("h01", ["h01"]), ("local", ["local"]), ("web", ["h01", "h02", "h03"])],
)
def test_ctrl_c_stops_a_running_command_and_ctrl_c_at_the_menu_exits_130(
    rundir: RunDir, terminal: Start, nap: Path, target: str, hosts: list[str]
) -> None:
    term = terminal(write(rundir, "nap", NAP.format(target=target, nap=nap)))

    term.answer(run_on(", ".join(hosts)), "r")
    assert wait_until(lambda: len(running(f"{nap} 30")) == len(hosts)), running(f"{nap} 30")
    started = time.monotonic()
    term.interrupt()
    term.expect(f"Ctrl-C: sent TERM to the commands still running on {', '.join(hosts)}.")
    term.expect("interrupted (Ctrl-C)", timeout=5)
    term.expect("The step failed. What now? [r]etry", timeout=5)

    assert time.monotonic() - started < 5
    assert " 0.00s " not in term.transcript  # each host's real time, not none
    assert wait_until(lambda: not running(f"{nap} 30"), timeout=5), running(f"{nap} 30")
    assert sorted(rundir.marks()) == [f"{host} nap" for host in hosts]

    term.interrupt()  # at the menu
    assert term.exit_status() == 130
    assert sorted(rundir.marks()) == [f"{host} nap" for host in hosts]
    assert "Run paused after" in term.transcript
    assert "Ctrl-C at step 1 (nap)" in term.transcript


def test_ctrl_c_at_a_confirmation_exits_130_and_runs_nothing(
    rundir: RunDir, terminal: Start
) -> None:
    term = terminal(write(rundir, "ctrl-c", TWO_STEPS))

    term.expect(run_on("h01"))
    term.interrupt()

    assert term.exit_status() == 130
    assert rundir.marks() == []


# -- dry run ---------------------------------------------------------------------------------

DRY = """\
inputs:
  service: {default: nginx}
steps:
  - id: look
    prose: Which mount is full?
    ask:
      mount: {help: Mount that is full}
  - id: local-run
    run: "@MARK@ local-run {{ mount }}"
  - id: quiet-run
    on: quiet
    run: "@MARK@ quiet-run {{ service }}"
  - id: fleet
    on: web
    script: |
      @MARK@ fleet
      systemctl restart {{ service }}
  - id: task
    on: quiet
    task: mark
    args: {mark: "@MARK@", name: task}
  - id: typed
    on: quiet
    confirm: typed
    run: "@MARK@ typed"
"""


def accepted_logins(hosts: SshdHosts) -> int:
    """How many SSH logins the fixture's sshd has accepted so far."""
    log = hosts.workdir / "sshd.main0.log"
    return log.read_text(errors="replace").count("Accepted publickey")


def test_dry_run_shows_every_command_and_connects_to_nothing(
    rundir: RunDir, sshd_hosts: SshdHosts, terminal: Start
) -> None:
    quiet = sshd_hosts.silent_host()  # accepts TCP, never answers: a connection would hang
    rundir = RunDir.create(rundir.path, sshd_hosts, extra_hosts={"quiet": quiet})
    sop = write(rundir, "dry", DRY)
    logins = accepted_logins(sshd_hosts)
    started = time.monotonic()

    term = terminal(sop, "--dry-run", rundir=rundir)

    assert term.exit_status(timeout=10) == 0
    assert time.monotonic() - started < 5
    shown = term.transcript
    assert "DRY RUN: nothing will run" in shown
    mark = str(rundir.mark)
    assert f"{mark} local-run '<answer:mount>'" in shown
    assert f"{mark} quiet-run nginx" in shown
    assert f"{mark} fleet" in shown
    assert "systemctl restart nginx" in shown
    assert f"mark(mark='{mark}', name='task')" in shown
    assert f"{mark} typed" in shown
    assert shown.count("not run (dry run)") == 6
    assert "Run success after" in shown
    assert "(6 dry-run)" in shown
    assert rundir.marks() == []
    assert accepted_logins(sshd_hosts) == logins
