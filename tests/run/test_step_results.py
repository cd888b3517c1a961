"""Expected exit codes (`ok_exit`), the results of finished steps (`steps.ID`), typed
confirmation of a named word, and manual steps a `--yes` run passes (unattended)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sop import events as ev
from sop.events import Outcome
from sop.executors import Executors
from sop.executors.base import HostResult
from sop.executors.simulated import SimulatedExecutor, drill_results
from sop.format.loader import load_sop
from sop.model import Sop
from sop.redact import MASK, Redactor
from sop.run.inputs import resolve_inputs
from sop.run.options import DrillOptions, RunOptions
from sop.run.runner import Runner
from sop.run.scope import RestoreError, restore_variables, save_variables
from sop.run.stepresults import step_result
from sop.run.testing import FakeClock, Recorder, ScriptedPrompter, run_sop, write_sop

BRANCHING = """\
sop: 1
id: etcd
title: Etcd health
steps:
  - id: check_etcd
    run: echo "2 members"; exit 3
    ok_exit: [0, 3]
  - id: degraded
    when: steps.check_etcd.exit_code == 3
    run: echo "degraded, saw {{ steps.check_etcd.stdout | trim }} on {{ steps.check_etcd.hosts['local'].exit_code }}"
  - id: healthy
    when: steps.check_etcd.exit_code == 0
    run: echo healthy
  - id: after
    when: "steps.degraded.outcome == 'success' and steps.healthy.outcome == 'skipped'"
    run: echo after
"""


def _outputs(rec: Recorder) -> list[str]:
    return [f"{e.step.id}: {e.text}" for e in rec.of(ev.Output)]


def test_an_expected_exit_code_succeeds_and_later_steps_branch_on_it(tmp_path: Path) -> None:
    result, rec, _ = run_sop(write_sop(tmp_path, BRANCHING), yes=True)
    assert result.outcome == "success"
    assert result.steps == {
        "check_etcd": "success",
        "degraded": "success",
        "healthy": "skipped",
        "after": "success",
    }
    assert _outputs(rec) == [
        "check_etcd: 2 members\n",
        "degraded: degraded, saw '2 members' on 3\n",
        "after: after\n",
    ]
    first = rec.of(ev.StepFinished)[0].results[0]
    assert (first.outcome, first.exit_code) == ("success", 3)


def test_an_exit_code_not_listed_fails_even_zero(tmp_path: Path) -> None:
    text = "sop: 1\nid: g\ntitle: G\nsteps:\n  - id: no_match\n    run: 'true'\n    ok_exit: 1\n"
    result, rec, _ = run_sop(write_sop(tmp_path, text), yes=True)
    assert result.outcome == "failure"
    finished = rec.of(ev.StepFinished)[0]
    assert (finished.outcome, finished.results[0].exit_code) == ("failure", 0)
    assert (
        rec.of(ev.RunFinished)[0].reason == "step 1 (no_match) failed: local: exit 0 (ok_exit: 1)"
    )


def test_a_secret_in_the_output_is_masked_in_the_step_result(tmp_path: Path) -> None:
    text = """\
sop: 1
id: s
title: S
inputs:
  token: {secret: true, env: TOKEN}
steps:
  - id: leak
    run: echo "token=$SOP_SECRET_TOKEN"
  - id: show
    run: echo {{ steps.leak.stdout | trim }}
