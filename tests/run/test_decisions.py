"""Decide steps, sections that apply only `when` something holds, sections that repeat until
a condition holds, and going back to an earlier section: what runs, what is recorded."""

from __future__ import annotations

from pathlib import Path

import pytest

from sop import events as ev
from sop.events import Outcome
from sop.run.options import ConfirmationRequired, DrillOptions
from sop.run.testing import ScriptedPrompter, run_sop, write_sop

TRIAGE = """\
sop: 1
id: triage
title: Triage
steps:
  - heading: Diagnosis
    id: diagnose
  - id: quorum
    decide: Does a majority of the members answer?
    options:
      "yes": replace
      "no": [restore, tell]
    else: escalate
  - heading: Replace the member
    id: replace
  - id: replace-it
    run: echo replaced
    confirm: never
    capture: replaced
  - heading: Restore from a snapshot
    id: restore
  - id: restore-it
    run: echo restored
    confirm: never
  - heading: Tell the owners
    id: tell
  - id: tell-them
    prose: Tell the owners.
  - heading: Escalate
    id: escalate
  - id: page
    prose: Page the etcd team.
  - heading: Close
    id: close
  - id: close-it
    run: echo replaced={{ replaced }}
    confirm: never
    capture: summary
"""


def outcomes(recorder: object) -> dict[str, str]:
    return {e.step.key: e.outcome for e in recorder.of(ev.StepFinished)}  # type: ignore[attr-defined]


def test_an_answer_runs_the_sections_it_names_and_skips_the_others(tmp_path: Path) -> None:
    prompter = ScriptedPrompter(("choose", "Your answer?", "2"), ("choose", "Done?", "d"))
    result, rec, _ = run_sop(write_sop(tmp_path, TRIAGE), prompter=prompter, yes=False)
    assert result.outcome == Outcome.SUCCESS
    assert outcomes(rec) == {
        "quorum": "done",
        "replace-it": "skipped",
        "restore-it": "success",
        "tell-them": "done",
        "page": "skipped",
        "close-it": "success",
    }
    (decided,) = rec.of(ev.Decided)
    assert (decided.choice, decided.goto, decided.how) == ("no", ("restore", "tell"), "interactive")
    skipped = [(e.section_id, e.reason) for e in rec.of(ev.SectionSkipped)]
    assert skipped == [
        ("replace", "not chosen by the decision at step 1 (quorum)"),
        ("escalate", "not chosen by the decision at step 1 (quorum)"),
    ]
    # the capture of the section that did not run is empty, not undefined
    assert rec.of(ev.Captured)[-1].value == "replaced=\n"


def test_else_takes_the_else_sections(tmp_path: Path) -> None:
    result, rec, _ = run_sop(write_sop(tmp_path, TRIAGE), yes=True, answers={"quorum": "else"})
    assert result.outcome == Outcome.SUCCESS
    done = {k for k, o in outcomes(rec).items() if o != "skipped"}
    assert done == {"quorum", "page", "close-it"}
    assert rec.of(ev.Decided)[0].how == "--answer"


def test_the_menu_shows_where_each_answer_leads(tmp_path: Path) -> None:
    prompter = ScriptedPrompter(("choose", "Your answer?", "1"))
    _, rec, _ = run_sop(write_sop(tmp_path, TRIAGE), prompter=prompter, yes=False)
    shown = next(e for e in rec.of(ev.StepShown) if e.step.id == "quorum")
    assert shown.prose == (
        "- **yes** → Replace the member\n"
        "- **no** → Restore from a snapshot, Tell the owners\n"
        "- **else** → Escalate"
    )


def test_an_unattended_run_needs_the_answer_and_refuses_one_that_is_not_offered(
    tmp_path: Path,
) -> None:
    path = write_sop(tmp_path, TRIAGE)
    with pytest.raises(ConfirmationRequired) as asked:
        run_sop(path, yes=True)
    assert str(asked.value) == (
        "step 1 (quorum) is a decision: answer it with -a quorum=ANSWER (one of: yes, no, else)"
    )
    with pytest.raises(ConfirmationRequired) as wrong:
        run_sop(path, yes=True, answers={"quorum": "maybe"})
    assert str(wrong.value) == (
        "step 1 (quorum): 'maybe' is not an answer of this decision here; one of: yes, no, else"
    )


def test_a_dry_run_shows_every_section_once(tmp_path: Path) -> None:
    _, rec, _ = run_sop(write_sop(tmp_path, TRIAGE), dry_run=True)
    assert set(outcomes(rec).values()) == {"dry-run"}
    assert len(outcomes(rec)) == 6 and not rec.of(ev.Decided) and not rec.of(ev.SectionSkipped)


