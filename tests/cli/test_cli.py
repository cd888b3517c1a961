"""The command line, called as a user would: exit codes, output, and what it imports."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from sop.cli import cli
from sop.errors import ExitCode
from sop.format.discovery import load_library
from sop.format.yamlnodes import Map, Node, Scalar, Seq, decode, parse
from tests.conftest import MINIMAL, REPO


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def reviewed_today(text: str) -> str:
    """MINIMAL reviewed today: the CLI lints against the real date, and a review date older
    than 180 days is a warning."""
    return text.replace("reviewed: 2026-11-01", f"reviewed: {dt.date.today()}")


def test_lint_clean_library_exits_0() -> None:
    """The library has no errors; once its reviews are 180 days old the only warnings say so
    (test_lint.py checks it is spotless on a fixed date)."""
    code, out, err = invoke("lint", str(REPO / "runbooks"))
    assert code == 0
    assert all("reviewed: warning: last reviewed" in line for line in out.splitlines()), out
    assert err.endswith(f"file(s) checked: 0 error(s), {len(out.splitlines())} warning(s)\n")


def test_lint_broken_file_exits_1_with_located_errors(write: Callable[..., Path]) -> None:
    write(MINIMAL.replace("run: echo hello", "rnu: echo hello"))
    code, out, err = invoke("lint", "sop.yaml")
    assert code == 1
    assert out == (
        "sop.yaml:7:5: steps[0]: a step needs one of: prose, run, script, task, call, decide\n"
        "sop.yaml:8:5: steps[0].rnu: unknown key; did you mean 'run'?\n"
    )
    assert err == "1 file(s) checked: 2 error(s), 0 warning(s)\n"


def test_lint_strict_fails_on_warnings_and_json_is_for_machines(write: Callable[..., Path]) -> None:
    write(reviewed_today(MINIMAL).replace("owner: team\n", ""))
    assert invoke("lint", "sop.yaml")[0] == 0
    assert invoke("lint", "--strict", "sop.yaml")[0] == 1
    code, out, _ = invoke("lint", "--format", "json", "sop.yaml")
    assert code == 0
    assert json.loads(out) == {
        "files": 1,
        "errors": 0,
        "warnings": 1,
        "problems": [
            {
                "file": "sop.yaml",
                "line": 1,
                "col": 1,
                "path": "owner",
                "severity": "warning",
                "code": "metadata",
                "message": "no owner: who keeps this SOP true?",
            }
        ],
    }


def test_lint_missing_path_is_an_error(in_tmp: Path) -> None:
    assert invoke("lint", "nowhere") == (1, "", "sop: error: nowhere: no such file or folder\n")


def test_usage_error_exits_2() -> None:
    code, _, err = invoke("lint", "--format", "xml")
    assert code == 2
    assert "Invalid value for '--format'" in err


def test_list_with_filters(write: Callable[..., Path]) -> None:
    write(
        MINIMAL.replace("owner: team", "owner: team\nphase: detect\ntags: [disk]"),
        "runbooks/a.yaml",
    )
    write(
        MINIMAL.replace("id: minimal", "id: other").replace("title: Minimal", "title: Other"),
        "runbooks/b.yaml",
    )
    write("hosts: {}\n", "runbooks/inventory.yaml")
    code, out, _ = invoke("list")
    assert code == 0
    assert out == (
        "ID       TITLE    PHASE   OWNER  REVIEWED\n"
        "minimal  Minimal  detect  team   2026-11-01\n"
        "other    Other            team   2026-11-01\n"
    )
    assert invoke("list", "--tag", "disk")[1].splitlines()[1:] == [
        "minimal  Minimal  detect  team   2026-11-01"
    ]
    assert invoke("list", "--phase", "respond") == (0, "", "no SOP matches\n")
    rows = json.loads(invoke("list", "--format", "json", "--owner", "team")[1])
    assert [r["id"] for r in rows] == ["minimal", "other"]


def test_list_reports_broken_files(write: Callable[..., Path]) -> None:
    write(MINIMAL, "runbooks/good.yaml")
    write("sop: [\n", "runbooks/bad.yaml")
    code, out, err = invoke("list")
    assert code == 1
    assert "minimal" in out
    assert err == "sop: error: 1 file(s) failed to load (run `sop lint`): runbooks/bad.yaml\n"


def test_sop_path_finds_sops_by_id(
    write: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    write(MINIMAL.replace("id: minimal", "id: renamed"), "lib/whatever.yaml")
    monkeypatch.setenv("SOP_PATH", "lib")
    code, out, _ = invoke("show", "renamed")
    assert code == 0
    assert "echo hello" in out
    assert invoke("show", "absent") == (
        1,
        "",
        "sop: error: no SOP with id 'absent' in lib (give a path, or set SOP_PATH)\n",
    )


def test_show_and_run_refuse_an_id_that_two_files_have(write: Callable[..., Path]) -> None:
    write(MINIMAL, "runbooks/minimal.yaml")
    write(MINIMAL.replace("echo hello", "echo other"), "runbooks/team/copy.yaml")
    message = (
        "sop: error: SOP id 'minimal' is ambiguous: runbooks/minimal.yaml and "
        "runbooks/team/copy.yaml both have it; give the path of the one you mean, and give each "
        "SOP its own id (sop lint)\n"
    )
    assert invoke("show", "minimal") == (2, "", message)
    assert invoke("run", "minimal", "--dry-run")[::2] == (2, message)
    code, out, _ = invoke("show", "runbooks/team/copy.yaml")
    assert (code, "echo other" in out) == (0, True)


def test_a_dry_run_fails_where_the_real_run_fails(write: Callable[..., Path]) -> None:
    """A template that parses but fails to render (lint cannot see it): the dry run stops at
    that step and exits 1, as the real run does, and runs nothing after it."""
    write(MINIMAL.replace("echo hello", 'echo {{ "a" + 1 }}') + "  - run: touch ran\n")
    failed = "step 1 (hello) failed: template failed: TypeError: can only concatenate str"
    for mode in ("--dry-run", "--yes"):
        code, out, _ = invoke("run", "sop.yaml", mode)
        assert code == 1, (mode, out)
        assert "Run failure" in out and failed in " ".join(out.split()), (mode, out)
        assert not Path("ran").exists()


def test_show_prints_the_checklist_and_runs_nothing(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(REPO)
    code, out, _ = invoke("show", "disk-full")
    assert code == 0
    for text in (
        "Root filesystem almost full",
        "Diagnosis",
        "1. Look at the disk dashboard",
        "du -xh --max-depth=2 {{ mount }}",
        "invoke task rotate_logs(keep=3)",
        "R1.",
        "Tell #ops",
    ):
        assert text in out


def test_show_marks_the_step_that_takes_the_terminal(write: Callable[..., Path]) -> None:
    write(
        "sop: 1\nid: x\ntitle: X\nsteps:\n"
        "  - {id: top, title: Watch top, run: top, interactive: true, confirm: never}\n"
        "  - {id: uptime, run: uptime}\n"
    )
    code, out, _ = invoke("show", "sop.yaml")
    assert code == 0
    assert "1. Watch top (run; confirm never; interactive: takes your terminal)" in out
    assert out.count("interactive") == 1


def test_show_and_a_dry_run_say_where_an_answer_that_names_no_section_leads(
    write: Callable[..., Path],
) -> None:
    from tests.run.test_decisions import NONE_APPLY

    write(NONE_APPLY)
    code, out, _ = invoke("show", "sop.yaml")
    assert code == 0
    assert "  • none of these → on, no section\n  • disk → Disk\n" in out
    code, out, _ = invoke("run", "sop.yaml", "--dry-run")
    assert code == 0
    assert " • none of these → on, no section " in out


def test_show_of_a_broken_sop_executes_nothing(write: Callable[..., Path], in_tmp: Path) -> None:
    marker = in_tmp / "pwned"
    write(f"sop: 1\nid: x\ntitle: !!python/object/apply:os.system ['touch {marker}']\nsteps: []\n")
    code, out, err = invoke("show", "sop.yaml")
    assert (code, out) == (1, "")
    assert err.startswith("sop.yaml:3:8: unsupported tag '!!python/object/apply:os.system'")
    assert not marker.exists()


def plain(node: Node) -> object:
    """A node tree as plain JSON-like data (what an editor's YAML 1.2 parser would see)."""
    if isinstance(node, Map):
        return {k: plain(v) for k, v in node.entries.items()}
    if isinstance(node, Seq):
        return [plain(v) for v in node.items]
    assert isinstance(node, Scalar)
    return node.value


def test_schema_is_valid_2020_12_and_validates_every_example() -> None:
    code, out, _ = invoke("schema")
    assert code == 0
    schema = json.loads(out)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    library = load_library([REPO / "runbooks"])
    assert library.problems == () and len(library.sops) >= 2
    for sop in library.sops:
        data = plain(parse(decode(sop.path.read_bytes(), str(sop.path)), str(sop.path)))  # type: ignore[arg-type]
        errors = [e.message for e in validator.iter_errors(data)]
        assert errors == [], sop.path


def test_schema_rejects_what_the_loader_rejects() -> None:
    schema = json.loads(invoke("schema")[1])
    validator = jsonschema.Draft202012Validator(schema)
    base = {"sop": 1, "id": "x", "title": "X", "steps": [{"run": "true"}]}
    assert validator.is_valid(base)
    for bad_step in (
        {"run": "a", "task": "b"},
        {"rnu": "a"},
        {"prose": "a", "args": {}},
        {"confirm": "auto"},
        {"prose": "a", "timeout": "5m"},
        {"call": "b", "confirm": "always"},
        {"task": "t", "stdin": "x"},
    ):
        assert not validator.is_valid({**base, "steps": [bad_step]}), bad_step
    for good_step in ({"run": "a", "timeout": "5m", "stdin": "x"}, {"task": "t", "args": {}}):
        assert validator.is_valid({**base, "steps": [good_step]}), good_step


def test_the_schema_marks_the_key_a_step_kind_refuses_as_lint_does() -> None:
    """The per-kind rules are if/then, generated from the declarations: the error is at the
    key that does not belong, where the loader puts it."""
    from sop.format.schema import ONLY_WITH, STEP_KINDS

    schema = json.loads(invoke("schema")[1])
    validator = jsonschema.Draft202012Validator(schema)

    def refused(errors: Iterable[jsonschema.ValidationError]) -> Iterator[str]:
        """The messages of keys refused by `key: false`, in any branch of an anyOf."""
        for e in errors:
            if e.message.startswith("False schema does not allow"):
                yield e.message
            yield from refused(e.context or ())

    for kind in STEP_KINDS:
        for key, needs in ONLY_WITH.items():
            step = {kind: "x", key: f"value of {key}"}
            sop = {"sop": 1, "id": "x", "title": "X", "steps": [step]}
            messages = list(refused(validator.iter_errors(sop)))
            kinds = (needs,) if isinstance(needs, str) else needs
            expected = [] if kind in kinds else [f"False schema does not allow 'value of {key}'"]
            assert messages == expected, (kind, key)


def test_the_inventory_schema_validates_every_inventory_and_no_sop() -> None:
    code, out, _ = invoke("schema", "--inventory")
    assert code == 0
    schema = json.loads(out)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    inventories = sorted(REPO.glob("runbooks/**/inventory.y*ml"))
    assert inventories
    for path in inventories:
        data = plain(parse(decode(path.read_bytes(), str(path)), str(path)))  # type: ignore[arg-type]
        assert [e.message for e in validator.iter_errors(data)] == [], path
    ansible = {"all": {"hosts": {"web1": None}, "children": {"db": {"hosts": {"db1": {}}}}}}
    assert validator.is_valid(ansible)
    assert not validator.is_valid({"hosts": {"web1": {"prot": 22}}})
    assert not validator.is_valid({"all": {"hots": {}}})
    sop_schema = json.loads(invoke("schema")[1])
    for path in inventories:  # what an editor reported before each file had its own schema
        data = plain(parse(decode(path.read_bytes(), str(path)), str(path)))  # type: ignore[arg-type]
        assert not jsonschema.Draft202012Validator(sop_schema).is_valid(data)
    assert invoke("schema", "--inventory", "--tabletop")[::2] == (
        2,
        "sop: error: --tabletop and --inventory: one schema at a time\n",
    )


def test_ctrl_c_outside_a_run_exits_130(monkeypatch: pytest.MonkeyPatch) -> None:
    from sop.tabletop.terminal import TerminalFacilitator

    def interrupt(self: TerminalFacilitator, prompt: str) -> str:
        raise KeyboardInterrupt

    monkeypatch.setattr(TerminalFacilitator, "ask", interrupt)
    scenario = REPO / "runbooks/scenarios/ransomware-monday-morning.yaml"
    code, _, err = invoke("tabletop", str(scenario), "--sops", str(REPO / "runbooks"))
    assert (code, err.splitlines()[-1]) == (130, "interrupted")


# and the TOML parser, which only a configuration file needs (this repository has none), and
# OpenTelemetry and protobuf, which only an OTLP export needs, and the HTTP client and TLS that
# only `sop publish` (and a run's notifications) use
HEAVY = (
    *("fabric", "invoke", "paramiko", "jinja2", "rich", "tomllib"),
    *("opentelemetry", "google.protobuf"),
    *("sop.publish", "urllib.request", "http.client", "ssl"),
)


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["list", str(REPO / "runbooks")],
        ["lint", "--help"],
        ["publish", "confluence", "--help"],
    ],
)
def test_light_commands_do_not_import_heavy_libraries(args: list[str]) -> None:
    code = (
        "import sys\nfrom sop.cli import cli\n"
        f"try:\n    cli.main(args={args!r}, prog_name='sop')\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules), file=sys.stderr)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True
    )
    assert proc.stderr.strip().splitlines()[-1] == "[]"


