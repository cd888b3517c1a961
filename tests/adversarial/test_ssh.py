"""SSH attacks against a real OpenSSH server: sop connects only to hosts known_hosts vouches
for, on that port, with that key; it never forwards the agent unasked and never hangs."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import yaml

from tests.integration.sshd import SshdHosts, SshHost, public_key

from .conftest import Attack, records

REMOTE = """\
on: target
steps:
  - id: remote
    run: touch @PWNED@
"""


def ssh_run(
    attack: Attack,
    hosts: SshdHosts,
    target: SshHost,
    known_hosts: str,
    body: str = REMOTE,
    ssh_config: str = "",
    env: dict[str, str] | None = None,
    forward_agent: bool | None = None,
) -> subprocess.CompletedProcess[str]:
    """`sop run` of `body` on `target` (inventory name `target`) trusting only `known_hosts`."""
    entry: dict[str, object] = {
        "address": target.address,
        "port": target.port,
        "user": hosts.user,
        "identity_file": str(hosts.client_key),
    }
    if forward_agent is not None:
        entry["forward_agent"] = forward_agent
    (attack.path / "inventory.yaml").write_text(yaml.safe_dump({"hosts": {"target": entry}}))
    (attack.path / "known_hosts").write_text(known_hosts)
    (attack.path / "ssh_config").write_text(ssh_config)
    attack.write(body)
    return attack.sop(
        "run",
        "--yes",
        "attack.yaml",
        "--inventory",
        "inventory.yaml",
        "--known-hosts",
        "known_hosts",
        "--ssh-config",
        "ssh_config",
        env=env,
        timeout=60,
    )


def fingerprint(key: Path) -> str:
    out = subprocess.run(
        ["ssh-keygen", "-lf", f"{key}.pub"], capture_output=True, text=True, check=True
    ).stdout
    return out.split()[1]


def host_error(attack: Attack) -> str:
    """Why the host was refused, as recorded where sop first connects: the pre-flight (the
    run stops there, before any step)."""
    (checked,) = [r for r in records(attack) if r["event"]["action"] == "preflight"]
    (result,) = checked["sop"]["results"]
    assert result["outcome"] != "ok"
    assert not [r for r in records(attack) if r["event"]["action"] == "step-started"]
    return str(result["error"])


def test_an_unknown_host_key_is_refused(attack: Attack, sshd_hosts: SshdHosts) -> None:
    h = sshd_hosts.hosts[0]
    result = ssh_run(attack, sshd_hosts, h, "")
    assert result.returncode == 1
    attack.assert_nothing_ran()
    assert host_error(attack).startswith(
        f"target: unknown host key for [{h.address}]:{h.port}: ssh-ed25519 "
        f"{fingerprint(sshd_hosts.host_key)}; refusing to connect.\n"
        f"It is not in known_hosts.\n"
    )


def test_a_changed_host_key_is_refused(attack: Attack, sshd_hosts: SshdHosts) -> None:
    impostor = sshd_hosts.start_impostor()
    genuine = sshd_hosts.known_hosts_line(impostor)  # what we knew: the genuine key
    result = ssh_run(attack, sshd_hosts, impostor, genuine)
    assert result.returncode == 1
    attack.assert_nothing_ran()
    offered = fingerprint(sshd_hosts.impostor_key(impostor))
    assert host_error(attack).startswith(
        f"target: HOST KEY CHANGED for [{impostor.address}]:{impostor.port}; refusing to connect.\n"
        f"The host offered     ssh-ed25519 {offered}\n"
        f"known_hosts expects  ssh-ed25519 {fingerprint(sshd_hosts.host_key)} (known_hosts:1: "
    )


def test_a_known_key_of_another_type_does_not_vouch(
    attack: Attack, sshd_hosts: SshdHosts, tmp_path: Path
) -> None:
    h = sshd_hosts.hosts[0]
    other = tmp_path / "ecdsa"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ecdsa", "-N", "", "-f", str(other)],
        check=True,
        capture_output=True,
    )
    line = f"[{h.address}]:{h.port} {public_key(other)}\n"
    result = ssh_run(attack, sshd_hosts, h, line)
    assert result.returncode == 1
    attack.assert_nothing_ran()
    assert "refusing to connect" in host_error(attack)


def test_a_port_22_entry_does_not_vouch_for_another_port(
    attack: Attack, sshd_hosts: SshdHosts
) -> None:
    h = sshd_hosts.hosts[0]
    result = ssh_run(attack, sshd_hosts, h, f"{h.address} {public_key(sshd_hosts.host_key)}\n")
    assert result.returncode == 1
    attack.assert_nothing_ran()
    assert (
        f"(A key is known for {h.address} on port 22, but host keys are per port.)"
        in host_error(attack)
    )


def test_the_agent_is_not_forwarded_even_if_ssh_config_asks(
    attack: Attack, sshd_hosts: SshdHosts, tmp_path: Path
) -> None:
    sock = tmp_path / "agent.sock"
    agent = subprocess.Popen(["ssh-agent", "-D", "-a", str(sock)], stdout=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if sock.exists():
                break
            time.sleep(0.05)
        subprocess.run(
            ["ssh-add", str(sshd_hosts.client_key)],
            env={**os.environ, "SSH_AUTH_SOCK": str(sock)},
            check=True,
            capture_output=True,
        )
        h = sshd_hosts.hosts[0]
        body = REMOTE.replace("touch @PWNED@", "printf 'agent=%s\\n' \"${SSH_AUTH_SOCK:-none}\"")
        result = ssh_run(
            attack,
            sshd_hosts,
            h,
            sshd_hosts.known_hosts_line(h),
            body,
            ssh_config="Host *\n    ForwardAgent yes\n",
            env={"SSH_AUTH_SOCK": str(sock)},
        )
    finally:
        agent.terminate()
        agent.wait()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "agent=none" in result.stdout


def test_a_host_that_never_answers_times_out(attack: Attack, sshd_hosts: SshdHosts) -> None:
    silent = sshd_hosts.silent_host()
    started = time.monotonic()
    result = ssh_run(attack, sshd_hosts, silent, sshd_hosts.known_hosts_line(silent))
    assert time.monotonic() - started < 30
    assert result.returncode == 1
    attack.assert_nothing_ran()
    assert host_error(attack).startswith(
        f"target ({sshd_hosts.user}@{silent.address} port {silent.port}): "
        "no SSH handshake within 10s"
    )


def test_an_address_that_looks_like_an_option_is_not_an_option(
    attack: Attack, sshd_hosts: SshdHosts
) -> None:
    fake = SshHost("fake", f"-oProxyCommand=touch {attack.pwned}", sshd_hosts.port)
    result = ssh_run(attack, sshd_hosts, fake, "")
    assert result.returncode == 1
    attack.assert_nothing_ran()
    # the inventory refuses it before anything runs, naming the file, the line and the key
    assert "hosts.target.address: '-oProxyCommand=touch " in result.stderr
    assert "an address cannot begin with '-' or contain spaces" in result.stderr


COMPROMISED = """\
on: target
steps:
  - id: compromised
    run: printf '%s' "$(cat @DIR@/evil-output)"
    capture: out
  - id: next
    on: local
    run: printf '<%s>' {{ out }}
"""


def test_a_compromised_host_cannot_inject_into_the_next_command(
    attack: Attack, sshd_hosts: SshdHosts
) -> None:
    h = sshd_hosts.hosts[0]
    payload = f"$(touch {attack.pwned}); touch {attack.pwned}\ntouch {attack.pwned}"
    (attack.path / "evil-output").write_text(payload)
    result = ssh_run(attack, sshd_hosts, h, sshd_hosts.known_hosts_line(h), COMPROMISED)
    assert result.returncode == 0, result.stdout + result.stderr
    attack.assert_nothing_ran()
    assert f"<{payload}>" in result.stdout


def test_a_compromised_host_cannot_inject_an_option(attack: Attack, sshd_hosts: SshdHosts) -> None:
    h = sshd_hosts.hosts[0]
    (attack.path / "evil-output").write_text(f"-oProxyCommand=touch {attack.pwned}")
    result = ssh_run(attack, sshd_hosts, h, sshd_hosts.known_hosts_line(h), COMPROMISED)
    assert result.returncode == 1
    attack.assert_nothing_ran()
    assert "it begins with '-' and would be read as an option" in result.stdout
