"""Secrets go only where a step needs them. Root on a target host (trusted for nothing) reads
every environment there: a step that does not name a secret must not carry it, a step that
names one carries only that one, and a host the step does not run on never receives any.

Every step dumps what it can see (`env` and /proc/self/environ) to a file
named after the step and the address of the host it ran on; the canaries must be only where
the SOP gave them."""

from __future__ import annotations

from tests.integration.sshd import SshdHosts

from .conftest import Attack

TOKEN = "c4nary-token-0d1f2e3a"
OTHER = "c4nary-other-9b8c7d6e"
ENV = {"ATTACK_TOKEN": TOKEN, "ATTACK_OTHER": OTHER}

# what the step's shell sees, in a file named after the step and the host's address
DUMP = (
    'set -- $SSH_CONNECTION; seen="@DIR@/seen/$SOP_STEP@${3:-local}"; '
    'env > "$seen"; tr "\\0" "\\n" < /proc/self/environ >> "$seen"'
)

SOP = f"""\
tasks: tasks.py
inputs:
  token: {{secret: true, env: ATTACK_TOKEN}}
  other: {{secret: true, env: ATTACK_OTHER}}
on: h01
steps:
  - id: blind
    on: [h01, h02]
    run: {DUMP}
  - id: blind-local
    on: local
    run: {DUMP}
  - id: names-token
    script: |
      test -n "$SOP_SECRET_TOKEN"
      {DUMP}
  - id: braces-token-local
    on: local
    run: test -n "${{SOP_SECRET_TOKEN}}" && {DUMP}
  - id: lists-other
    secrets: [other]
    run: {DUMP}
  - id: task-lists-token
    on: local
    task: dump
    secrets: token
  - id: task-blind
    on: local
    task: dump
"""

TASKS = """\
from invoke import task


@task
def dump(c):
    c.run(COMMAND)
"""


def run_scoped(attack: Attack, hosts: SshdHosts) -> dict[str, str]:
    """Run SOP on the sshd hosts; what each step saw, by `step@address`."""
    hosts.write_inventory(attack.path / "inventory.yaml")
    (attack.path / "seen").mkdir()
    command = DUMP.replace("@DIR@", str(attack.path))
    (attack.path / "tasks.py").write_text(TASKS.replace("COMMAND", repr(command)))
    attack.write(SOP)
    result = attack.sop(
        "run",
        "--yes",
        "attack.yaml",
        "--inventory",
        "inventory.yaml",
        "--known-hosts",
        str(hosts.known_hosts),
        "--ssh-config",
        str(hosts.ssh_config),
        env=ENV,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return {p.name: p.read_text() for p in (attack.path / "seen").iterdir()}


def carried(seen: dict[str, str]) -> dict[str, list[str]]:
    """For each step@host, the canaries its environments held."""
    return {
        where: [name for name, value in (("token", TOKEN), ("other", OTHER)) if value in text]
        for where, text in sorted(seen.items())
    }


def test_each_step_carries_only_the_secrets_it_names(attack: Attack, sshd_hosts: SshdHosts) -> None:
    h1, h2 = sshd_hosts.hosts[0].address, sshd_hosts.hosts[1].address
    seen = run_scoped(attack, sshd_hosts)
    assert carried(seen) == {
        f"blind@{h1}": [],
        f"blind@{h2}": [],
        "blind-local@local": [],
        f"names-token@{h1}": ["token"],
        "braces-token-local@local": ["token"],
        f"lists-other@{h1}": ["other"],
        "task-lists-token@local": ["token"],
        "task-blind@local": [],
    }
    # a step that names the secret gets it under its name, nothing else holds it
    assert f"SOP_SECRET_TOKEN={TOKEN}\n" in seen[f"names-token@{h1}"]
    assert "SOP_SECRET_OTHER" not in seen[f"names-token@{h1}"]
    # the variable sop read the secret from is not passed on to local commands
    assert "ATTACK_TOKEN" not in seen["blind-local@local"]
    assert "ATTACK_OTHER" not in seen["braces-token-local@local"]


def test_a_host_the_secret_step_does_not_run_on_never_receives_it(
    attack: Attack, sshd_hosts: SshdHosts
) -> None:
    """h2 runs `blind` only, and that step's environment holds no secret and no secret's
    variable."""
    h2 = sshd_hosts.hosts[1].address
    seen = run_scoped(attack, sshd_hosts)
    on_h2 = {where: text for where, text in seen.items() if where.endswith(f"@{h2}")}
    assert list(on_h2) == [f"blind@{h2}"]
    assert all(TOKEN not in text and OTHER not in text for text in on_h2.values())
    assert "SOP_SECRET_" not in on_h2[f"blind@{h2}"]


def test_a_called_sop_gets_its_own_secrets_not_the_callers(attack: Attack) -> None:
    """The caller's `token` does not reach the called SOP's steps, which name the same
    variable: they get the value of the called SOP's own secret input, read from its `env`.
    (The caller's steps may inherit ATTACK_OTHER from the responder's environment: sop has not
    read it as a secret yet; docs/run.md says so.)"""
    (attack.path / "seen").mkdir()
    attack.write(
        f"""\
        inputs:
          token: {{secret: true, env: ATTACK_OTHER}}
        steps:
          - id: inner
            run: test -n "$SOP_SECRET_TOKEN" && {DUMP}
        """,
        name="callee.yaml",
        sop_id="callee",
    )
    attack.write(
        f"""\
        inputs:
          token: {{secret: true, env: ATTACK_TOKEN}}
        steps:
          - id: outer
            run: test -n "$SOP_SECRET_TOKEN" && {DUMP}
          - id: sub
            call: callee
        """
    )
    result = attack.sop("run", "--yes", "attack.yaml", env=ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    seen = {p.name: p.read_text() for p in (attack.path / "seen").iterdir()}
    secret_lines = {
        where: sorted({line for line in text.splitlines() if line.startswith("SOP_SECRET_")})
        for where, text in seen.items()
    }
    assert secret_lines == {
        "outer@local": [f"SOP_SECRET_TOKEN={TOKEN}"],
        "inner@local": [f"SOP_SECRET_TOKEN={OTHER}"],
    }
    assert TOKEN not in seen["inner@local"]


def test_a_capture_that_names_a_secret_variable_does_not_pull_it_in(attack: Attack) -> None:
    """A host prints `$SOP_SECRET_TOKEN`; the next step puts that output into its command. The
    step's text as written names no secret, so its command gets none."""
    (attack.path / "seen").mkdir()
    attack.write(
        f"""\
        inputs:
          token: {{secret: true, env: ATTACK_TOKEN}}
        steps:
          - id: hostile
            run: echo '$SOP_SECRET_TOKEN ${{SOP_SECRET_TOKEN}}'
            capture: out
          - id: echo-it
            run: echo {{{{ out }}}} >/dev/null; {DUMP}
        """
    )
    result = attack.sop("run", "--yes", "attack.yaml", env={"ATTACK_TOKEN": TOKEN})
    assert result.returncode == 0, result.stdout + result.stderr
    seen = {p.name: p.read_text() for p in (attack.path / "seen").iterdir()}
    assert carried(seen) == {"echo-it@local": []}
    assert "SOP_SECRET_TOKEN=" not in seen["echo-it@local"]