WHEN_SECTION = """\
sop: 1
id: when-section
title: When
inputs:
  mode: {choices: [fast, slow], default: fast}
steps:
  - heading: Slow path
    id: slow
    when: "mode == 'slow'"
  - id: ask-it
    prose: How slow?
    ask: {how_slow: {help: How slow}}
  - run: echo slow
  - heading: After
  - run: echo [{{ how_slow }}]
    capture: after
"""


def test_a_section_whose_when_is_false_is_skipped_and_leaves_its_answers_empty(
    tmp_path: Path,
) -> None:
    result, rec, _ = run_sop(write_sop(tmp_path, WHEN_SECTION), yes=True)
    assert result.outcome == Outcome.SUCCESS
    (skipped,) = rec.of(ev.SectionSkipped)
    assert skipped.reason == "`when: mode == 'slow'` is false"
    assert rec.of(ev.Captured)[0].value == "[]\n"


def test_a_skipped_question_without_default_is_empty_not_undefined(tmp_path: Path) -> None:
    text = """\
    sop: 1
    id: skip-q
    title: Skip
    steps:
      - prose: Which mount is full?
        ask: {mount: {help: Mount}}
      - run: echo [{{ mount }}]
        when: "mount != '/'"
        confirm: never
        capture: seen
    """
    prompter = ScriptedPrompter(("choose", "Done?", "s"), ("text", "Why skip", "later"))
    result, rec, _ = run_sop(write_sop(tmp_path, text), prompter=prompter)
    assert result.outcome == Outcome.SUCCESS
    assert rec.of(ev.Captured)[0].value == "[]\n"


LOOP = """\
sop: 1
id: loop
title: Loop
steps:
  - heading: Wait for the members
    id: poll
    repeat: {{until: "count | int >= {until}", max: 3}}
  - id: count
    run: n=$(( $(cat {d}/n 2>/dev/null || echo 0) + 1 )); echo $n > {d}/n; echo $n
    capture: count
  - heading: Done
  - run: echo done
"""


def test_a_section_repeats_until_its_condition_holds_each_pass_keyed_apart(
    tmp_path: Path,
) -> None:
    result, rec, _ = run_sop(write_sop(tmp_path, LOOP.format(d=tmp_path, until=3)), yes=True)
    assert result.outcome == Outcome.SUCCESS
    assert [k for k in outcomes(rec)] == ["count", "count@2", "count@3", "step-2"]
    verdicts = [(e.key, e.round, e.verdict, e.reason) for e in rec.of(ev.SectionPassed)]
    assert verdicts == [
        ("poll", 1, "again", "`until: count | int >= 3` does not hold yet"),
        ("poll@2", 2, "again", "`until: count | int >= 3` does not hold yet"),
        ("poll@3", 3, "done", "`until: count | int >= 3` holds"),
    ]
    assert [e.round for e in rec.of(ev.SectionStarted)] == [1, 2, 3, 1]


def test_a_section_that_never_gets_there_stops_an_unattended_run_at_max(tmp_path: Path) -> None:
    result, _, _ = run_sop(write_sop(tmp_path, LOOP.format(d=tmp_path, until=9)), yes=True)
    assert result.outcome == Outcome.FAILURE
    assert (tmp_path / "n").read_text() == "3\n"


def test_at_max_the_responder_may_go_on(tmp_path: Path) -> None:
    prompter = ScriptedPrompter(
        *[("choose", "Run on local?", "r")] * 3,
        (
            "choose",
            "Wait for the members: `until: count | int >= 9` does not hold yet after 3 passes."
            " What now?",
            "g",
        ),
        ("choose", "Run on local?", "r"),
    )
    result, rec, _ = run_sop(
        write_sop(tmp_path, LOOP.format(d=tmp_path, until=9)), prompter=prompter, yes=False
    )
    assert result.outcome == Outcome.SUCCESS
    assert [e.verdict for e in rec.of(ev.SectionPassed)] == ["again", "again", "limit"]


BACK = """\
sop: 1
id: back
title: Back
steps:
  - heading: Containment
    id: contain
  - id: isolate
    run: echo isolated >> {d}/log
  - heading: Verify
    id: verify
  - id: clean
    decide: Is the host clean?
    options:
      "yes": recover
      "no": contain
    max: 2
  - heading: Recover
    id: recover
  - id: restore
    run: echo restored >> {d}/log
"""


