"""`script` steps fail fast (`set -eu`) unless they say `strict: false`; errors name the step and
the line of its own text. Run locally here; tests/integration/test_scripts.py runs the same over
real SSH."""

from __future__ import annotations

from sop.events import Outcome
from sop.executors.base import HostResult, Job
from sop.executors.local import LocalExecutor
from sop.executors.ssh import remote_script
from sop.model import LOCAL_HOST

MIDDLE_FAILS = "echo one\nfalse\necho three\n"
UNSET = 'echo one\necho "$SOP_TEST_NEVER_SET"\necho three\n'


def run(script: str, *, strict: bool, kind: str = "script") -> tuple[HostResult, str]:
    seen: list[str] = []
    result = LocalExecutor().execute(
        Job(kind, script, step_id="the-step", strict=strict),
        LOCAL_HOST,
        lambda stream, text: seen.append(text),
        lambda command: None,
    )
    return result, "".join(seen)


def test_a_strict_script_stops_at_the_first_failing_command_and_fails() -> None:
    result, _ = run(MIDDLE_FAILS, strict=True)

    assert (result.outcome, result.exit_code, result.stdout) == (Outcome.FAILURE, 1, "one\n")


def test_a_strict_script_fails_on_an_unset_variable_naming_the_step_and_its_line() -> None:
    result, _ = run(UNSET, strict=True)

    assert (result.outcome, result.exit_code, result.stdout) == (Outcome.FAILURE, 2, "one\n")
    assert result.stderr == "the-step: 2: /dev/fd/3: SOP_TEST_NEVER_SET: parameter not set\n"


def test_a_command_not_found_names_the_line_of_the_script() -> None:
    result, _ = run("echo one\n\nsop-no-such-command\necho three\n", strict=True)

    assert (result.exit_code, result.stdout) == (127, "one\n")
    assert result.stderr == "the-step: 3: /dev/fd/3: sop-no-such-command: not found\n"


def test_a_script_that_opts_out_runs_every_line_and_ends_with_the_last_status() -> None:
    result, _ = run(MIDDLE_FAILS + 'echo "[$SOP_TEST_NEVER_SET]"\n', strict=False)

    assert (result.outcome, result.exit_code) == (Outcome.SUCCESS, 0)
    assert result.stdout == "one\nthree\n[]\n"


def test_a_strict_script_may_still_allow_an_expected_failure() -> None:
    result, _ = run(
        "false || true\nif false; then :; fi\nfalse && echo no\necho done\n", strict=True
    )

    assert (result.outcome, result.stdout) == (Outcome.SUCCESS, "done\n")


def test_the_script_runs_with_its_stdin_closed_and_its_text_out_of_argv() -> None:
    result, _ = run('cat; echo "read: $?"; tr "\\0" " " < /proc/$$/cmdline\n', strict=True)

    assert result.stdout.splitlines() == ["read: 0", "/bin/sh -euc . /dev/fd/3 the-step "]


def test_a_steps_stdin_text_is_the_commands_stdin_as_written_and_not_in_argv() -> None:
    text = "SELECT 'it''s';\n$(id) `x` \\ \"q\"\nSOP_STDIN_END_\n\tü\n"
    result = LocalExecutor().execute(
        Job("run", 'cat; tr "\\0" " " < /proc/$$/cmdline', step_id="the-step", stdin=text),
        LOCAL_HOST,
        lambda stream, text: None,
        lambda command: None,
    )

    assert result.stdout == text + "/bin/sh -c . /dev/fd/3 the-step "


def test_stdin_without_a_final_newline_gets_one_as_a_here_document_would() -> None:
    result = LocalExecutor().execute(
        Job("run", "od -c | head -1", step_id="s", stdin="ab"),
        LOCAL_HOST,
        lambda stream, text: None,
        lambda command: None,
    )

    assert result.stdout.split() == ["0000000", "a", "b", "\\n"]


def test_the_remote_wrapper_sends_stdin_as_a_second_here_document() -> None:
    job = Job("run", "psql -X", step_id="q", stdin="SELECT 1;\n")

    script = remote_script(job, {"SOP_SECRET_TOKEN": "s3cret-value"})

    lines = script.splitlines()
    command = next(line for line in lines if line.startswith("/bin/sh"))
    script_end = command.split("<<'")[1].split("'")[0]
    stdin_end = command.split("<<'")[2].split("'")[0]
    assert command == f"/bin/sh -c '. /dev/fd/3' q 3<<'{script_end}' 0<<'{stdin_end}' &"
    start = lines.index(command)
    assert lines[start + 1 :] == ["psql -X", script_end, "SELECT 1;", stdin_end, "wait $!"]
    assert stdin_end.startswith("SOP_STDIN_END_") and script_end.startswith("SOP_SCRIPT_END_")


def test_without_stdin_the_remote_command_reads_dev_null() -> None:
    script = remote_script(Job("run", "cat", step_id="c"), {})

    assert "/bin/sh -c '. /dev/fd/3' c 3<<'SOP_SCRIPT_END_" in script
    assert "' </dev/null &\n" in script