"""
    _, rec, _ = run_sop(
        write_sop(tmp_path, text), yes=True, environ={"TOKEN": "hunter2-secret-value"}
    )
    assert _outputs(rec)[-1] == f"show: token={MASK}\n"


def test_several_hosts_give_the_highest_exit_code_and_output_per_host() -> None:
    results = [
        HostResult("web-1", Outcome.SUCCESS, 0, "fine\n", "", 0.1),
        HostResult("web-2", Outcome.SUCCESS, 3, "pw=s3cret-password\n", "warn\n", 0.1),
        HostResult("web-3", Outcome.FAILURE, None, "", "", 0.1, "unreachable"),
    ]
    redactor = Redactor()
    redactor.add("s3cret-password")
    assert step_result(Outcome.PARTIAL, results, redactor) == {
        "outcome": "partial",
        "exit_code": 3,
        "stdout": {"web-1": "fine\n", "web-2": f"pw={MASK}\n", "web-3": ""},
        "stderr": {"web-1": "", "web-2": "warn\n", "web-3": ""},
        "hosts": {
            "web-1": {"outcome": "success", "exit_code": 0, "stdout": "fine\n", "stderr": ""},
            "web-2": {
                "outcome": "success",
                "exit_code": 3,
                "stdout": f"pw={MASK}\n",
                "stderr": "warn\n",
            },
            "web-3": {"outcome": "failure", "exit_code": None, "stdout": "", "stderr": ""},
        },
    }


def test_a_drill_branches_on_a_simulated_exit_code(tmp_path: Path) -> None:
    text = BRANCHING.replace("    ok_exit: [0, 3]\n", "    ok_exit: [0, 3]\n    drill: {exit: 0}\n")
    text += (
        'scenarios:\n  degraded:\n    steps:\n      check_etcd: {exit: 3, stdout: "1 member\\n"}\n'
    )
    sop = load_sop(write_sop(tmp_path, text))

    def drill(scenario: str) -> dict[str, str]:
        chosen = sop.scenarios.get(scenario)
        simulated = SimulatedExecutor(drill_results(sop, chosen, {}), chosen, pace=0)
        runner = Runner(
            sop,
            resolve_inputs(sop, {}, secret_files={}, environ={}, asker=None, drill=True),
            inventory=None,
            prompter=None,
            executors=Executors({"local": lambda: simulated}),
            sinks=[Recorder()],
            clock=FakeClock(),
            environ={},
            options=RunOptions(yes=True, drill=DrillOptions(scenario=scenario, pace=0)),
        )
        return {k: str(v) for k, v in runner.run().steps.items()}

    assert drill("") == {
        "check_etcd": "success",
        "degraded": "skipped",
        "healthy": "success",
        "after": "skipped",
    }
    assert drill("degraded") == {
        "check_etcd": "success",
        "degraded": "success",
        "healthy": "skipped",
        "after": "success",
    }


def _sop(tmp_path: Path) -> Sop:
    return load_sop(write_sop(tmp_path, BRANCHING))


def test_step_results_are_saved_and_restored_for_resume(tmp_path: Path) -> None:
    result = step_result(
        Outcome.SUCCESS, [HostResult("local", Outcome.SUCCESS, 3, "out\n", "", 0.1)], Redactor()
    )
    saved = save_variables({"steps": {"check_etcd": result}}, Redactor())
    restored = restore_variables(saved, _sop(tmp_path), "the saved state of etcd")
    assert restored == {"steps": {"check_etcd": result}}


@pytest.mark.parametrize(
    ("saved", "message"),
    [
        (
            {"nope": {}},
            "the saved step results name no step 'nope'",
        ),
        (
            {"check_etcd": {"outcome": "success", "exit_code": "3"}},
            "the saved result of step 'check_etcd' is not one sop saves",
        ),
        (
            {
                "check_etcd": {
                    "outcome": "success",
                    "exit_code": True,
                    "stdout": "",
                    "stderr": "",
                    "hosts": {},
                }
            },
            "the saved result of step 'check_etcd' is not one sop saves",
        ),
    ],
)
def test_a_malformed_saved_step_result_stops_resume(
    tmp_path: Path, saved: object, message: str
) -> None:
    with pytest.raises(RestoreError) as caught:
        restore_variables({"steps": ["plain", saved]}, _sop(tmp_path), "the saved state of etcd")
    assert str(caught.value) == f"the saved state of etcd: {message}; sop will not use it"


TYPED_WORD = """\
sop: 1
id: revoke
title: Revoke a key
inputs:
  access_key_id: {{required: true}}
steps:
  - id: revoke
    run: touch {dir}/revoked-{{{{ access_key_id }}}}
    confirm: {{type: "{{{{ access_key_id }}}}"}}
"""


def test_a_typed_confirmation_asks_for_the_word_the_step_names(tmp_path: Path) -> None:
    path = write_sop(tmp_path, TYPED_WORD.format(dir=tmp_path))
    prompter = ScriptedPrompter(
        ("choose", "Run on local?", "r"),
        ("text", "Type 'AKIA123' to run it", "local"),
        ("choose", "Run on local?", "r"),
        ("text", "Type 'AKIA123' to run it", "AKIA123"),
    )
    result, rec, _ = run_sop(path, prompter=prompter, inputs={"access_key_id": "AKIA123"})
    assert result.outcome == "success" and (tmp_path / "revoked-AKIA123").exists()
    assert [e.plain for e in rec.of(ev.StepShown) if e.plain] == [
        "'local' is not 'AKIA123': nothing ran."
    ]
    assert rec.of(ev.StepConfirmed)[0].how == "typed"


def test_a_typed_confirmation_whose_word_renders_empty_cannot_be_confirmed(
    tmp_path: Path,
) -> None:
    path = write_sop(tmp_path, TYPED_WORD.format(dir=tmp_path))
    prompter = ScriptedPrompter(
        ("choose", "The step failed", "a"), ("text", "Why abort", "no key to revoke")
    )
    result, rec, _ = run_sop(path, prompter=prompter, inputs={"access_key_id": ""})
    assert result.outcome == "aborted" and not list(tmp_path.glob("revoked-*"))
    assert [e.plain for e in rec.of(ev.StepShown) if e.plain] == [
        "Cannot prepare this step: confirm: the word to type renders empty; "
        "nothing would be confirmed"
    ]


def test_yes_records_a_manual_step_as_unattended_not_done(tmp_path: Path) -> None:
    text = """\
sop: 1
id: m
title: M
steps:
  - id: look
    prose: Open the dashboard.
  - id: quiet
    prose: Nothing to confirm here.
    confirm: never
"""
    path = write_sop(tmp_path, text)
    result, rec, _ = run_sop(path, yes=True)
    assert result.steps == {"look": "unattended", "quiet": "unattended"}
    assert [(e.outcome, e.reason) for e in rec.of(ev.StepFinished)] == [
        ("unattended", "--yes: nobody confirmed doing this manual step"),
        ("unattended", "--yes: nobody confirmed doing this manual step"),
    ]
    interactive, _, _ = run_sop(path, prompter=ScriptedPrompter(("choose", "Done?", "d")))
    assert interactive.steps == {"look": "done", "quiet": "done"}


def test_a_step_that_ran_nothing_has_its_outcome_and_empty_output(tmp_path: Path) -> None:
    text = BRANCHING + "  - id: report\n    run: echo x{{ steps.healthy.stdout }}x\n"
    _, rec, _ = run_sop(write_sop(tmp_path, text), yes=True)
    assert _outputs(rec)[-1] == "report: xx\n"
    assert step_result(Outcome.SKIPPED, [], Redactor()) == {
        "outcome": "skipped",
        "exit_code": None,
        "stdout": "",
        "stderr": "",
        "hosts": {},
    }
