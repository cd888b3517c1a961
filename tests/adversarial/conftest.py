"""The adversarial suite: every test is one attack on sop, named after it.

Each test asserts the whole error sop gives (or that the output is inert) and that nothing ran:
attack payloads `touch` a marker file, `PWNED`, which must never exist afterwards. sop runs as a
child process (the `sop` next to this Python), with its state and audit keys in the test's
folder, exactly as a responder would run it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import silent_listener, sshd_factory, sshd_hosts  # noqa: F401

SOP = Path(sys.executable).parent / "sop"
HEADER = """\
sop: 1
id: {id}
title: Attack
owner: red-team
reviewed: 2026-11-01
"""


@dataclass
class Attack:
    """A folder to attack sop from: SOP files, a state directory, a key directory, a marker."""

    path: Path

    @property
    def pwned(self) -> Path:
        """The marker every payload tries to create."""
        return self.path / "PWNED"

    @property
    def state(self) -> Path:
        return self.path / "state"

    @property
    def keys(self) -> Path:
        return self.path / "keys"

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SSH_", "SOP_"))}
        env.update(
            SOP_STATE_DIR=str(self.state),
            SOP_AUDIT_KEYS=str(self.keys),
            COLUMNS="200",
            NO_COLOR="1",
            TERM="dumb",
        )
        env.update(extra)
        return env

    def text(self, body: str, sop_id: str = "attack") -> str:
        """An SOP: the standard header, then `body`; `@PWNED@` and `@DIR@` are substituted."""
        text = HEADER.format(id=sop_id) + textwrap.dedent(body)
        return text.replace("@PWNED@", str(self.pwned)).replace("@DIR@", str(self.path))

    def write(self, body: str, name: str = "attack.yaml", sop_id: str = "attack") -> Path:
        path = self.path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.text(body, sop_id))
        return path

    def sop(
        self,
        *args: str,
        env: Mapping[str, str] | None = None,
        timeout: float = 60,
        stdin: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """`sop ARGS...` without a terminal, in this folder."""
        return subprocess.run(
            [str(SOP), *args],
            cwd=self.path,
            env=self.env(**(env or {})),
            input=stdin,
            stdin=None if stdin is not None else subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def run(
        self, sop_file: Path, *args: str, env: Mapping[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """`sop run --yes FILE ARGS...`."""
        return self.sop("run", "--yes", self.name(sop_file), *args, env=env)

    def name(self, path: Path) -> str:
        """`path` as sop is given it: relative to this folder, so messages name `attack.yaml`."""
        return str(path.relative_to(self.path)) if path.is_relative_to(self.path) else str(path)

    def assert_nothing_ran(self) -> None:
        assert not self.pwned.exists(), "the attack's payload ran: PWNED exists"


@pytest.fixture
def attack(tmp_path: Path) -> Attack:
    folder = tmp_path / "attack"
    folder.mkdir()
    return Attack(folder)


def records(attack: Attack) -> list[dict[str, Any]]:
    """The audit records of the one run in the attack's state directory."""
    (run_dir,) = (attack.state / "runs").iterdir()
    return [json.loads(line) for line in (run_dir / "audit.jsonl").read_text().splitlines()]


def messages(attack: Attack) -> list[str]:
    """The `message` of every step-shown record (what the responder was shown), in order."""
    return [r["message"] for r in records(attack) if r["event"]["action"] == "step-shown"]
