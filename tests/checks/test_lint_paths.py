"""`sop lint` on the paths through an SOP: decisions that leave no way on, values set only on
some paths, conditions over names that are not there, and decisions that name no section."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

from sop.checks.lint import lint_paths
from sop.errors import SopFileError
from sop.format.loader import load_sop
from tests.conftest import MINIMAL

TODAY = dt.date(2026, 11, 28)

BRANCHES = (
    MINIMAL
    + """\
  - heading: Diagnosis
    id: diagnose
  - id: quorum
    decide: Does a majority answer?
    options:
      "yes": replace
      "no": restore
  - heading: Replace
    id: replace
  - id: replace-it
    run: echo replaced
    capture: replaced
  - run: echo {{ replaced }}
  - heading: Restore
    id: restore
  - run: echo restored
  - heading: Verify
    id: verify
    when: "quorum_held"
    repeat: {until: "healthy == 'yes' and nothing", max: 3}
  - id: clean
    decide: Clean?
    options:
      "no": [diagnose, replace]
  - run: echo {{ replaced }}
    capture: healthy
"""
)


def lint(path: Path) -> list[str]:
    return [str(p) for p in lint_paths([path], today=TODAY).problems]


def test_paths_that_leave_a_value_empty_and_decisions_that_leave_no_way_on(
    write: Callable[..., Path],
) -> None:
    assert lint(write(BRANCHES)) == [
        "sop.yaml:27:5: steps[8].when: undefined variable 'quorum_held': not an input, an "
        "answer or a capture",
        "sop.yaml:28:5: steps[8].repeat.until: undefined variable 'nothing': not an input, an "
        "answer or a capture",
        "sop.yaml:29:5: steps[9]: every answer goes back to an earlier section: after `max` "
        "passes no answer is left and the steps after it can never run; add one that goes on, "
        "or `else:`",
        "sop.yaml:31:5: steps[9].options.no: an answer that goes back names one section: "
        "diagnose, replace",
        "sop.yaml:33:5: steps[10]: warning: 'replaced' is set only by step 3 (replace-it), in "
        "section 'Replace', which runs only when the decision at step 2 (quorum) chooses it; on "
        "other paths it is empty here",
    ]


def test_a_step_with_when_sets_a_value_only_sometimes(write: Callable[..., Path]) -> None:
    text = (
        MINIMAL
        + """\
  - prose: Is it urgent?
    ask: {urgent: {choices: ["yes", "no"], default: "no"}}
  - run: uptime
    when: "urgent == 'yes'"
    capture: load
  - run: echo {{ load }}
"""
    )
    assert lint(write(text)) == [
        "sop.yaml:14:5: steps[3]: warning: 'load' is set only by step 3 (step-3), which runs "
        "only when `urgent == 'yes'`; on other paths it is empty here"
    ]


ONE_ANSWER_CHOOSES_BOTH = (
    MINIMAL
    + """\
  - id: how
    decide: How bad is it?
    options:
      "replace it": [replace, verify]
      "only check": verify
      "leave it": leave
  - heading: Replace
    id: replace
  - id: replace-it
    run: echo new-member
    capture: member
  - heading: Verify
    id: verify
  - run: echo {{ member }}
  - heading: Leave
    id: leave
  - prose: Note why.
"""
)


def test_a_value_set_in_a_section_the_same_answers_choose_is_set_there(
    write: Callable[..., Path],
) -> None:
    """The answer that chooses Verify chooses Replace too: `member` is set wherever it is read."""
    text = ONE_ANSWER_CHOOSES_BOTH.replace('      "only check": verify\n', "")
    assert lint(write(text)) == []


def test_a_section_another_answer_chooses_alone_warns(write: Callable[..., Path]) -> None:
    """Beside it, an answer that chooses Verify without Replace: there `member` is empty."""
    assert lint(write(ONE_ANSWER_CHOOSES_BOTH)) == [
        "sop.yaml:22:5: steps[5]: warning: 'member' is set only by step 3 (replace-it), in "
        "section 'Replace', which runs only when the decision at step 2 (how) chooses it; on "
        "other paths it is empty here"
    ]


EVERY_ANSWER_SETS = (
    MINIMAL
    + """\
  - id: where
    decide: Where is the fault?
    options: {disk: disk, network: network}
    else: other
  - heading: Disk
    id: disk
  - run: echo disk
    capture: cause
  - heading: Network
    id: network
  - run: echo network
    capture: cause
  - heading: Other
    id: other
  - prose: What is it?
    ask: {cause: {}}
  - heading: Report
  - run: echo {{ cause }}
