"""A folder to run SOPs in, against the sshd fixture hosts: an inventory, a tasks file, and a
`mark` command that records what ran where.

All fixture hosts are this machine, so `mark` tells them apart by the address the SSH session
came in on (the 3rd field of `$SSH_CONNECTION`); a command run by sop locally has no
`$SSH_CONNECTION` (sop is started with it removed from the environment). Every call appends
one line `HOST NAME [WORDS...]` to `marks.log`, so a test reads back, in order, exactly which
commands ran on which host, and which did not.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .sshd import SshdHosts, SshHost

REPO = Path(__file__).resolve().parents[2]
SOP = Path(sys.executable).parent / "sop"  # the sop installed beside the Python running pytest
GROUPS = {"web": ["h01", "h02", "h03"]}

TASKS = '''\
"""Tasks for the test SOPs: `c` is an invoke Context locally, a fabric Connection remotely."""

from invoke import task


@task
def mark(c, mark, name, words=""):
    """Run the `mark` command through c.run."""
    c.run(f"{mark} {name} {words}")


@task
def env(c, mark, name):
    """Record the sop variables of the environment c.run gives a command."""
    c.run(f'{mark} {name} "$SOP_RUN_ID" "$SOP_TRACE_ID" "$SOP_STEP" "$TRACEPARENT"')
'''


def mark_script(log: Path, hosts: Sequence[SshHost]) -> str:
    cases = "".join(f"  {h.address}) host={h.name} ;;\n" for h in hosts)
    return (
        "#!/bin/sh\n"
        "addr=$(printf '%s\\n' \"${SSH_CONNECTION:-}\" | cut -d' ' -f3)\n"
        'case "$addr" in\n'
        '  "") host=local ;;\n'
        f"{cases}"
        '  *) host="unknown:$addr" ;;\n'
        "esac\n"
        f"printf '%s %s\\n' \"$host\" \"$*\" >> '{log}'\n"
    )


def sop_env(**extra: str) -> dict[str, str]:
    """The environment sop runs in: this one without SSH session variables, wide, no pager."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SSH_")}
    env.pop("SOP_PATH", None)
    env.update(COLUMNS="200", LINES="50", NO_COLOR="1", TERM="xterm-256color")
    env.update(extra)
    return env


@dataclass
class RunDir:
    """A folder with `inventory.yaml`, `tasks.py`, `mark` and (once written) SOP files."""

    path: Path
    hosts: SshdHosts

    @classmethod
    def create(
        cls,
        path: Path,
        hosts: SshdHosts,
        groups: Mapping[str, Sequence[str]] = GROUPS,
        extra_hosts: Mapping[str, SshHost] | None = None,
    ) -> RunDir:
        path.mkdir(parents=True, exist_ok=True)
        run_dir = cls(path, hosts)
        data: dict[str, Any] = hosts.inventory_data(groups)
        for name, extra in (extra_hosts or {}).items():
            data["hosts"][name] = {
                "address": extra.address,
                "port": extra.port,
                "user": hosts.user,
                "identity_file": str(hosts.client_key),
            }
        run_dir.inventory.write_text(yaml.safe_dump(data, sort_keys=False))
        (path / "tasks.py").write_text(TASKS)
        run_dir.mark.write_text(mark_script(run_dir.log, hosts.hosts))
        run_dir.mark.chmod(0o755)
        return run_dir

    @property
    def inventory(self) -> Path:
        return self.path / "inventory.yaml"

    @property
    def mark(self) -> Path:
        return self.path / "mark"

    @property
    def log(self) -> Path:
        return self.path / "marks.log"

    def marks(self) -> list[str]:
        """What `mark` recorded, one `HOST NAME WORDS` line per call, in order."""
        if not self.log.exists():
            return []
        return self.log.read_text().splitlines()

    def write_sop(self, text: str, name: str = "sop.yaml") -> Path:
        """Write an SOP; `@MARK@` in the text becomes the path of the `mark` command."""
        path = self.path / name
        path.write_text(textwrap.dedent(text).replace("@MARK@", str(self.mark)))
        return path

    def env(self, **extra: str) -> dict[str, str]:
        """sop_env() with sop's state and audit keys kept beside this folder, not in ~."""
        state = self.path.parent / "sop-state"
        return sop_env(
            SOP_STATE_DIR=str(state / "runs"), SOP_AUDIT_KEYS=str(state / "keys"), **extra
        )

    def args(self, sop: Path, *more: str, known_hosts: Path | None = None) -> list[str]:
        """`sop run` arguments for this folder's inventory and the fixture's SSH files."""
        return [
            "run",
            str(sop),
            "--inventory",
            str(self.inventory),
            "--known-hosts",
            str(known_hosts or self.hosts.known_hosts),
            "--ssh-config",
            str(self.ssh_config),
            *more,
        ]

    def resume_args(self, run_id: str, *more: str) -> list[str]:
        """`sop resume` arguments for this folder's inventory and the fixture's SSH files."""
        return [
            "resume",
            run_id,
            "--inventory",
            str(self.inventory),
            "--known-hosts",
            str(self.hosts.known_hosts),
            "--ssh-config",
            str(self.ssh_config),
            *more,
        ]

    @property
    def ssh_config(self) -> Path:
        """An empty ssh config, so that ~/.ssh/config plays no part."""
        path = self.path / "ssh_config"
        if not path.exists():
            path.write_text("")
        return path

    def run(
        self,
        sop: Path,
        *more: str,
        known_hosts: Path | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float = 60,
    ) -> subprocess.CompletedProcess[str]:
        """`sop run` as a child process without a terminal (stdin is /dev/null)."""
        return self.sop(self.args(sop, *more, known_hosts=known_hosts), env, timeout)

    def sop(
        self, args: Sequence[str], env: Mapping[str, str] | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        """`sop ARGS` as a child process without a terminal (stdin is /dev/null)."""
        return subprocess.run(
            [str(SOP), *args],
            cwd=self.path,
            env=self.env(**(env or {})),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
