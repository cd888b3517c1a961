"""An SOP folder from a pull request: its tasks.py must not run unless a responder really runs a
task step. Lint, a dry run, a simulated drill, render, show and list read the file's syntax
tree; every payload below writes PWNED when imported, and PWNED must never appear. Task names
are still checked: a typo is a lint error, a real task passes."""

from __future__ import annotations

from pathlib import Path

import pytest

from sop.format.taskscan import scan_tasks

from .conftest import Attack

TASK_SOP = """\
tasks: tasks.py
steps:
  - id: act
    title: Act
    task: {task}
    drill: {{stdout: "done\\n"}}
"""
VALID = "from invoke import task\n\n\n@task\ndef act(c):\n    'Act on it.'\n"
PAYLOADS = {
    "top-level open": "open({pwned!r}, 'w')\n" + VALID,
    "importlib": "import importlib\nimportlib.import_module('os').system('touch {pwned}')\n"
    + VALID,
    "exec": "exec(\"open({pwned!r}, 'w')\")\n" + VALID,
    "dunder import": "__import__('pathlib').Path({pwned!r}).touch()\n" + VALID,
    "decorator side effect": (
        "from invoke import task\n\n\ndef mark(f):\n    open({pwned!r}, 'w')\n    return f\n\n\n"
        "@task\n@mark\ndef act(c):\n    pass\n"
    ),
    "default argument": (
        "from invoke import task\n\n\n@task\ndef act(c, x=open({pwned!r}, 'w')):\n    pass\n"
    ),
    "namespace": (
        "from invoke import Collection, task\nimport os\nos.system('touch {pwned}')\n\n\n"
        "@task\ndef _act(c):\n    pass\n\n\nns = Collection()\nns.add_task(_act, name='act')\n"
    ),
    "class body": "class Evil:\n    open({pwned!r}, 'w')\n\n\n" + VALID,
}
COMMANDS = {
    "lint": ("lint", "attack.yaml"),
    "dry run": ("run", "--dry-run", "attack.yaml"),
    "drill": ("drill", "--yes", "--pace", "0", "attack.yaml"),
    "render": ("render", "--out", "site", "attack.yaml"),
    "show": ("show", "attack.yaml"),
    "list": ("list", "."),
    "coverage": ("coverage", "."),  # exits 1: the folder covers no phase
}


def hostile(attack: Attack, payload: str, task: str = "act") -> None:
    (attack.path / "tasks.py").write_text(PAYLOADS[payload].format(pwned=str(attack.pwned)))
    attack.write(TASK_SOP.format(task=task))


@pytest.mark.parametrize("command", COMMANDS, ids=list(COMMANDS))
@pytest.mark.parametrize("payload", PAYLOADS, ids=list(PAYLOADS))
def test_reading_an_sop_never_imports_its_tasks(attack: Attack, payload: str, command: str) -> None:
    hostile(attack, payload)
    result = attack.sop(*COMMANDS[command], env={"SOP_NO_CACHE": "1"})
    assert result.returncode == (command == "coverage"), result.stdout + result.stderr
    attack.assert_nothing_ran()


@pytest.mark.parametrize("payload", PAYLOADS, ids=list(PAYLOADS))
def test_a_typo_in_a_task_name_is_still_a_lint_error(attack: Attack, payload: str) -> None:
    hostile(attack, payload, task="atc")
    result = attack.sop("lint", "attack.yaml")
    assert result.returncode == 1
    assert (
        "attack.yaml:10:5: steps[0].task: no task 'atc' in tasks.py (it defines: act)"
        in result.stdout + result.stderr
    )
    attack.assert_nothing_ran()


def test_a_typo_refuses_the_dry_run_and_the_drill_before_anything(attack: Attack) -> None:
    hostile(attack, "top-level open", task="atc")
    for command in (COMMANDS["dry run"], COMMANDS["drill"]):
        result = attack.sop(*command)
        assert (result.returncode, result.stderr) == (
            1,
            "attack.yaml:10:5: steps[0].task: no task 'atc' in tasks.py (it defines: act)\n",
        )
    attack.assert_nothing_ran()


