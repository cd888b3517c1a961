"""Run data cannot redirect a step. A host's captured output, a responder's answer or an input
that builds `on:` names exactly one host of the inventory: `local` (the responder's machine),
a group (a fleet), a list or a pattern is refused before anything runs, unless the step's
`on_data:` allows a group or `local`."""

from __future__ import annotations

import pytest
import yaml

from tests.integration.sshd import SshdHosts

from .conftest import Attack, messages, records

INVENTORY = {
    "hosts": {"h1": {"address": "192.0.2.1"}, "h2": {"address": "192.0.2.2"}},
    "groups": {"web": ["h1", "h2"], "all": ["h1", "h2"]},
}
RULE = (
    "a target built from run data (inputs, answers, captures) must name one host of the inventory"
)

# what a capture, an answer or an input says -> why it is refused
REFUSED = {
    "local": "(the responder's machine): " + RULE + "; `on_data: local` allows it",
    "all": "(a group): " + RULE + "; `on_data: group` allows a group",
    "web": "(a group): " + RULE + "; `on_data: group` allows a group",
    "h1,h2": "(not one host name): " + RULE,
    "h1 h2": "(not one host name): " + RULE,
    "h*": "(not one host name): " + RULE,
    "h[12]": "(not one host name): " + RULE,
    "{h1,h2}": "(not one host name): " + RULE,
    "*": "(not one host name): " + RULE,
    "h3": "(not a host of inventory.yaml): " + RULE,
}


def write_inventory(attack: Attack) -> None:
    (attack.path / "inventory.yaml").write_text(yaml.safe_dump(INVENTORY))


def preflight_error(attack: Attack) -> str:
    """The one unresolvable target of the last run's pre-flight, which stopped it."""
    (checked,) = [r for r in records(attack) if r["event"]["action"] == "preflight"][-1:]
    (result,) = checked["sop"]["results"]
    assert result["outcome"] == "unresolvable target"
    return str(result["error"])


def refusal(source: str, value: str) -> str:
    shown = value.replace("\n", "\\n")
    return f"Cannot prepare this step: target '{source}' is '{shown}' {REFUSED[value]}"


def preflight_refusal(source: str, value: str) -> str:
    """The same refusal, by the pre-flight, naming the step (an input is known before it)."""
    return f"step 1: target '{source}' is '{value}' {REFUSED[value]}"


@pytest.mark.parametrize("value", sorted(REFUSED))
def test_a_capture_cannot_choose_where_the_next_step_runs(attack: Attack, value: str) -> None:
    write_inventory(attack)
    (attack.path / "answer").write_text(value)
    path = attack.write(
        """\
        steps:
          - id: compromised
            on: local
            run: cat @DIR@/answer
            capture: out
          - id: next
            on: "{{ out }}"
            run: touch @PWNED@
        """
    )
    result = attack.run(path, "--inventory", "inventory.yaml")
    assert result.returncode == 1
    attack.assert_nothing_ran()
    assert messages(attack)[-1] == refusal("{{ out }}", value)


def test_a_capture_of_two_lines_is_not_two_targets(attack: Attack) -> None:
    write_inventory(attack)
    path = attack.write(
        """\
        steps:
          - id: compromised
            on: local
            run: printf 'h1\\nh2\\n'
            capture: out
          - id: next
            on: "{{ out }}"
            run: touch @PWNED@
        """
    )
    result = attack.run(path, "--inventory", "inventory.yaml")
    assert result.returncode == 1
    attack.assert_nothing_ran()
    assert messages(attack)[-1] == (
        "Cannot prepare this step: target '{{ out }}' is 'h1\\nh2' (not one host name): " + RULE
    )


