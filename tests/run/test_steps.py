"""Step handlers, drill options, and what the runner is given instead of reaching for process
state (the environment, the shared redactor)."""

from __future__ import annotations

from pathlib import Path

from sop import events as ev
from sop.executors import Executors
from sop.executors.simulated import SimulatedExecutor, drill_results
from sop.format.loader import load_sop
from sop.model import STEP_KINDS
from sop.redact import Redactor
from sop.run.inputs import resolve_inputs
from sop.run.launch import called_sops, callee_loader
from sop.run.options import DrillOptions, RunOptions
from sop.run.runner import Runner
from sop.run.steps import HANDLERS
from sop.run.testing import FakeClock, Recorder, run_sop, write_sop

CHILD = """\
sop: 1
id: child
title: Child
inputs:
  token: {secret: true, env: CHILD_TOKEN}
steps:
  - id: probe
    run: printf '%s' "$SOP_SECRET_TOKEN" > got; echo "child sees $SOP_SECRET_TOKEN"
    drill: {stdout: "child probe\\n"}
"""

PARENT = """\
sop: 1
id: parent
title: Parent
steps:
  - id: probe
    run: echo parent
    drill: {stdout: "parent probe\\n"}
  - call: child
  - id: flaky
    run: echo flaky
    retries: 1
    drill: {stdout: "as written\\n"}
scenarios:
  retry:
    steps:
      probe: {stdout: "scenario probe\\n"}
      flaky: [{exit: 1, stdout: "first\\n"}, {stdout: "second\\n"}]
"""


def test_every_step_kind_has_a_handler() -> None:
    assert sorted(HANDLERS) == sorted(STEP_KINDS)


def test_the_event_kind_follows_from_the_drill_options() -> None:
    assert (RunOptions().event_kind, RunOptions().simulated) == ("event", False)
    drill = RunOptions(drill=DrillOptions())
    assert (drill.event_kind, drill.simulated) == ("drill", True)
    sandbox = RunOptions(drill=DrillOptions(simulate=False))
    assert (sandbox.event_kind, sandbox.simulated) == ("drill", False)


def _drill(tmp_path: Path, scenario: str = "") -> tuple[str, list[str]]:
    write_sop(tmp_path, CHILD, "child.yaml")
    sop = load_sop(write_sop(tmp_path, PARENT))
    load_callee = callee_loader(None)
    results = drill_results(sop, sop.scenarios.get(scenario), called_sops(sop, load_callee))
    simulated = SimulatedExecutor(results, sop.scenarios.get(scenario), pace=0)
    recorder = Recorder()
    runner = Runner(
        sop,
        resolve_inputs(sop, {}, secret_files={}, environ={}, asker=None, drill=True),
        inventory=None,
        prompter=None,
        executors=Executors({"local": lambda: simulated}),
        sinks=[recorder],
        clock=FakeClock(),
        environ={"CHILD_TOKEN": "drill-token-1234"},
        options=RunOptions(yes=True, drill=DrillOptions(scenario=scenario, pace=0)),
        load_callee=load_callee,
    )
    outcome = runner.run().outcome
    return outcome, [f"{e.step.number} {e.text}" for e in recorder.of(ev.Output)]


def test_a_simulated_drill_returns_each_sops_own_drill_results(tmp_path: Path) -> None:
    """The caller and the SOP it calls both have a step `probe`: each gets its own result."""
    assert _drill(tmp_path) == (
        "success",
        ["1 parent probe\n", "2.1 child probe\n", "3 as written\n"],
    )
    assert not (tmp_path / "got").exists()


def test_a_scenario_overrides_the_drilled_sops_results_attempt_by_attempt(
    tmp_path: Path,
) -> None:
    """Only the drilled SOP's steps: the called SOP's `probe` keeps its own result."""
    assert _drill(tmp_path, "retry") == (
        "success",
        ["1 scenario probe\n", "2.1 child probe\n", "3 first\n", "3 second\n"],
    )


def test_call_steps_read_their_inputs_from_the_environment_the_runner_is_given(
    tmp_path: Path,
) -> None:
    write_sop(tmp_path, CHILD.replace("> got", f"> {tmp_path}/got"), "child.yaml")
    parent = write_sop(tmp_path, PARENT)
    secret = "not-in-os-environ-1234"
    result, rec, _ = run_sop(
        parent, yes=True, environ={"CHILD_TOKEN": secret}, load_callee=callee_loader(None)
    )
    assert result.outcome == "success"
    assert (tmp_path / "got").read_text() == secret
    child = "".join(e.text for e in rec.of(ev.Output) if e.step.number == "2.1")
    assert child == "child sees ********\n"


def test_the_runs_secrets_are_taught_to_the_shared_redactor_it_is_given(tmp_path: Path) -> None:
    path = write_sop(tmp_path, CHILD)
    sop = load_sop(path)
    secret = "shared-secret-5678"
    shared = Redactor()
    Runner(
        sop,
        resolve_inputs(sop, {}, secret_files={}, environ={"CHILD_TOKEN": secret}, asker=None),
        inventory=None,
        prompter=None,
        executors=Executors({}),
        sinks=[],
        clock=FakeClock(),
        environ={},
        shared_redactor=shared,
    )
    assert shared(f"error: {secret}") == "error: ********"


STDIN = """\
sop: 1
id: stdin
title: Stdin
inputs:
  who: {}
steps:
  - id: nul
    run: printf 'a\\0b'
    capture: raw
  - id: query
    run: cat
    stdin: |
      SELECT {{ who | sql_literal }};
      -- {{ who }}
    capture: echoed
  - id: broken
    run: cat
    stdin: "{{ raw }}"
"""


def test_stdin_is_rendered_as_text_shown_confirmed_and_fed_to_the_command(
    tmp_path: Path,
) -> None:
    result, recorder, _ = run_sop(
        write_sop(tmp_path, STDIN), inputs={"who": "O'Brien $(id)"}, yes=True
    )

    expected = "SELECT 'O''Brien $(id)';\n-- O'Brien $(id)\n"
    shown = [e for e in recorder.of(ev.StepShown) if e.step.id == "query"]
    assert [e.stdin for e in shown] == [expected]
    confirmed = [e for e in recorder.of(ev.StepConfirmed) if e.step.id == "query"]
    assert [(e.command, e.stdin) for e in confirmed] == [("cat", expected)]
    assert [c.value for c in recorder.of(ev.Captured) if c.name == "echoed"] == [expected]
    # a NUL byte (here from a host's output) cannot be sent: the step cannot be prepared
    broken = [e.plain for e in recorder.of(ev.StepShown) if e.step.id == "broken"]
    assert broken == [
        "Cannot prepare this step: the step's stdin contains a NUL byte once rendered; "
        "it cannot be sent"
    ]
    assert result.outcome.value == "failure"
