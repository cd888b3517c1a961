"""The pre-flight in the runner, with hosts that say how connecting to them went: which targets
it checks (and which not yet), the menu (re-check, continue, quit), --yes, warn and off."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from pathlib import Path

from sop import events as ev
from sop.audit.actions import Action
from sop.events import HostReached, Outcome, Reach
from sop.executors import Executors
from sop.executors.base import CommandCallback, HostResult, Job, OutputCallback
from sop.format.loader import load_sop
from sop.model import Host, Inventory
from sop.run.inputs import resolve_inputs
from sop.run.options import DrillOptions, PreflightMode, RunOptions, RunResult
from sop.run.runner import Runner
from sop.run.scope import Restored
from sop.run.testing import FakeClock, Recorder, ScriptedPrompter

HOSTS = ("web1", "web2", "db1")
INVENTORY = Inventory(
    hosts={name: Host(name, f"10.0.0.{i}") for i, name in enumerate(HOSTS, 1)},
    groups={"web": ("web1", "web2")},
)
MENU = "Pre-flight: some hosts are not ready"


class Hosts:
    """Hosts that connect as `reach` says (each answer used once, then the last one kept);
    records what was checked and what ran."""

    def __init__(self, reach: Mapping[str, list[Reach]]) -> None:
        self.reach = {k: list(v) for k, v in reach.items()}
        self.checked: list[str] = []
        self.ran: list[tuple[str, str]] = []

    def check(self, host: Host) -> HostReached:
        self.checked.append(host.name)
        answers = self.reach.get(host.name, [Reach.OK])
        reach = answers.pop(0) if len(answers) > 1 else answers[0]
        error = "" if reach == Reach.OK else f"{host.name}: {reach}\nhow to fix it"
        return HostReached(host.name, host.address, reach, 0.1, error)

    def execute(
        self, job: Job, host: Host, output: OutputCallback, on_command: CommandCallback
    ) -> HostResult:
        self.ran.append((job.step_id, host.name))
        return HostResult(host.name, Outcome.SUCCESS, 0, "", "", 0.1)

    def interrupt(self) -> None:
        pass

    def kill(self) -> None:
        pass

    def close(self) -> None:
        pass


def run(
    tmp_path: Path,
    body: str,
    hosts: Hosts,
    prompter: ScriptedPrompter | None = None,
    inputs: Mapping[str, str] | None = None,
    restored: Restored | None = None,
    **options: object,
) -> tuple[RunResult, list[ev.Event]]:
    path = tmp_path / "sop.yaml"
    path.write_text("sop: 1\nid: pf\ntitle: Pre-flight\n" + textwrap.dedent(body))
    sop = load_sop(path)
    recorder = Recorder()
    runner = Runner(
        sop,
        resolve_inputs(sop, dict(inputs or {}), secret_files={}, environ={}, asker=None),
        inventory=INVENTORY,
        prompter=prompter,
        executors=Executors({"ssh": lambda: hosts}),
        sinks=[recorder],
        clock=FakeClock(),
        environ={},
        options=RunOptions(operator="tester", **options),  # type: ignore[arg-type]
        restored=restored,
    )
    result = runner.run()
    if prompter is not None:
        assert prompter.script == [], "prompts left unanswered"
    return result, recorder.events


def preflights(events: list[ev.Event]) -> list[ev.Preflight]:
    return [e for e in events if isinstance(e, ev.Preflight)]


def rows(check: ev.Preflight) -> list[tuple[str, str]]:
    return [(r.host, str(r.reach)) for r in check.results]


TARGETS = """\
inputs:
  host: {required: true}
on: web
steps:
  - id: ask
    prose: Which one?
    ask:
      victim: {help: the victim}
  - id: one
    run: ./one
  - id: two
    on: "{{ host }}"
    run: ./two
  - id: three
    on: "{{ victim }}"
    run: ./three
  - id: never
    on: db1
    when: "host == 'nowhere'"
    run: ./never
  - id: here
    on: local
    run: ./here
rollback:
  - id: undo
    on: db1
    run: ./undo
"""


def test_every_target_known_from_the_inputs_is_checked_before_the_first_step(
    tmp_path: Path,
) -> None:
    hosts = Hosts({})
    prompter = ScriptedPrompter(("choose", "Done?", "q"))

    result, events = run(tmp_path, TARGETS, hosts, prompter, {"host": "db1"})

    (check,) = preflights(events)
    # the default targets, an input's, the rollback's; not an answer's, nor `local`, nor a step
    # whose `when` is false with the inputs
    assert rows(check) == [("web1", "ok"), ("web2", "ok"), ("db1", "ok")]
    assert check.unchecked == (
        "step 4 (three) on '{{ victim }}': known only later (an answer or a captured output)",
    )
    assert check.round == 1 and check.ok
    first_step = next(i for i, e in enumerate(events) if isinstance(e, ev.StepShown))
    assert events.index(check) < first_step
    assert result.outcome == Outcome.PAUSED  # quit at the first step: nothing ran
    assert hosts.ran == []


def test_an_input_that_names_no_host_is_an_unresolvable_target(tmp_path: Path) -> None:
    result, events = run(tmp_path, TARGETS, Hosts({}), None, {"host": "web9"}, yes=True)

    (check,) = preflights(events)
    assert rows(check) == [
        ("web1", "ok"),
        ("web2", "ok"),
        ("db1", "ok"),
        ("web9", "unresolvable target"),
    ]
    assert check.results[-1].error == (
        "step 3: target '{{ host }}' is 'web9' (not a host): a target built from run data "
        "(inputs, answers, captures) must name one host of the inventory"
    )
    assert result.outcome == Outcome.FAILURE
    (finished,) = [e for e in events if isinstance(e, ev.RunFinished)]
    assert finished.reason == (
        "pre-flight: 1 of 4 host(s) not ok: web9 unresolvable target. Fix them and run again, "
        "or pass --preflight=warn to go on anyway"
    )


ONE_STEP = """\
on: web
steps:
  - id: one
    run: ./one