def test_python_dash_m_and_version() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "sop", "--version"], capture_output=True, text=True, check=True
    )
    assert proc.stdout.startswith("sop, version ")


def pre_commit_hook() -> dict[str, object]:
    import yaml

    (hook,) = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    assert isinstance(hook, dict)
    return hook


def test_pre_commit_hook_lints_the_whole_library_at_once() -> None:
    """Cross-file checks (duplicate ids, calls, targets) need every file: the hook takes no file
    names (so pre-commit never splits them into parallel batches) and runs for any change
    under runbooks/, the inventory and tasks files too."""
    import re

    hook = pre_commit_hook()
    assert {
        k: hook[k] for k in ("id", "entry", "language", "pass_filenames", "require_serial")
    } == {
        "id": "sop-lint",
        "entry": "sop lint --strict",
        "language": "python",
        "pass_filenames": False,
        "require_serial": True,
    }
    assert "exclude" not in hook
    files = str(hook["files"])
    changed = ["runbooks/demo.yaml", "runbooks/inventory.yaml", "runbooks/tasks.py"]
    changed += ["runbooks/scenarios/x.yaml", "runbooks/team/a.yml"]
    assert [
        f for f in [*changed, "docs/lint.md", "src/runbooks/x.yaml"] if re.search(files, f)
    ] == (changed)


