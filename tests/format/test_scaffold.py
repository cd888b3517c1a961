"""`sop init`: the library it writes is the package's example, lints clean and drills green,
and no file that exists is ever touched."""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import yaml
from click.testing import CliRunner

from sop.cli import cli
from sop.format.scaffold import example_library
from sop.format.schema import json_schema
from tests.conftest import REPO

SOP = Path(sys.executable).parent / "sop"
TODAY = dt.date.today().isoformat()
LIBRARY = [
    ".pre-commit-config.yaml",
    ".vscode/settings.json",
    ".vscode/sop.schema.json",
    "runbooks/demo.yaml",
    "runbooks/inventory.yaml",
    "runbooks/tasks.py",
]


def init(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["init", *args])
    return result.exit_code, result.stdout, result.stderr


def sop(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "SOP_STATE_DIR": str(cwd / ".state"),
        "SOP_AUDIT_KEYS": str(cwd / ".keys"),
        "COLUMNS": "200",
    }
    env.pop("SOP_PATH", None)
    return subprocess.run([str(SOP), *args], capture_output=True, text=True, env=env, cwd=cwd)


def files(root: Path) -> list[str]:
    return sorted(
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    )


def test_init_writes_the_example_library(in_tmp: Path) -> None:
    code, out, err = init("lib")
    assert code == 0, err
    assert out.splitlines() == [f"created lib/{name}" for name in LIBRARY]
    assert err == "next: cd lib && sop lint && sop drill demo --yes && sop run demo\n"
    lib = in_tmp / "lib"
    assert files(lib) == LIBRARY
    demo = (REPO / "runbooks" / "demo.yaml").read_text()
    assert (lib / "runbooks/demo.yaml").read_text() == re.sub(
        r"(?m)^reviewed: .*$", f"reviewed: {TODAY}", demo
    )
    assert "scenarios:\n  log-comes-back:" in demo
    assert json.loads((lib / ".vscode/sop.schema.json").read_text()) == json_schema()
    assert json.loads((lib / ".vscode/settings.json").read_text()) == {
        "yaml.schemas": {
            "./.vscode/sop.schema.json": [
                "runbooks/**/*.yaml",
                "runbooks/**/*.yml",
                "!runbooks/**/inventory.y*ml",
                "!runbooks/**/scenarios/**",
            ]
        }
    }


def test_init_here_by_default(in_tmp: Path) -> None:
    code, _, err = init()
    assert code == 0
    assert files(in_tmp) == LIBRARY
    assert err == "next: sop lint && sop drill demo --yes && sop run demo\n"


def test_init_never_overwrites_and_says_what_it_skipped(in_tmp: Path) -> None:
    (in_tmp / "runbooks").mkdir()
    (in_tmp / "runbooks/inventory.yaml").write_text("hosts: {db-1: {address: db-1}}\n")
    (in_tmp / "elsewhere.py").write_text("# mine\n")
    (in_tmp / "runbooks/tasks.py").symlink_to(in_tmp / "elsewhere.py")
    (in_tmp / ".vscode").mkdir()
    (in_tmp / ".vscode/settings.json").symlink_to(in_tmp / "missing.json")  # dangling
    code, out, _ = init(".")
    assert code == 0
    assert out.splitlines() == [
        "created .pre-commit-config.yaml",
        "created .vscode/sop.schema.json",
        "created runbooks/demo.yaml",
        "skipped .vscode/settings.json (exists; left as it is)",
        "skipped runbooks/inventory.yaml (exists; left as it is)",
        "skipped runbooks/tasks.py (exists; left as it is)",
    ]
    assert (in_tmp / "runbooks/inventory.yaml").read_text() == "hosts: {db-1: {address: db-1}}\n"
    assert (in_tmp / "elsewhere.py").read_text() == "# mine\n"
    assert not (in_tmp / "missing.json").exists()
    code, out, _ = init(".")  # again: everything is there now
    assert code == 0 and all(line.startswith("skipped ") for line in out.splitlines())


def test_init_into_a_file_is_an_error(in_tmp: Path) -> None:
    (in_tmp / "lib").write_text("")
    assert init("lib")[0] == 2  # click: DIR must be a folder
    (in_tmp / "runbooks").write_text("")
    code, _, err = init(".")
    assert code == 1
    assert err == "sop: error: cannot make the folder runbooks: File exists\n"


def test_the_new_library_lints_clean_and_drills_green(in_tmp: Path) -> None:
    assert init("lib")[0] == 0
    lib = in_tmp / "lib"
    lint = sop(lib, "lint", "--strict")
    assert (lint.returncode, lint.stdout) == (0, ""), lint.stdout
    assert lint.stderr == "1 file(s) checked: 0 error(s), 0 warning(s)\n"
    for scenario in ((), ("--scenario", "log-comes-back")):
        drill = sop(lib, "drill", "demo", "--yes", "--pace", "0", *scenario)
        assert drill.returncode == 0, drill.stdout + drill.stderr
        assert "Run success" in drill.stdout
    retried = sop(lib, "drill", "demo", "--yes", "--pace", "0", "--scenario", "log-comes-back")
    assert "Failed; trying again in 1s (2 of 2 retries)." in retried.stdout


def test_the_pre_commit_hook_is_sops_own(in_tmp: Path) -> None:
    assert init()[0] == 0
    (ours,) = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    (repo,) = yaml.safe_load((in_tmp / ".pre-commit-config.yaml").read_text())["repos"]
    (hook,) = repo["hooks"]
    assert repo["repo"] == "local" and hook["language"] == "system"
    for key in ("id", "name", "entry", "files", "pass_filenames", "require_serial"):
        assert hook[key] == ours[key], key
    assert "exclude" not in hook
    chosen = [name for name in files(in_tmp) if re.search(hook["files"], name)]
    assert "runbooks/demo.yaml" in chosen
    run = sop(in_tmp, *hook["entry"].split()[1:])  # no file names: the whole library
    assert run.returncode == 0, run.stdout


def test_the_example_task_runs(in_tmp: Path) -> None:
    from invoke import Config, Context

    assert init()[0] == 0
    spec = importlib.util.spec_from_file_location("example_tasks", in_tmp / "runbooks/tasks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    report = module.disk_report(
        Context(Config(overrides={"run": {"in_stream": False}})), path=str(in_tmp)
    )
    assert report.splitlines()[0].startswith("Filesystem")
    assert len(report.splitlines()) == 2


def test_the_package_carries_the_example_library() -> None:
    """What `sop init` copies is the installed package's data (scripts/test-installed runs
    these tests against the wheel)."""
    example = Path(str(example_library()))
    assert files(example) == [n for n in LIBRARY if not n.startswith(".vscode/")]
    assert (example / "runbooks/demo.yaml").read_text() == (REPO / "runbooks/demo.yaml").read_text()
