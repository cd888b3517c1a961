"""Failures per host: retry only the failed hosts (or all), exclude a host for the rest of the
run, a step skipped after it succeeded somewhere is partial; the canary's answer is recorded."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from sop import events as ev
from sop.events import Outcome
from sop.executors import Executors
from sop.executors.base import CommandCallback, HostResult, Job, OutputCallback
from sop.format.loader import load_sop
from sop.model import Host, Inventory
from sop.run.inputs import resolve_inputs
from sop.run.options import RunOptions, RunResult
from sop.run.runner import Runner
from sop.run.scope import Restored
from sop.run.testing import FakeClock, Recorder, ScriptedPrompter

HOSTS = ("web1", "web2", "web3")
INVENTORY = Inventory(
    hosts={name: Host(name, f"10.0.0.{i}") for i, name in enumerate(HOSTS, 1)},
    groups={"web": HOSTS},
)


class Hosts:
    """The inventory's hosts: records what ran where; a host in `failing` fails that many times
    (-1: always)."""

    def __init__(self, failing: Mapping[str, int]) -> None:
        self.failing = dict(failing)
        self.ran: list[tuple[str, str]] = []

    def execute(
        self, job: Job, host: Host, output: OutputCallback, on_command: CommandCallback
    ) -> HostResult:
        self.ran.append((job.step_id, host.name))
        left = self.failing.get(host.name, 0)
        if left:
            self.failing[host.name] = left - 1
            return HostResult(host.name, Outcome.FAILURE, 3, "", "disk full\n", 0.5)
        return HostResult(host.name, Outcome.SUCCESS, 0, f"{host.name} ok\n", "", 0.5)

    def interrupt(self) -> None:
        pass

    def close(self) -> None:
        pass


def run(
    tmp_path: Path,
    steps: str,
    prompter: ScriptedPrompter | None,
    failing: Mapping[str, int],
    *,
    restored: Restored | None = None,
    **options: object,
) -> tuple[RunResult, Recorder, Hosts]:
    path = tmp_path / "sop.yaml"
    path.write_text("sop: 1\nid: hosts\ntitle: Hosts\non: web\nsteps:\n" + textwrap.dedent(steps))
    sop = load_sop(path)
    hosts = Hosts(failing)
    recorder = Recorder()
    runner = Runner(
        sop,
        resolve_inputs(sop, {}, secret_files={}, environ={}, asker=prompter),
        inventory=INVENTORY,
        prompter=prompter,
        executors=Executors({"ssh": lambda: hosts, "local": lambda: hosts}),
        sinks=[recorder],
        clock=FakeClock(),
        environ={},
        options=RunOptions(operator="tester", **options),  # type: ignore[arg-type]
        restored=restored,
    )
    result = runner.run()
    if prompter is not None:
        assert prompter.script == [], "prompts left unanswered"
    return result, recorder, hosts


TWO_STEPS = """\
  - id: deploy
    run: ./deploy
    capture: deployed
  - id: after
    run: ./check
