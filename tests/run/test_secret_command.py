"""A secret input read from a command (`command: [pass, show, ops/token]`): run without a shell
only by a real run, its stdout (less one final newline) the secret, its failures said without
its stdout."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from sop.errors import SopFileError
from sop.format.loader import load_sop
from sop.model import Sop
from sop.run.inputs import resolve_inputs
from sop.run.secretcommand import SecretCommandError, read_secret_command

SECRET = "s3cr3t-from-the-store"


def fake_pass(folder: Path, body: str) -> Path:
    """A `pass`-like program: records its arguments, then does `body`."""
    path = folder / "fake-pass"
    path.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" >> "{folder}/asked"\n{body}\n')
    path.chmod(0o755)
    return path


def sop_with(folder: Path, command: str, extra: str = "") -> Sop:
    path = folder / "s.yaml"
    path.write_text(
        textwrap.dedent(f"""\
        sop: 1
        id: s
        title: S
        owner: t
        reviewed: 2026-11-20
        inputs:
          token: {{secret: true, command: {command}{extra}}}
        steps:
          - id: a
            run: "true"
        """)
    )
    return load_sop(path)


def test_a_real_run_reads_the_secret_from_the_command(tmp_path: Path) -> None:
    program = fake_pass(tmp_path, f"printf '{SECRET}\\n\\n'")
    sop = sop_with(tmp_path, f"[{program}, show, ops/token]")
    inputs = resolve_inputs(sop, {}, secret_files={}, environ={}, asker=None, run_commands=True)
    assert inputs.secrets == {"token": SECRET + "\n"}  # one final newline is not the secret's
    assert inputs.shown == {"token": "********"}
    assert (tmp_path / "asked").read_text() == "show\nops/token\n"


def test_a_drill_and_a_dry_run_never_run_the_command(tmp_path: Path) -> None:
    program = fake_pass(tmp_path, f"echo {SECRET}")
    sop = sop_with(tmp_path, f"[{program}]", ", drill: rehearsal-value")
    drilled = resolve_inputs(sop, {}, secret_files={}, environ={}, asker=None, drill=True)
    assert drilled.secrets == {"token": "rehearsal-value"}
    dry = resolve_inputs(sop, {}, secret_files={}, environ={}, asker=None)
    assert dry.secrets["token"].startswith("unread-")
    assert not (tmp_path / "asked").exists()


def test_the_environment_wins_over_the_command(tmp_path: Path) -> None:
    program = fake_pass(tmp_path, f"echo {SECRET}")
    sop = sop_with(tmp_path, f"[{program}]", ", env: TOKEN")
    inputs = resolve_inputs(
        sop, {}, secret_files={}, environ={"TOKEN": "from-the-env"}, asker=None, run_commands=True
    )
    assert inputs.secrets == {"token": "from-the-env"}
    assert not (tmp_path / "asked").exists()


def test_a_failing_command_says_so_without_its_stdout(tmp_path: Path) -> None:
    program = fake_pass(
        tmp_path, f"echo {SECRET}\necho 'Error: ops/token is not in the store' >&2\nexit 1"
    )
    with pytest.raises(SecretCommandError) as failed:
        read_secret_command("token", [str(program), "show", "ops/token"])
    assert str(failed.value) == (
        f"input 'token': command '{program} show ops/token' exited with 1: Error: ops/token is "
        "not in the store"
    )


@pytest.mark.parametrize(
    ("body", "said"),
    [
        ("printf ''", "printed nothing"),
        ("printf '\\n'", "printed nothing"),
        ("printf '\\377'", "printed something that is not UTF-8 text"),
        ("sleep 5", "did not finish within 0.5s"),
    ],
)
def test_a_command_that_gives_no_usable_secret_is_an_error(
    tmp_path: Path, body: str, said: str
) -> None:
    program = fake_pass(tmp_path, body)
    with pytest.raises(SecretCommandError) as failed:
        read_secret_command("token", [str(program)], timeout=0.5)
    assert str(failed.value) == f"input 'token': command '{program}' {said}"


def test_a_missing_program_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SecretCommandError) as failed:
        read_secret_command("token", [str(tmp_path / "nope")])
    assert str(failed.value) == (
        f"input 'token': command '{tmp_path / 'nope'}' could not start: No such file or directory"
    )


@pytest.mark.parametrize(
    ("declaration", "message"),
    [
        (
            "{command: [pass, show, x]}",
            "inputs.token.command: 'command' reads a secret; this input is not `secret: true`",
        ),
        (
            "{secret: true, command: [pass, show, '{{ env }}/token']}",
            "inputs.token.command: a secret's command runs as written: no template in its "
            "arguments",
        ),
    ],
)
def test_a_command_is_for_secrets_and_never_templated(
    tmp_path: Path, declaration: str, message: str
) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        "sop: 1\nid: s\ntitle: S\nowner: t\nreviewed: 2026-11-20\n"
        f"inputs:\n  token: {declaration}\nsteps:\n  - id: a\n    run: 'true'\n"
    )
    with pytest.raises(SopFileError) as failed:
        load_sop(path)
    assert str(failed.value).endswith(message)