"""
)


def test_a_value_every_answer_of_a_decision_sets_is_set_after_it(
    write: Callable[..., Path],
) -> None:
    assert lint(write(EVERY_ANSWER_SETS)) == []
    # without the question under `else`, that answer leaves it empty
    text = EVERY_ANSWER_SETS.replace("    ask: {cause: {}}\n", "")
    assert lint(write(text)) == [
        "sop.yaml:25:5: steps[9]: warning: 'cause' is set only by step 3 (step-3), in section "
        "'Disk', which runs only when the decision at step 2 (where) chooses it; on other paths "
        "it is empty here"
    ]
    # a decision that may not run sets nothing for sure
    text = EVERY_ANSWER_SETS.replace("    decide: Where", '    when: "false"\n    decide: Where')
    assert len(lint(write(text))) == 1


CHAINED = (
    MINIMAL
    + """\
  - id: how
    decide: Which kind of credential?
    options:
      key: key
      role: role
  - heading: Key
    id: key
  - id: find-key
    run: echo AKIA
    capture: key_id
  - id: gone
    decide: Did the activity stop?
    options:
      "yes": [eradicate, recover]
      "no": key
  - heading: Role
    id: role
  - prose: Which role?
    ask: {role_name: {default: ""}}
  - heading: Eradicate
    id: eradicate
  - run: echo {{ key_id }}
  - heading: Recover
    id: recover
  - run: echo {{ key_id }}
  - run: echo {{ role_name }}
    when: role_name != ''
  - run: echo {{ role_name }}
"""
)


def test_a_value_set_on_every_path_to_a_section_or_tested_by_when_is_no_warning(
    write: Callable[..., Path],
) -> None:
    """Eradicate and Recover run only when the decision in Key chooses them, so Key's capture
    is set whenever they run; a step whose `when:` reads `role_name` has thought of it empty.
    The last step has not."""
    assert lint(write(CHAINED)) == [
        "sop.yaml:36:5: steps[12]: warning: 'role_name' is set only by step 5 (step-5), in "
        "section 'Role', which runs only when the decision at step 2 (how) chooses it; on other "
        "paths it is empty here"
    ]


def test_a_value_set_on_only_one_of_two_paths_to_a_section_still_warns(
    write: Callable[..., Path],
) -> None:
    text = CHAINED.replace("      role: role\n", "      role: [role, eradicate]\n")
    assert lint(write(text))[:1] == [
        "sop.yaml:30:5: steps[8]: warning: 'key_id' is set only by step 3 (find-key), in section "
        "'Key', which runs only when the decision at step 2 (how) chooses it; on other paths it "
        "is empty here"
    ]


def test_a_decision_names_sections_that_exist_and_rollback_has_none(
    write: Callable[..., Path],
) -> None:
    text = (
        MINIMAL
        + """\
  - heading: Fix
    id: fix
  - id: which
    decide: Which?
    options: {a: fix, b: nowhere}
    else: [fix, elsewhere]
rollback:
  - decide: Undo?
    options: {a: fix}
"""
    )
    path = write(text)
    try:
        load_sop(path)
    except SopFileError as exc:
        assert [str(p) for p in exc.problems] == [
            "sop.yaml:13:5: steps[2].options.b: no section has the id 'nowhere' (sections: fix)",
            "sop.yaml:14:5: steps[2].else: no section has the id 'elsewhere' (sections: fix)",
            "sop.yaml:16:5: rollback[0]: a decide step chooses among sections; rollback has none",
        ]
    else:
        raise AssertionError("loaded")


def test_schema_of_decisions_and_sections(write: Callable[..., Path]) -> None:
    text = (
        MINIMAL
        + """\
  - heading: Fix
    id: fix
    repeat: {until: done}
    phase: mend
  - heading: Again
    id: fix
  - decide: Which?
    max: 0
  - decide: Which now?
  - run: echo
    options: {a: fix}
"""
    )
    assert lint(write(text)) == [
        "sop.yaml:11:13: steps[1].repeat: missing required key 'max'",
        "sop.yaml:12:12: steps[1].phase: expected one of identify, protect, detect, respond, "
        "recover; got 'mend'",
        "sop.yaml:14:9: steps[2].id: duplicate id 'fix' (first used at line 10)",
        "sop.yaml:16:10: steps[3].max: must be at least 1",
        "sop.yaml:17:5: steps[4]: a decide step needs 'options': the answers to choose from",
        "sop.yaml:19:5: steps[5].options: 'options' goes only with 'decide' steps",
    ]


def test_an_answer_that_names_no_section_goes_on(write: Callable[..., Path]) -> None:
    """`[]`: none of the sections applies; it goes on, so a decision whose other answers all go
    back still leaves a way on, and a value its sections set is empty on that path."""
    text = (
        MINIMAL
        + """\
  - heading: Check
    id: check
  - id: again
    decide: Still broken?
    options:
      "yes": check
      "no, or not this": []
  - id: found
    decide: Which one?
    options:
      "none of these": []
      disk: disk
  - heading: Disk
    id: disk
  - run: df -h
    capture: usage
  - heading: Close
    id: close
  - run: echo {{ usage }}
"""
    )
    assert lint(write(text)) == [
        "sop.yaml:27:5: steps[7]: warning: 'usage' is set only by step 4 (step-4), in section "
        "'Disk', which runs only when the decision at step 3 (found) chooses it; on other paths "
        "it is empty here"
    ]