def test_going_back_walks_the_sections_again_at_most_max_times(tmp_path: Path) -> None:
    prompter = ScriptedPrompter(
        ("choose", "Run on local?", "r"),
        ("choose", "Your answer?", "2"),
        ("choose", "Run on local?", "r"),
        ("choose", "Your answer?", "2"),
        ("choose", "Run on local?", "r"),
        ("choose", "Your answer?", "1"),  # going back is not offered a third time
        ("choose", "Run on local?", "r"),
    )
    result, rec, _ = run_sop(write_sop(tmp_path, BACK.format(d=tmp_path)), prompter=prompter)
    assert result.outcome == Outcome.SUCCESS
    assert (tmp_path / "log").read_text() == "isolated\n" * 3 + "restored\n"
    assert list(outcomes(rec)) == [
        "isolate", "clean", "isolate@2", "clean@2", "isolate@3", "clean@3", "restore",
    ]  # fmt: skip
    assert [(e.choice, e.goto) for e in rec.of(ev.Decided)] == [
        ("no", ("contain",)),
        ("no", ("contain",)),
        ("yes", ("recover",)),
    ]
    with pytest.raises(ConfirmationRequired) as refused:
        run_sop(write_sop(tmp_path, BACK.format(d=tmp_path)), yes=True, answers={"clean": "no"})
    assert str(refused.value) == (
        "step 2 (clean): 'no' is not an answer of this decision here; one of: yes"
    )


def test_a_drill_takes_the_first_answer_that_goes_on(tmp_path: Path) -> None:
    text = BACK.format(d=tmp_path).replace(
        '"yes": recover\n      "no": contain', '"no": contain\n      "yes": recover'
    )
    result, rec, _ = run_sop(
        write_sop(tmp_path, text), yes=True, drill=DrillOptions(simulate=False)
    )
    assert result.outcome == Outcome.SUCCESS
    assert [(e.choice, e.how) for e in rec.of(ev.Decided)] == [("yes", "drill")]


ASKED = """\
sop: 1
id: asked
title: Asked
steps:
  - id: which
    prose: Which standby?
    ask:
      replica: {pattern: '^[a-z0-9-]+$', drill: db-2}
  - id: show
    run: echo {{ replica }}
    confirm: never
"""


@pytest.mark.parametrize(
    ("drill", "shown"), [(True, "echo db-2"), (False, "echo '<answer:replica>'")]
)
def test_a_dry_run_takes_the_drill_value_of_an_unanswered_question_in_a_drill(
    tmp_path: Path, drill: bool, shown: str
) -> None:
    """A drill's dry run answers as the drill would (so a called SOP's input pattern accepts
    the value); a plain dry run names the question it cannot answer."""
    extra = {"drill": DrillOptions()} if drill else {}
    result, rec, _ = run_sop(write_sop(tmp_path, ASKED), dry_run=True, yes=True, **extra)
    assert result.outcome == Outcome.SUCCESS
    assert [e.command for e in rec.of(ev.StepShown) if e.command] == [shown]


NONE_APPLY = """\
sop: 1
id: findings
title: Findings
steps:
  - heading: Diagnosis
    id: diagnose
  - id: found
    decide: Which finding applies?
    options:
      "none of these": []
      disk: disk
      memory: memory
  - heading: Disk
    id: disk
  - id: disk-fix
    run: echo disk
    confirm: never
  - heading: Memory
    id: memory
  - id: memory-fix
    run: echo memory
    confirm: never
  - heading: Close
    id: close
  - id: close-it
    run: echo closed
    confirm: never
"""


def test_an_answer_that_names_no_section_skips_the_branches_and_goes_on(tmp_path: Path) -> None:
    path = write_sop(tmp_path, NONE_APPLY)
    result, rec, _ = run_sop(path, yes=True, answers={"found": "none of these"})
    assert result.outcome == Outcome.SUCCESS
    assert outcomes(rec) == {
        "found": "done",
        "disk-fix": "skipped",
        "memory-fix": "skipped",
        "close-it": "success",
    }
    (decided,) = rec.of(ev.Decided)
    assert (decided.choice, decided.goto) == ("none of these", ())
    shown = next(e for e in rec.of(ev.StepShown) if e.step.id == "found")
    assert shown.prose == (
        "- **none of these** → on, no section\n- **disk** → Disk\n- **memory** → Memory"
    )
    # a drill takes the first answer that goes on: this one
    drilled, rec, _ = run_sop(path, yes=True, drill=DrillOptions())
    assert drilled.outcome == Outcome.SUCCESS
    assert [e.choice for e in rec.of(ev.Decided)] == ["none of these"]
    assert outcomes(rec)["close-it"] == "success" and outcomes(rec)["disk-fix"] == "skipped"
    _, rec, _ = run_sop(path, yes=True, answers={"found": "disk"})
    assert (outcomes(rec)["disk-fix"], outcomes(rec)["memory-fix"]) == ("success", "skipped")