@pytest.mark.parametrize("value", ["local", "all", "web", "h1,h2", "h*"])
def test_an_answer_cannot_widen_the_target(attack: Attack, value: str) -> None:
    write_inventory(attack)
    path = attack.write(
        """\
        steps:
          - id: where
            prose: Which host is affected?
            ask:
              host: {help: the host}
          - id: next
            on: "{{ host }}"
            run: touch @PWNED@
        """
    )
    result = attack.run(path, "--inventory", "inventory.yaml", "-a", f"host={value}")
    assert result.returncode == 1
    attack.assert_nothing_ran()
    assert messages(attack)[-1] == refusal("{{ host }}", value)


@pytest.mark.parametrize("value", ["local", "all", "web", "h1,h2", "h*"])
def test_an_input_cannot_widen_the_sops_target(attack: Attack, value: str) -> None:
    write_inventory(attack)
    path = attack.write(
        """\
        inputs:
          host: {required: true}
        on: "{{ host }}"
        steps:
          - id: first
            run: touch @PWNED@
        """
    )
    result = attack.run(path, "--inventory", "inventory.yaml", "-i", f"host={value}")
    assert result.returncode == 1
    attack.assert_nothing_ran()
    assert preflight_error(attack) == preflight_refusal("{{ host }}", value)


def test_on_data_local_lets_a_capture_choose_the_responders_machine(attack: Attack) -> None:
    write_inventory(attack)
    path = attack.write(
        """\
        steps:
          - id: decide
            on: local
            run: echo local
            capture: out
          - id: next
            on: "{{ out }}"
            on_data: local
            run: touch @DIR@/ran-here
        """
    )
    result = attack.run(path, "--inventory", "inventory.yaml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert (attack.path / "ran-here").exists()


def test_on_data_group_does_not_allow_local(attack: Attack) -> None:
    write_inventory(attack)
    path = attack.write(
        """\
        inputs:
          hosts: {required: true}
        on: "{{ hosts }}"
        on_data: group
        steps:
          - id: first
            run: touch @PWNED@
        """
    )
    result = attack.run(path, "--inventory", "inventory.yaml", "-i", "hosts=local")
    assert result.returncode == 1
    attack.assert_nothing_ran()
    assert preflight_error(attack) == preflight_refusal("{{ hosts }}", "local")


def test_an_input_target_is_checked_at_its_step_without_a_preflight(attack: Attack) -> None:
    write_inventory(attack)
    path = attack.write(
        """        inputs:
          host: {required: true}
        on: "{{ host }}"
        steps:
          - id: first
            run: touch @PWNED@
        """
    )
    result = attack.run(path, "--inventory", "inventory.yaml", "-i", "host=web", "--preflight=off")
    assert result.returncode == 1
    attack.assert_nothing_ran()
    assert messages(attack)[-1] == refusal("{{ host }}", "web")


def test_on_data_group_runs_on_the_groups_hosts(attack: Attack, sshd_hosts: SshdHosts) -> None:
    (attack.path / "inventory.yaml").write_text(
        yaml.safe_dump(sshd_hosts.inventory_data({"pair": [h.name for h in sshd_hosts.hosts[:2]]}))
    )
    path = attack.write(
        """\
        inputs:
          hosts: {required: true}
        on: "{{ hosts }}"
        on_data: group
        steps:
          - id: mark
            run: set -- $SSH_CONNECTION; touch @DIR@/ran-on-$3
        """
    )
    result = attack.run(
        path,
        "--inventory",
        "inventory.yaml",
        "--known-hosts",
        str(sshd_hosts.known_hosts),
        "--ssh-config",
        str(sshd_hosts.ssh_config),
        "-i",
        "hosts=pair",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    ran = sorted(p.name for p in attack.path.glob("ran-on-*"))
    assert ran == sorted(f"ran-on-{h.address}" for h in sshd_hosts.hosts[:2])


def test_a_literal_target_is_the_authors_word(attack: Attack) -> None:
    """`on: local` written in the SOP is not run data: it runs where it says."""
    write_inventory(attack)
    path = attack.write(
        """\
        on: local
        steps:
          - id: here
            run: touch @DIR@/ran-here
        """
    )
    result = attack.run(path, "--inventory", "inventory.yaml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert (attack.path / "ran-here").exists()
