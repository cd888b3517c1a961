"""A decision at a real terminal: the responder reads where each answer leads, answers by
number, goes back to containment once, and the sections that were not chosen do not run."""

from __future__ import annotations

from collections.abc import Callable

from ..integration.rundir import RunDir
from .session import Terminal, run_on

Start = Callable[..., Terminal]

DECISION = """\
sop: 1
id: decision
title: Decision
owner: team
reviewed: 2026-11-01
steps:
  - heading: Containment
    id: contain
  - id: isolate
    on: h01
    run: "@MARK@ isolate"
  - heading: Verify
    id: verify
  - id: clean
    decide: Is the host clean now?
    options:
      "yes, no indicator left": recover
      "no, indicators remain": contain
    else: escalate
    max: 1
  - heading: Recover
    id: recover
  - id: restore
    run: "@MARK@ restore"
  - heading: Escalate
    id: escalate
  - id: page
    run: "@MARK@ page"
"""

ANSWER = (
    "Your answer? [1] yes, no indicator left / [2] no, indicators remain / [3] else / [q]uit"
    " / [a]bort"
)


def test_a_responder_goes_back_once_then_on_and_the_other_branch_never_runs(
    rundir: RunDir, terminal: Start
) -> None:
    term = terminal(rundir.write_sop(DECISION, "decision.yaml"))

    term.answer(run_on("h01"), "r")
    term.expect(ANSWER)
    for line in (
        " • yes, no indicator left → Recover",
        " • no, indicators remain → back to Containment",
        " • else → Escalate",
    ):
        assert line in term.transcript
    term.child.sendline("2")
    term.expect("Containment (pass 2)")
    term.answer(run_on("h01"), "r")
    # going back is offered once (`max: 1`): the second time it is not
    term.answer("Your answer? [1] yes, no indicator left / [2] else / [q]uit / [a]bort", "1")
    term.answer(run_on("local"), "r")

    assert term.exit_status() == 0
    assert rundir.marks() == ["h01 isolate", "h01 isolate", "local restore"]
    shown = term.transcript
    assert "⤼ Escalate: skipped, not chosen by the decision at step 2 (clean)" in shown
    assert "Run success" in shown