def test_a_real_run_imports_the_tasks_and_runs_the_step(attack: Attack) -> None:
    """The one command that runs a tasks module's code, on purpose: the import's side effect
    happens here and only here."""
    hostile(attack, "top-level open")
    result = attack.run(attack.path / "attack.yaml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert attack.pwned.exists()


def test_a_module_that_makes_its_tasks_at_run_time_gets_a_warning_not_an_import(
    attack: Attack,
) -> None:
    tasks = (
        "from invoke import task\n\nfor name in ('a', 'b'):\n"
        "    globals()[name] = task(lambda c: open({pwned!r}, 'w'))\n"
    )
    (attack.path / "tasks.py").write_text(tasks.format(pwned=str(attack.pwned)))
    attack.write(TASK_SOP.format(task="a"))
    result = attack.sop("lint", "attack.yaml")
    assert (result.returncode, result.stdout) == (
        0,
        "attack.yaml:10:5: steps[0].task: warning: cannot tell whether tasks.py defines task 'a' "
        "without running it (line 4: globals(); line 3: module-level for); sop does not import "
        "tasks to check\n",
    )
    attack.assert_nothing_ran()


# -- the scan names tasks as invoke does -----------------------------------------------------


def scanned(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "tasks.py"
    path.write_text(text)
    return scan_tasks(path).names()


@pytest.mark.parametrize(
    "text, names",
    [
        ("from invoke import task as t\n@t\ndef rotate_logs(c): ...\n", ["rotate-logs"]),
        ("import invoke\n@invoke.task(name='flush')\ndef _f(c): ...\n", ["flush"]),
        ("import invoke.tasks as it\n@it.task()\ndef a(c): ...\n", ["a"]),
        ("from fabric import task\n@task\ndef deploy(c): ...\n", ["deploy"]),
        ("from invoke import Task\ndef body(c): ...\nx = Task(body)\n", ["body"]),
        ("from invoke import task\ndef b(c): ...\nx = task(name='bee')(b)\n", ["bee"]),
        ("from invoke import task\n@task\ndef a(c): ...\n@task(a)\ndef b(c): ...\n", ["a", "b"]),
        ("from invoke import task\n@task\ndef a(c): ...\ndel a\n", []),
        ("def helper(c): ...\n@some.decorator\ndef other(c): ...\n", []),
        (
            "from invoke import Collection, task\n@task\ndef a_b(c): ...\n@task\ndef hidden(c): ...\n"
            "sub = Collection('db_tools', a_b)\nns = Collection(a_b)\n"
            "ns.add_task(hidden, name='shown')\nns.add_collection(sub)\nns.add_task(a_b, 'again')\n",
            ["a-b", "again", "db-tools.a-b", "shown"],
        ),
        (
            "from invoke import Collection, task\n@task\ndef a(c): ...\n"
            "namespace = Collection(first=a, sub=Collection('x', a))\n",
            ["first", "sub.a"],
        ),
        (  # an empty ns is falsy to invoke: the module's tasks count
            "from invoke import Collection, task\n@task\ndef a(c): ...\nns = Collection()\n",
            ["a"],
        ),
        ("exec('from invoke import task\\n@task\\ndef hidden(c): ...')\n", ["hidden"]),
    ],
)
def test_the_scan_names_tasks_as_invoke_does(tmp_path: Path, text: str, names: list[str]) -> None:
    assert scanned(tmp_path, text) == names


@pytest.mark.parametrize(
    "text, why",
    [
        ("from helpers import act\n", "line 1: imported from helpers"),
        ("from helpers import *\n", "line 1: from helpers import *"),
        (
            "import functools\n@functools.cache\ndef act(c): ...\n",
            "line 3: act is decorated with @functools.cache, which sop cannot follow",
        ),
        (
            "from invoke import Collection\nns = Collection.from_module(x)\n",
            "line 2: Collection.from_module",
        ),
        ("import sys\nsys.modules[__name__].act = 1\n", "line 2: sys.modules"),
        ("setattr(x, 'act', 1)\n", "line 1: setattr()"),
        ("def __getattr__(name): ...\n", "line 1: a module __getattr__"),
    ],
)
def test_the_scan_says_what_it_cannot_tell(tmp_path: Path, text: str, why: str) -> None:
    path = tmp_path / "tasks.py"
    path.write_text(text)
    scan = scan_tasks(path)
    assert (scan.find("act"), scan.doubt("act")) == (None, why)