"""


def test_yes_stops_before_any_step_when_a_host_is_not_ok(tmp_path: Path) -> None:
    hosts = Hosts({"web2": [Reach.UNKNOWN_KEY]})

    result, events = run(tmp_path, ONE_STEP, hosts, yes=True)

    assert result.outcome == Outcome.FAILURE
    assert hosts.ran == []
    assert not [e for e in events if isinstance(e, ev.StepShown)]


def test_warn_goes_on_and_off_checks_nothing(tmp_path: Path) -> None:
    hosts = Hosts({"web2": [Reach.REFUSED]})
    result, events = run(tmp_path, ONE_STEP, hosts, yes=True, preflight=PreflightMode.WARN)
    assert rows(preflights(events)[0]) == [("web1", "ok"), ("web2", "refused")]
    assert sorted(hosts.ran) == [("one", "web1"), ("one", "web2")]

    hosts = Hosts({"web2": [Reach.REFUSED]})
    result, events = run(tmp_path, ONE_STEP, hosts, yes=True, preflight=PreflightMode.OFF)
    assert preflights(events) == []
    assert hosts.checked == []
    assert result.outcome == Outcome.SUCCESS


def test_recheck_tries_the_hosts_not_ok_again_then_the_run_goes_on(tmp_path: Path) -> None:
    hosts = Hosts({"web2": [Reach.UNKNOWN_KEY, Reach.OK]})
    prompter = ScriptedPrompter((("choose", MENU, "r")), ("choose", "Run on", "r"))

    result, events = run(tmp_path, ONE_STEP, hosts, prompter)

    first, second = preflights(events)
    assert rows(first) == [("web1", "ok"), ("web2", "unknown key")]
    assert rows(second) == [("web1", "ok"), ("web2", "ok")]
    assert second.round == 2
    assert sorted(hosts.checked) == ["web1", "web2", "web2"]  # web1 once: it was ok
    (note,) = [e for e in events if isinstance(e, ev.AuditNote)]
    assert note.action == Action.PREFLIGHT_CHOICE
    assert note.fields == {"choice": "re-check", "not_ok": ["web2"], "reason": ""}
    assert result.outcome == Outcome.SUCCESS


def test_continue_goes_on_and_quit_pauses_the_run_before_any_step(tmp_path: Path) -> None:
    hosts = Hosts({"web2": [Reach.TIMEOUT]})
    prompter = ScriptedPrompter(("choose", MENU, "c"), ("choose", "Run on", "r"))
    result, _ = run(tmp_path, ONE_STEP, hosts, prompter)
    assert result.outcome == Outcome.SUCCESS
    assert sorted(hosts.ran) == [("one", "web1"), ("one", "web2")]

    hosts = Hosts({"web2": [Reach.TIMEOUT]})
    result, events = run(tmp_path, ONE_STEP, hosts, ScriptedPrompter(("choose", MENU, "q")))
    assert result.outcome == Outcome.PAUSED  # `sop resume` checks again, then goes on
    assert hosts.ran == []
    (paused,) = [e for e in events if isinstance(e, ev.RunPaused)]
    assert paused.reason == "quit"
    assert not [e for e in events if isinstance(e, ev.RunFinished)]


def test_a_resumed_run_checks_only_the_steps_still_to_do_and_not_excluded_hosts(
    tmp_path: Path,
) -> None:
    body = """\
    on: web
    steps:
      - id: one
        on: db1
        run: ./one
      - id: two
        run: ./two
    """
    hosts = Hosts({"db1": [Reach.TIMEOUT]})
    restored = Restored(outcomes={"one": Outcome.SUCCESS}, excluded={"web2": "dead"})

    result, events = run(tmp_path, body, hosts, restored=restored, yes=True)

    assert rows(preflights(events)[0]) == [("web1", "ok")]
    assert result.outcome == Outcome.SUCCESS


def test_a_simulated_drill_and_a_dry_run_connect_to_nothing(tmp_path: Path) -> None:
    hosts = Hosts({})
    _, events = run(tmp_path, ONE_STEP, hosts, yes=True, drill=DrillOptions(pace=0))
    assert preflights(events) == []
    _, events = run(tmp_path, ONE_STEP, hosts, dry_run=True)
    assert preflights(events) == []
    assert hosts.checked == []


def test_abort_ends_the_run_with_the_responders_reason(tmp_path: Path) -> None:
    hosts = Hosts({"web2": [Reach.AUTH_FAILED]})
    prompter = ScriptedPrompter(("choose", MENU, "a"), ("text", "Why abort", "wrong fleet"))

    result, events = run(tmp_path, ONE_STEP, hosts, prompter)

    assert result.outcome == Outcome.ABORTED
    assert hosts.ran == []
    (note,) = [e for e in events if isinstance(e, ev.AuditNote)]
    assert note.fields == {"choice": "abort", "not_ok": ["web2"], "reason": "wrong fleet"}
    (finished,) = [e for e in events if isinstance(e, ev.RunFinished)]
    assert finished.reason == "wrong fleet"