"""


class Menus(ScriptedPrompter):
    """A scripted responder that keeps the words of each failure menu it was shown."""

    def __init__(self, menus: list[list[str]], *script: tuple[str, str, object]) -> None:
        super().__init__(*script)
        self.menus = menus

    def choose(
        self, prompt: str, choices: Sequence[tuple[str, str]], default: str | None = None
    ) -> str:
        if "What now?" in prompt:
            self.menus.append([word for _, word in choices])
        return super().choose(prompt, choices, default)


def finished(rec: Recorder, step: str) -> ev.StepFinished:
    return [f for f in rec.of(ev.StepFinished) if f.step.id == step][-1]


def per_host(event: ev.StepFinished) -> dict[str, tuple[str, int]]:
    return {r.host: (r.outcome, r.attempt) for r in event.results}


def test_retry_runs_only_the_failed_hosts_again(tmp_path: Path) -> None:
    prompter = ScriptedPrompter(
        ("choose", "Run on web1, web2, web3?", "r"),
        ("choose", "The step failed on 1 of 3 hosts. What now?", "r"),
        ("choose", "Run on web1, web2, web3?", "r"),
    )
    result, rec, hosts = run(tmp_path, TWO_STEPS, prompter, {"web3": 1})

    assert result.outcome == Outcome.SUCCESS
    assert [h for s, h in hosts.ran if s == "deploy"] == ["web1", "web2", "web3", "web3"]
    assert [c.choice for c in rec.of(ev.MenuChoice)] == ["retry"]
    assert [s.hosts for s in rec.of(ev.StepStarted) if s.step.id == "deploy"] == [
        HOSTS,
        ("web3",),
    ]
    deploy = finished(rec, "deploy")
    assert deploy.outcome == Outcome.SUCCESS and deploy.attempt == 2
    # every host's result, each from the attempt it ran in
    assert per_host(deploy) == {
        "web1": ("success", 1),
        "web2": ("success", 1),
        "web3": ("success", 2),
    }
    assert rec.of(ev.Captured)[0].value == {h: f"{h} ok\n" for h in HOSTS}


def test_retry_all_runs_every_host_again(tmp_path: Path) -> None:
    prompter = ScriptedPrompter(
        ("choose", "Run on", "r"),
        ("choose", "failed on 1 of 3", "l"),
        ("choose", "Run on", "r"),
    )
    _, rec, hosts = run(tmp_path, TWO_STEPS, prompter, {"web2": 1})

    assert [h for s, h in hosts.ran if s == "deploy"] == [*HOSTS, *HOSTS]
    assert [c.choice for c in rec.of(ev.MenuChoice)] == ["retry-all"]
    assert per_host(finished(rec, "deploy")) == {h: ("success", 2) for h in HOSTS}


def test_the_menu_offers_retry_all_and_exclude_only_where_they_mean_something(
    tmp_path: Path,
) -> None:
    menus: list[list[str]] = []
    prompter = Menus(
        menus,
        ("choose", "Run on", "r"),
        ("choose", "The step failed. What now?", "a"),
        ("text", "Why abort the run?", "seen enough"),
    )
    run(tmp_path, TWO_STEPS, prompter, {h: -1 for h in HOSTS})
    prompter = Menus(
        menus,
        ("choose", "Run on", "r"),
        ("choose", "The step failed on 1 of 3 hosts. What now?", "a"),
        ("text", "Why abort the run?", "seen enough"),
    )
    run(tmp_path, TWO_STEPS, prompter, {"web2": -1})

    assert menus == [
        ["retry", "exclude hosts", "skip", "off-script", "abort", "rollback"],
        ["retry failed", "retry all", "exclude web2", "skip", "off-script", "abort", "rollback"],
    ]


def test_an_excluded_host_is_left_out_of_every_later_step(tmp_path: Path) -> None:
    prompter = ScriptedPrompter(
        ("choose", "Run on web1, web2, web3?", "r"),
        ("choose", "The step failed on 1 of 3 hosts. What now?", "e"),
        ("text", "Why exclude web3 for the rest of the run?", "disk died, ticket OPS-7"),
        ("choose", "Run on web1, web2?", "r"),
    )
    result, rec, hosts = run(tmp_path, TWO_STEPS, prompter, {"web3": -1})

    assert result.outcome == Outcome.SUCCESS
    assert hosts.ran == [
        ("deploy", "web1"),
        ("deploy", "web2"),
        ("deploy", "web3"),
        ("after", "web1"),
        ("after", "web2"),
    ]
    assert rec.of(ev.HostExcluded) == [
        ev.HostExcluded(
            rec.of(ev.HostExcluded)[0].at,
            finished(rec, "deploy").step,
            "web3",
            "disk died, ticket OPS-7",
        )
    ]
    deploy = finished(rec, "deploy")
    assert deploy.outcome == Outcome.PARTIAL
    assert deploy.reason == "excluded: web3 (disk died, ticket OPS-7)"
    assert per_host(deploy) == {
        "web1": ("success", 1),
        "web2": ("success", 1),
        "web3": ("failure", 1),
    }
    # what it captured: the output of the hosts where it succeeded
    assert rec.of(ev.Captured)[0].value == {"web1": "web1 ok\n", "web2": "web2 ok\n"}
    shown = [e for e in rec.of(ev.StepShown) if e.step.id == "after" and e.command]
    assert [(e.hosts, dict(e.excluded)) for e in shown] == [
        (("web1", "web2"), {"web3": "disk died, ticket OPS-7"})
    ]
    assert result.steps == {"deploy": Outcome.PARTIAL, "after": Outcome.SUCCESS}


def test_which_hosts_to_exclude_when_several_failed(tmp_path: Path) -> None:
    prompter = ScriptedPrompter(
        ("choose", "Run on", "r"),
        ("choose", "The step failed on 2 of 3 hosts. What now?", "e"),
        ("text", "Exclude which host(s)? web2, web3 (Enter for all of them)", "web1 web3"),
        ("text", "Exclude which host(s)?", "web3"),
        ("text", "Why exclude web3 for the rest of the run?", "dead"),
        ("choose", "The step failed on 1 of 3 hosts. What now?", "r"),
        ("choose", "Run on web1, web2?", "r"),
    )
    _, rec, hosts = run(tmp_path, TWO_STEPS, prompter, {"web2": 1, "web3": -1})

    assert [e.plain for e in rec.of(ev.StepShown) if e.plain] == [
        "web1: not a host that failed here (web2, web3)"
    ]
    assert [h for s, h in hosts.ran if s == "deploy"] == [*HOSTS, "web2"]
    deploy = finished(rec, "deploy")
    # web2 succeeded on the retry; web3 failed and is excluded: the step is still failing there
    assert deploy.outcome == Outcome.PARTIAL and deploy.reason == "excluded: web3 (dead)"


def test_retry_all_leaves_out_a_host_excluded_at_this_step(tmp_path: Path) -> None:
    prompter = ScriptedPrompter(
        ("choose", "Run on", "r"),
        ("choose", "The step failed on 2 of 3 hosts. What now?", "e"),
        ("text", "Exclude which host(s)?", "web3"),
        ("text", "Why exclude web3", "dead"),
        ("choose", "The step failed on 1 of 3 hosts. What now?", "l"),
        ("choose", "Run on web1, web2?", "r"),
    )
    _, rec, hosts = run(tmp_path, TWO_STEPS, prompter, {"web2": 1, "web3": -1})

    assert [h for s, h in hosts.ran if s == "deploy"] == [*HOSTS, "web1", "web2"]
    deploy = finished(rec, "deploy")
    assert (deploy.outcome, per_host(deploy)) == (
        Outcome.SUCCESS,
        {"web1": ("success", 2), "web2": ("success", 2)},
    )


def test_the_responders_machine_is_never_offered_for_exclusion(tmp_path: Path) -> None:
    menus: list[list[str]] = []
    steps = "  - id: tidy\n    on: [local, web1]\n    run: ./tidy\n"
    prompter = Menus(
        menus,
        ("choose", "Run on local, web1?", "r"),
        ("choose", "The step failed. What now?", "a"),
        ("text", "Why abort the run?", "seen enough"),
    )
    run(tmp_path, steps, prompter, {"local": -1, "web1": -1})

    assert menus == [["retry", "exclude web1", "skip", "off-script", "abort", "rollback"]]


def test_enter_excludes_every_failed_host(tmp_path: Path) -> None:
    prompter = ScriptedPrompter(
        ("choose", "Run on", "r"),
        ("choose", "The step failed. What now?", "e"),
        ("text", "Exclude which host(s)?", ""),
        ("text", "Why exclude web1, web2, web3", "network partition"),
    )
    result, rec, hosts = run(tmp_path, TWO_STEPS, prompter, {h: -1 for h in HOSTS})

    assert finished(rec, "deploy").outcome == Outcome.SKIPPED
    after = finished(rec, "after")
    assert (after.outcome, after.reason) == (Outcome.SKIPPED, "every host it targets is excluded")
    assert [h for s, h in hosts.ran if s == "after"] == []
    assert result.outcome == Outcome.SUCCESS


def test_skipped_after_it_succeeded_on_some_hosts_is_partial(tmp_path: Path) -> None:
    prompter = ScriptedPrompter(
        ("choose", "Run on", "r"),
        ("choose", "The step failed on 1 of 3 hosts. What now?", "s"),
        ("text", "Why skip", "web2 is being rebuilt"),
        ("choose", "Run on web1, web2, web3?", "r"),  # skip excludes nothing
    )
    result, rec, _ = run(tmp_path, TWO_STEPS, prompter, {"web2": 1})

    deploy = finished(rec, "deploy")
    assert (deploy.outcome, deploy.reason) == (Outcome.PARTIAL, "web2 is being rebuilt")
    assert per_host(deploy) == {
        "web1": ("success", 1),
        "web2": ("failure", 1),
        "web3": ("success", 1),
    }
    assert result.steps["deploy"] == Outcome.PARTIAL


def test_skipped_after_it_failed_everywhere_is_skipped(tmp_path: Path) -> None:
    prompter = ScriptedPrompter(
        ("choose", "Run on", "r"),
        ("choose", "The step failed. What now?", "s"),
        ("text", "Why skip", "not needed"),
        ("choose", "Run on", "r"),
    )
    _, rec, _ = run(tmp_path, TWO_STEPS, prompter, {h: 1 for h in HOSTS})
    assert finished(rec, "deploy").outcome == Outcome.SKIPPED
    assert per_host(finished(rec, "deploy")) == {h: ("failure", 1) for h in HOSTS}


def test_with_yes_a_failure_on_one_host_still_stops_the_run(tmp_path: Path) -> None:
    result, rec, hosts = run(tmp_path, TWO_STEPS, None, {"web2": -1}, yes=True)

    assert result.outcome == Outcome.FAILURE
    assert [s for s, _ in hosts.ran] == ["deploy"] * 3
    assert rec.of(ev.MenuChoice) == [] and rec.of(ev.HostExcluded) == []


def test_automatic_retries_run_again_only_where_it_failed(tmp_path: Path) -> None:
    steps = "  - id: deploy\n    run: ./deploy\n    retries: 2\n    delay: 1\n"
    result, _, hosts = run(tmp_path, steps, None, {"web1": 2}, yes=True)

    assert result.outcome == Outcome.SUCCESS
    assert [h for _, h in hosts.ran] == [*HOSTS, "web1", "web1"]


def test_a_resumed_run_keeps_its_hosts_excluded(tmp_path: Path) -> None:
    restored = Restored(excluded={"web2": "dead"})
    _, rec, hosts = run(tmp_path, TWO_STEPS, None, {}, yes=True, restored=restored)

    assert [h for s, h in hosts.ran if s == "after"] == ["web1", "web3"]
    assert finished(rec, "after").outcome == Outcome.SUCCESS


@pytest.mark.parametrize(
    ("answer", "choice", "ran"), [("y", "canary-go", 3), ("n", "canary-stop", 1)]
)
def test_the_canary_answer_is_recorded(tmp_path: Path, answer: str, choice: str, ran: int) -> None:
    steps = "  - id: deploy\n    run: ./deploy\n    canary: 1\n"
    script: list[tuple[str, str, object]] = [
        ("choose", "Run on", "r"),
        ("choose", "The canary succeeded. Run on the other 2 host(s)?", answer),
    ]
    if answer == "n":
        script += [
            ("choose", "The step failed on 2 of 3 hosts. What now?", "s"),
            ("text", "Why skip", "canary looks odd"),
        ]
    _, rec, hosts = run(tmp_path, steps, ScriptedPrompter(*script), {})

    assert len(hosts.ran) == ran
    assert [c.choice for c in rec.of(ev.MenuChoice)] == [choice] + (
        ["skip"] if answer == "n" else []
    )
    if answer == "n":
        assert finished(rec, "deploy").outcome == Outcome.PARTIAL
