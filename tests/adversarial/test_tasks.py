"""Invoke tasks: a `tasks:` path must stay beside the SOP; a missing or broken module is a clear
error; a task that raises is reported as a failed step, never a traceback."""

from __future__ import annotations

import pytest

from .conftest import Attack

TASK_SOP = """\
tasks: {tasks}
steps:
  - id: act
    task: act
"""
TASKS = """\
from invoke import task


@task
def act(c):
    {body}
"""


def refused(attack: Attack, tasks: str) -> str:
    result = attack.run(attack.write(TASK_SOP.format(tasks=tasks)))
    assert (result.returncode, result.stdout) == (1, "")
    attack.assert_nothing_ran()
    return result.stderr


@pytest.mark.parametrize(
    "tasks", ["../evil.py", "/tmp/evil.py", "sub/../../evil.py"], ids=["parent", "abs", "dotdot"]
)
def test_a_tasks_file_outside_the_sops_folder_is_refused(attack: Attack, tasks: str) -> None:
    (attack.path.parent / "evil.py").write_text(f"open({str(attack.pwned)!r}, 'w')\n")
    assert refused(attack, tasks) == (
        f"attack.yaml:6:1: tasks: '{tasks}' is outside the SOP's folder; keep tasks beside the SOP\n"
    )


def test_a_symlinked_tasks_file_leading_outside_is_refused(attack: Attack) -> None:
    (attack.path.parent / "evil.py").write_text(f"open({str(attack.pwned)!r}, 'w')\n")
    (attack.path / "tasks.py").symlink_to(attack.path.parent / "evil.py")
    assert refused(attack, "tasks.py") == (
        "attack.yaml:6:1: tasks: 'tasks.py' is outside the SOP's folder; keep tasks beside the SOP\n"
    )


def test_a_missing_tasks_module_is_a_clear_error(attack: Attack) -> None:
    assert refused(attack, "missing.py") == "attack.yaml:6:1: tasks: 'missing.py' does not exist\n"


def test_a_tasks_module_that_fails_to_import_is_a_clear_error(attack: Attack) -> None:
    """Only a real run imports the module; its import error fails the step, plainly."""
    tasks = "import no_such_module_here\n" + TASKS.format(body="pass")
    (attack.path / "tasks.py").write_text(tasks)
    result = attack.run(attack.write(TASK_SOP.format(tasks="tasks.py")))
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    assert (
        f"Cannot prepare this step: {attack.path / 'tasks.py'}: importing the tasks failed: "
        "ModuleNotFoundError: No module named 'no_such_module_here'\n"
    ) in result.stdout


def test_a_task_that_raises_is_reported_not_a_traceback(attack: Attack) -> None:
    (attack.path / "tasks.py").write_text(TASKS.format(body="raise ValueError('disk on fire')"))
    result = attack.run(attack.write(TASK_SOP.format(tasks="tasks.py")))
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    assert "ValueError: disk on fire" in result.stdout
    assert "Run failure" in result.stdout
