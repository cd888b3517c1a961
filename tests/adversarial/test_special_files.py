"""Files that are not what their names say: a symlink to `/dev/zero` or `/dev/urandom`, a FIFO
nobody writes to, a UNIX socket, a directory, a file one byte over the limit. Every reader of a
file from a library or a path sop is given (sop/files.py) refuses each with a located error,
at once: it never blocks in `open`, never reads without end. sop runs as a child process with
a timeout, so a hang fails the one test, not the suite."""

from __future__ import annotations

import os
import resource
import socket
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from sop.files import MIB, FileReadError, read_regular_file

from .conftest import Attack

TIMEOUT = 10  # seconds; each of these refusals takes milliseconds


def _dev_zero(path: Path) -> None:
    path.symlink_to("/dev/zero")


def _dev_urandom(path: Path) -> None:
    path.symlink_to("/dev/urandom")


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _symlink_to_fifo(path: Path) -> None:
    os.mkfifo(path.with_name(path.name + ".fifo"))
    path.symlink_to(path.name + ".fifo")


def _directory(path: Path) -> None:
    path.mkdir()


def _socket(path: Path) -> None:
    here = os.getcwd()
    os.chdir(path.parent)  # a socket's path must be short; bind relative to its folder
    try:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.bind(path.name)
    finally:
        os.chdir(here)


SPECIAL: dict[str, tuple[Callable[[Path], None], str]] = {
    "symlink-to-dev-zero": (_dev_zero, "not a regular file (a character device)"),
    "symlink-to-dev-urandom": (_dev_urandom, "not a regular file (a character device)"),
    "fifo-without-writer": (_fifo, "not a regular file (a FIFO)"),
    "symlink-to-fifo": (_symlink_to_fifo, "not a regular file (a FIFO)"),
    "directory": (_directory, "not a regular file (a directory)"),
    "unix-socket": (_socket, "not a regular file (a socket)"),
}
KINDS = pytest.mark.parametrize("kind", SPECIAL)


def plant(path: Path, kind: str) -> str:
    """Put a `kind` at `path`; the reason sop must give for refusing it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    make, reason = SPECIAL[kind]
    make(path)
    return reason


def over_the_limit(path: Path, limit: int = MIB) -> None:
    """A valid YAML (or Python) file of `limit` + 1 bytes: comment lines only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"#" * limit + b"\n")


OK_SOP = "steps:\n  - id: hello\n    run: touch @PWNED@\n"


# --- SOP files -------------------------------------------------------------------------------


@KINDS
def test_an_sop_path_that_is_not_a_regular_file_is_refused_by_run(
    attack: Attack, kind: str
) -> None:
    reason = plant(attack.path / "x.yaml", kind)
    result = attack.sop("run", "--yes", "x.yaml", timeout=TIMEOUT)
    assert (result.returncode, result.stdout, result.stderr) == (1, "", f"x.yaml: {reason}\n")
    attack.assert_nothing_ran()


@KINDS
def test_a_special_file_in_runbooks_is_named_by_lint_and_list(attack: Attack, kind: str) -> None:
    attack.write(OK_SOP, "runbooks/good.yaml", "good")
    reason = plant(attack.path / "runbooks" / "x.yaml", kind)
    lint = attack.sop("lint", timeout=TIMEOUT)
    if kind == "directory":  # a folder named x.yaml is a folder of SOPs (an empty one)
        assert (lint.returncode, lint.stdout) == (0, "")
        return
    assert (lint.returncode, lint.stdout) == (1, f"runbooks/x.yaml: {reason}\n")
    listing = attack.sop("list", timeout=TIMEOUT)
    assert listing.returncode == 1
    assert "good" in listing.stdout
    assert listing.stderr == (
        "sop: error: 1 file(s) failed to load (run `sop lint`): runbooks/x.yaml\n"
    )


@KINDS
def test_an_sop_found_by_id_that_is_not_a_regular_file_is_named(attack: Attack, kind: str) -> None:
    reason = plant(attack.path / "runbooks" / "x.yaml", kind)
    result = attack.sop("show", "x", timeout=TIMEOUT)
    assert (result.returncode, result.stderr) == (1, f"runbooks/x.yaml: {reason}\n")


def test_an_sop_one_byte_over_the_limit_is_refused(attack: Attack) -> None:
    over_the_limit(attack.path / "x.yaml")
    result = attack.sop("run", "--yes", "x.yaml", timeout=TIMEOUT)
    assert (result.returncode, result.stderr) == (
        1,
        "x.yaml:1:1: file is 1.0 MB; sop reads YAML files up to 1 MiB\n",
    )