def test_the_pre_commit_hook_command_finds_a_duplicate_id_in_another_file(
    write: Callable[..., Path],
) -> None:
    """As pre-commit runs it, from the repository's top, when only one file changed."""
    write(reviewed_today(MINIMAL), "runbooks/minimal.yaml")
    write(reviewed_today(MINIMAL), "runbooks/team/copy.yaml")
    command = str(pre_commit_hook()["entry"]).split()
    assert command[0] == "sop"
    assert invoke(*command[1:]) == (
        1,
        "runbooks/team/copy.yaml:2:1: id: duplicate SOP id 'minimal': runbooks/minimal.yaml:2:1 "
        "has it too; give each SOP its own id\n",
        "2 file(s) checked: 1 error(s), 0 warning(s)\n",
    )


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_shell_completion_scripts(shell: str) -> None:
    sop = Path(sys.executable).parent / "sop"
    proc = subprocess.run(
        [str(sop)],
        env={"_SOP_COMPLETE": f"{shell}_source", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert "_SOP_COMPLETE" in proc.stdout


def test_the_step_screen_says_which_exits_count_and_the_word_to_type(
    write: Callable[..., Path],
) -> None:
    """What the responder will be asked (the word at risk) and what counts as success (a
    diagnosis whose exit 3 is its finding) are on the step screen, in a dry run too."""
    write(
        reviewed_today(MINIMAL)
        + "    ok_exit: [0, 3]\n"
        + "  - id: deactivate\n"
        + "    run: echo deactivating {{ key_id }}\n"
        + '    confirm: {type: "{{ key_id }}"}\n'
        + "inputs:\n  key_id: {help: Access key id, default: AKIAEXAMPLE}\n"
    )
    code, out, err = invoke("run", "sop.yaml", "--dry-run")
    assert code == 0, err
    lines = [line.strip() for line in out.splitlines()]
    assert lines[lines.index("echo hello") + 1 :][:2] == [
        "on local",
        "exit 0 or 3 counts as success",
    ]
    assert "on local  (confirm: typed: you will type AKIAEXAMPLE)" in lines


def test_a_severity_outside_the_format_is_refused_by_name() -> None:
    code, _, err = invoke(
        "run", str(REPO / "runbooks" / "demo.yaml"), "--yes", "--severity", "sev9"
    )
    assert code == 2
    assert (
        "Invalid value for '--severity': 'sev9' is not one of sev1, sev2, sev3, sev4, sev5" in err
    )


# -- leaving: sop exits without the interpreter's teardown, losing nothing ---------------------


def _sop_process(prelude: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`sop ARGS` in a fresh interpreter (as the `sop` script calls it), after `prelude`."""
    program = f"import sys\n{prelude}\nsys.argv = ['sop', *{list(args)!r}]\nfrom sop.cli import main\nmain()\n"
    return subprocess.run(
        [sys.executable, "-c", program],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )


def test_leaving_runs_the_exit_handlers_and_keeps_the_status_and_all_output() -> None:
    said = _sop_process(
        "import atexit\natexit.register(lambda: print('handler ran', flush=True))",
        "lint",
        "--format",
        "json",
        str(REPO / "runbooks"),
    )
    assert said.returncode == 0, said.stderr
    body, _, handler = said.stdout.rpartition("}")
    assert json.loads(body + "}")  # the whole JSON document, flushed
    assert handler.strip() == "handler ran"
    failed = _sop_process("", "show", "no-such-sop")
    assert failed.returncode != 0 and "no-such-sop" in failed.stderr


def test_leaving_waits_for_a_thread_that_is_no_daemon() -> None:
    said = _sop_process(
        "import threading, time\n"
        "threading.Thread(target=lambda: (time.sleep(0.3), print('thread done', flush=True))).start()",
        "--version",
    )
    assert said.returncode == 0, said.stderr
    assert said.stdout.splitlines()[-1] == "thread done"


def test_output_into_a_pipe_whose_reader_is_gone_stops_quietly() -> None:
    """`sop schema | head -1`: once the reader has gone, sop stops as any filter in a pipe does:
    status 141 (128 + SIGPIPE), nothing on stderr (it said "internal error: BrokenPipeError")."""
    read, write = os.pipe()
    os.close(read)  # the reader is gone before sop writes
    process = subprocess.Popen(
        [sys.executable, "-m", "sop", "schema"], stdout=write, stderr=subprocess.PIPE, cwd=REPO
    )
    os.close(write)
    _, err = process.communicate(timeout=60)
    assert (process.returncode, err.decode()) == (ExitCode.OUTPUT_CLOSED, "")