def test_an_sop_exactly_at_the_limit_is_read(attack: Attack) -> None:
    text = attack.text(OK_SOP).replace(str(attack.pwned), "/dev/null").encode()
    path = attack.path / "x.yaml"
    path.write_bytes(text + b"#" * (MIB - len(text) - 1) + b"\n")
    assert path.stat().st_size == MIB
    result = attack.sop("lint", "x.yaml", timeout=TIMEOUT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_symlink_to_a_regular_sop_in_the_library_is_read(attack: Attack) -> None:
    """Libraries use symlinks to share an SOP: following one to a regular file is fine."""
    real = attack.write(OK_SOP, "shared/real.yaml", "linked")
    (attack.path / "runbooks").mkdir()
    (attack.path / "runbooks" / "linked.yaml").symlink_to(real)
    result = attack.sop("lint", timeout=TIMEOUT)
    assert (result.returncode, result.stdout) == (0, ""), result.stderr


# --- inventories, scenarios, tasks files, templates, secret files --------------------------


@KINDS
def test_an_inventory_that_is_not_a_regular_file_is_an_error_not_no_inventory(
    attack: Attack, kind: str
) -> None:
    sop = attack.write(OK_SOP)
    reason = plant(attack.path / "inventory.yaml", kind)
    result = attack.sop("run", "--dry-run", attack.name(sop), timeout=TIMEOUT)
    assert (result.returncode, result.stdout, result.stderr) == (
        1,
        "",
        f"attack.yaml: inventory: inventory.yaml: {reason}\n",
    )


def test_an_inventory_over_the_limit_is_refused(attack: Attack) -> None:
    sop = attack.write(OK_SOP)
    over_the_limit(attack.path / "inventory.yaml")
    result = attack.sop("run", "--dry-run", attack.name(sop), timeout=TIMEOUT)
    assert (result.returncode, result.stderr) == (
        1,
        "attack.yaml: inventory: inventory.yaml:1:1: file is 1.0 MB; "
        "sop reads YAML files up to 1 MiB\n",
    )


@KINDS
def test_a_scenario_that_is_not_a_regular_file_is_refused(attack: Attack, kind: str) -> None:
    reason = plant(attack.path / "runbooks" / "scenarios" / "x.yaml", kind)
    result = attack.sop("tabletop", "runbooks/scenarios/x.yaml", timeout=TIMEOUT, stdin="")
    assert (result.returncode, result.stderr) == (1, f"runbooks/scenarios/x.yaml: {reason}\n")
    if kind != "directory":
        lint = attack.sop("lint", timeout=TIMEOUT)
        assert f"runbooks/scenarios/x.yaml: {reason}\n" in lint.stdout


# a tasks file's path is resolved first: a symlink leading out of the SOP's folder, or to a
# file that is not .py, is refused for that before its kind is looked at
TASKS_REFUSAL = {
    "symlink-to-dev-zero": "is outside the SOP's folder; keep tasks beside the SOP",
    "symlink-to-dev-urandom": "is outside the SOP's folder; keep tasks beside the SOP",
    "symlink-to-fifo": "is not a Python file (.py)",
}


@KINDS
def test_a_tasks_file_that_is_not_a_regular_file_is_a_schema_error(
    attack: Attack, kind: str
) -> None:
    reason = plant(attack.path / "tasks.py", kind)
    attack.write("tasks: tasks.py\nsteps:\n  - id: t\n    task: hello\n")
    result = attack.sop("lint", "attack.yaml", timeout=TIMEOUT)
    refusal = TASKS_REFUSAL.get(kind, f"is {reason}")
    assert (result.returncode, result.stdout) == (
        1,
        f"attack.yaml:6:1: tasks: 'tasks.py' {refusal}\n",
    )


def in_child(code: str, path: Path) -> str:
    """Run `code` (Python; `path` is bound) in a child interpreter limited to TIMEOUT seconds
    and 512 MiB of memory, so a reader that blocks or reads without end fails this test only.
    What the code raised, as `Type: message`, or what it printed."""
    script = (
        "import sys\nfrom pathlib import Path\npath = Path(sys.argv[1])\n"
        f"try:\n    {code}\nexcept Exception as exc:\n    print(f'{{type(exc).__name__}}: {{exc}}')"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(path)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        preexec_fn=_limit_memory,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (512 * MIB, 512 * MIB))


@KINDS
def test_the_task_importer_refuses_a_tasks_file_swapped_for_a_special_file(
    tmp_path: Path, kind: str
) -> None:
    """A tasks file replaced after the SOP loaded (the loader checked it then)."""
    path = tmp_path / "tasks.py"
    reason = plant(path, kind)
    load = "from sop.executors.tasks import load_tasks; load_tasks(path)"
    assert in_child(load, path) == f"TaskLoadError: {path}: {reason}\n"
    docstring = "from sop.render.docstrings import task_docstring; print(repr(task_docstring(path, 'hello')))"
    assert in_child(docstring, path) == "''\n"


def test_the_task_importer_refuses_a_tasks_file_over_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "tasks.py"
    over_the_limit(path)
    load = "from sop.executors.tasks import load_tasks; load_tasks(path)"
    assert in_child(load, path) == (
        f"TaskLoadError: {path}:1:1: file is 1.0 MB; sop reads tasks files up to 1 MiB\n"
    )


@KINDS
def test_a_template_override_that_is_not_a_regular_file_is_refused(
    attack: Attack, kind: str
) -> None:
    attack.write(OK_SOP)
    reason = plant(attack.path / "templates" / "html" / "page.html", kind)
    result = attack.sop(
        "render", "attack.yaml", "--format", "html", "--out", "out", "--templates", "templates",
        timeout=TIMEOUT,
    )  # fmt: skip
    if kind.startswith("symlink-to-dev"):  # leads outside the folder: not an override at all
        assert (result.returncode, result.stderr) == (0, "1 SOP(s) rendered: 2 file(s) in out\n")
        assert "<title>Attack" in (attack.path / "out" / "attack.html").read_text()
        return
    assert (result.returncode, result.stderr) == (
        1,
        f"sop: error: templates/html/page.html: {reason}\n",
    )
    assert not (attack.path / "out").exists()


def test_a_template_override_over_the_limit_is_refused(attack: Attack) -> None:
    attack.write(OK_SOP)
    over_the_limit(attack.path / "templates" / "html" / "page.html")
    result = attack.sop(
        "render", "attack.yaml", "--format", "html", "--out", "out", "--templates", "templates",
        timeout=TIMEOUT,
    )  # fmt: skip
    assert (result.returncode, result.stderr) == (
        1,
        "sop: error: templates/html/page.html:1:1: file is 1.0 MB; "
        "sop reads templates up to 1 MiB\n",
    )


SECRET_SOP = """\
inputs:
  token: {help: API token, secret: true}
steps:
  - id: use
    run: touch @PWNED@
"""


@KINDS
def test_a_secret_file_that_is_not_a_regular_file_is_refused(attack: Attack, kind: str) -> None:
    sop = attack.write(SECRET_SOP)
    reason = plant(attack.path / "token", kind)
    result = attack.sop(
        "run", "--yes", attack.name(sop), "--secret-file", "token=token", timeout=TIMEOUT
    )
    assert (result.returncode, result.stdout, result.stderr) == (
        1,
        "",
        f"sop: error: input 'token': token: {reason}\n",
    )
    attack.assert_nothing_ran()


def test_a_secret_file_over_64_kib_is_refused(attack: Attack) -> None:
    sop = attack.write(SECRET_SOP)
    over_the_limit(attack.path / "token", 64 * 1024)
    result = attack.sop(
        "run", "--yes", attack.name(sop), "--secret-file", "token=token", timeout=TIMEOUT
    )
    assert (result.returncode, result.stderr) == (
        1,
        "sop: error: input 'token': token:1:1: file is 0.1 MB; sop reads secret files up to 64 KiB\n",
    )
    attack.assert_nothing_ran()


# --- the reader itself -------------------------------------------------------------------------


@KINDS
def test_the_reader_refuses_without_blocking(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "x"
    reason = plant(path, kind)
    read = "from sop.files import MIB, read_regular_file; read_regular_file(path, MIB, 'x')"
    assert in_child(read, path) == f"FileReadError: x: {reason}\n"


def test_a_file_whose_size_lies_is_read_only_up_to_the_limit() -> None:
    """Files in /proc say they are empty and are not: the reader stops at limit + 1 bytes."""
    path = Path("/proc/self/maps")
    assert path.stat().st_size == 0 and stat.S_ISREG(path.stat().st_mode)
    with pytest.raises(FileReadError) as caught:
        read_regular_file(path, 16, "maps", "maps")
    assert str(caught.value) == "maps:1:1: file is 0.0 MB; sop reads maps up to 16 bytes"


def test_a_file_swapped_between_the_look_and_the_open_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What is read is what was looked at: the descriptor's inode must be the path's."""
    path = tmp_path / "x.yaml"
    path.write_text("a: 1\n")
    real_open = os.open

    def swap_then_open(name: object, flags: int, *args: object) -> int:
        os.replace(tmp_path / "other", path)
        return real_open(name, flags, *args)  # type: ignore[arg-type]

    (tmp_path / "other").write_text("b: 2\n")
    monkeypatch.setattr(os, "open", swap_then_open)
    with pytest.raises(FileReadError) as caught:
        read_regular_file(path, MIB, "x.yaml")
    assert str(caught.value) == "x.yaml: the file changed while it was opened; try again"


def test_a_symlink_where_sop_expects_its_own_file_is_refused(tmp_path: Path) -> None:
    """Files sop wrote itself (a run's audit log) are read without following a link."""
    (tmp_path / "elsewhere.jsonl").write_text("{}\n")
    link = tmp_path / "audit.jsonl"
    link.symlink_to(tmp_path / "elsewhere.jsonl")
    assert read_regular_file(link, MIB) == b"{}\n"
    with pytest.raises(FileReadError) as caught:
        read_regular_file(link, MIB, "audit.jsonl", follow_symlinks=False)
    assert str(caught.value) == "audit.jsonl: a symbolic link, where sop expects its own file"


# --- a run's own files: the audit log, state.json, the verification key -----------------------

RESUMABLE = """\
steps:
  - id: first
    run: echo safe-file
    capture: target
  - id: second
    confirm: always
    run: touch @PWNED@
"""
RUN_KINDS = pytest.mark.parametrize(
    "kind", ["symlink-to-dev-zero", "fifo-without-writer", "directory", "unix-socket"]
)


def stopped_run(attack: Attack) -> Path:
    """A run that stopped before step `second` (`--yes` does not confirm it): its folder."""
    result = attack.sop("run", "--yes", attack.name(attack.write(RESUMABLE)), timeout=TIMEOUT)
    assert result.returncode == 1, result.stderr
    (run_dir,) = (attack.state / "runs").iterdir()
    return run_dir


def replace(path: Path, kind: str) -> str:
    path.unlink()
    reason = plant(path, kind)
    return (
        "a symbolic link, where sop expects its own file" if kind.startswith("symlink") else reason
    )


@RUN_KINDS
def test_resume_refuses_an_audit_log_that_is_not_a_regular_file(attack: Attack, kind: str) -> None:
    run_dir = stopped_run(attack)
    reason = replace(run_dir / "audit.jsonl", kind)
    result = attack.sop("resume", "--yes", "--confirm", "second", run_dir.name, timeout=TIMEOUT)
    assert (result.returncode, result.stderr) == (
        1,
        f"sop: error: {run_dir / 'audit.jsonl'}: {reason}\n",
    )
    attack.assert_nothing_ran()


@RUN_KINDS
def test_resume_refuses_a_state_file_that_is_not_a_regular_file(attack: Attack, kind: str) -> None:
    run_dir = stopped_run(attack)
    reason = replace(run_dir / "state.json", kind)
    result = attack.sop("resume", "--yes", "--confirm", "second", run_dir.name, timeout=TIMEOUT)
    assert (result.returncode, result.stderr) == (
        1,
        f"sop: error: {run_dir / 'state.json'}: {reason}\n",
    )
    attack.assert_nothing_ran()


@KINDS
def test_verify_and_report_refuse_a_log_that_is_not_a_regular_file(
    attack: Attack, kind: str
) -> None:
    reason = plant(attack.path / "audit.jsonl", kind)
    if kind == "directory":  # a folder is taken as a run folder, which it is not
        return
    verify = attack.sop("audit", "verify", "audit.jsonl", timeout=TIMEOUT)
    assert (verify.returncode, verify.stderr) == (1, f"sop: error: audit.jsonl: {reason}\n")
    if kind.startswith("symlink"):  # the typed reader opens no link, as for a run's own log
        reason = "a symbolic link, where sop expects its own file"
    for command in (("audit", "show"), ("report",)):
        result = attack.sop(*command, "audit.jsonl", timeout=TIMEOUT)
        assert (result.returncode, result.stderr) == (1, f"sop: error: audit.jsonl: {reason}\n")


@KINDS
def test_a_key_that_is_not_a_regular_file_is_refused(attack: Attack, kind: str) -> None:
    """Looked at without opening it, and refused: the key folder holds sop's own files only
    (docs/audit.md)."""
    run_dir = stopped_run(attack)
    key = attack.keys / f"{run_dir.name}.key"
    reason = replace(key, kind)
    result = attack.sop("audit", "verify", run_dir.name, timeout=TIMEOUT)
    assert (result.returncode, result.stderr) == (1, f"sop: error: {key}: {reason}\n")
