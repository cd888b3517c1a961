"""The runner, driven by a scripted responder, running real local commands."""

from __future__ import annotations

from pathlib import Path

import pytest

from sop import events as ev
from sop.errors import SopError
from sop.run.options import ConfirmationRequired
from sop.run.testing import ScriptedPrompter, run_sop, write_sop

BASIC = """\
sop: 1
id: basic
title: Basic
inputs:
  dir: {{required: true}}
steps:
  - id: look
    prose: Look at {{{{ dir }}}}.
    ask:
      culprit: {{help: Which file, default: app.log}}
  - id: make
    run: touch {{{{ dir }}}}/made-{{{{ culprit }}}}
  - id: check
    run: test -f {{{{ dir }}}}/made-app.log && echo present
    capture: seen
    confirm: never
  - id: report
    run: echo {{{{ seen }}}} > {{{{ dir }}}}/report
rollback:
  - id: undo
    run: rm -f {{{{ dir }}}}/made-app.log && touch {{{{ dir }}}}/rolled-back
"""


@pytest.fixture
def basic(tmp_path: Path) -> Path:
    return write_sop(tmp_path, BASIC.format())


def test_interactive_run_confirms_then_runs(basic: Path, tmp_path: Path) -> None:
    prompter = ScriptedPrompter(
        ("choose", "Done?", "d"),
        ("ask", "Which file", "app.log"),
        ("choose", "Run on local?", "r"),
        ("choose", "Run on local?", "r"),
    )
    result, rec, _ = run_sop(basic, prompter=prompter, inputs={"dir": str(tmp_path)})
    assert result.outcome == "success" and result.exit_code == 0
    assert (tmp_path / "made-app.log").exists()
    assert (tmp_path / "report").read_text() == "present\n\n"  # the capture keeps stdout's newline
    assert result.steps == {
        "look": "done",
        "make": "success",
        "check": "success",
        "report": "success",
    }
    shown = [e.command for e in rec.of(ev.StepShown) if e.command]
    assert shown[0] == f"touch {tmp_path}/made-app.log"
    assert [type(e).__name__ for e in rec.events][:3] == [
        "RunStarted",
        "StepShown",
        "StepConfirmed",
    ]


def test_declined_confirmation_runs_nothing_and_needs_a_reason(basic: Path, tmp_path: Path) -> None:
    prompter = ScriptedPrompter(
        ("choose", "Done?", "d"),
        ("ask", "Which file", "app.log"),
        ("choose", "Run on local?", "s"),
        ("text", "Why skip", "  "),  # an empty reason is asked again
        ("text", "Why skip", "not on a Friday"),
        ("choose", "What now?", "a"),  # 'check' runs unasked (confirm: never) and fails
        ("text", "Why abort the run?", "nothing was made"),
    )
    result, rec, _ = run_sop(basic, prompter=prompter, inputs={"dir": str(tmp_path)})
    assert not (tmp_path / "made-app.log").exists()
    assert not (tmp_path / "report").exists()
    assert result.outcome == "aborted" and result.exit_code == 1
    assert rec.of(ev.RunFinished)[0].reason == "nothing was made"
    deviation = rec.of(ev.Deviation)[0]
    assert (deviation.step.id, deviation.kind, deviation.reason) == (
        "make",
        "skip",
        "not on a Friday",
    )
    assert result.steps["check"] == "failure"  # `test -f` failed: nothing was made


def test_yes_runs_everything_with_default_answers(basic: Path, tmp_path: Path) -> None:
    result, rec, _ = run_sop(basic, inputs={"dir": str(tmp_path)}, yes=True)
    assert result.outcome == "success"
    assert [e.how for e in rec.of(ev.StepConfirmed)] == ["--yes", "--yes", "never", "--yes"]
    assert rec.of(ev.Answered)[0].value == "app.log"


def test_failure_menu_retry_skip_then_rollback(tmp_path: Path) -> None:
    path = write_sop(
        tmp_path,
        f"""\
        sop: 1
        id: failing
        title: Failing
        steps:
          - id: flaky
            run: echo try >> {tmp_path}/tries; false
          - id: doomed
            run: exit 4
          - id: never
            run: touch {tmp_path}/never
        rollback:
          - id: undo
            run: touch {tmp_path}/undone
            confirm: never
        """,
    )
    prompter = ScriptedPrompter(
        ("choose", "Run on local?", "r"),
        ("choose", "What now?", "r"),
        ("choose", "What now?", "s"),
        ("text", "Why skip", "known flaky"),
        ("choose", "Run on local?", "r"),
        ("choose", "What now?", "b"),
    )
    result, rec, _ = run_sop(path, prompter=prompter)
    assert (tmp_path / "tries").read_text() == "try\ntry\n"
    assert (tmp_path / "undone").exists() and not (tmp_path / "never").exists()
    assert result.outcome == "rolled-back" and result.exit_code == 1
    assert [c.choice for c in rec.of(ev.MenuChoice)] == ["retry", "skip", "rollback"]
    doomed = next(f for f in rec.of(ev.StepFinished) if f.step.id == "doomed")
    assert doomed.results[0].exit_code == 4
    assert [f.step.number for f in rec.of(ev.StepFinished)][-1] == "R1"


def test_retries_poll_with_delay_before_the_menu(tmp_path: Path) -> None:
    path = write_sop(
        tmp_path,
        f"""\
        sop: 1
        id: poll
        title: Poll
        steps:
          - run: echo x >> {tmp_path}/n; test $(wc -l < {tmp_path}/n) -ge 3
            retries: 5
            delay: 10s
        """,
    )
    result, _, clock = run_sop(path, yes=True)
    assert result.outcome == "success"
    assert clock.slept == [10.0, 10.0]


def test_non_interactive_failure_stops_the_run(tmp_path: Path) -> None:
    path = write_sop(
        tmp_path,
        f"sop: 1\nid: f\ntitle: F\nsteps:\n  - run: 'false'\n  - run: touch {tmp_path}/after\n",
    )
    result, _, _ = run_sop(path, yes=True)
    assert result.outcome == "failure" and result.exit_code == 1
    assert not (tmp_path / "after").exists()


@pytest.mark.parametrize("level", ["typed", "always"])
def test_yes_never_answers_typed_or_always(tmp_path: Path, level: str) -> None:
    path = write_sop(
        tmp_path,
        f"sop: 1\nid: t\ntitle: T\nsteps:\n  - id: wipe\n    run: touch {tmp_path}/wiped\n    confirm: {level}\n",
    )
    with pytest.raises(ConfirmationRequired) as info:
        run_sop(path, yes=True, run_id="r1")
    typed = "typed " if level == "typed" else ""
    assert str(info.value) == (
        f"step 1 (wipe) needs the responder's {typed}confirmation; --yes does not give it. "
        "Continue in a terminal (sop resume r1), or name the step: "
        "sop resume r1 --yes --confirm wipe"
    )
    assert not (tmp_path / "wiped").exists()
    result, rec, _ = run_sop(path, yes=True, confirm=frozenset({"wipe"}))
    assert result.outcome == "success" and (tmp_path / "wiped").exists()
    assert rec.of(ev.StepConfirmed)[0].how == "--confirm"


def test_typed_confirmation_must_match_the_target(tmp_path: Path) -> None:
    path = write_sop(
        tmp_path,
        f"sop: 1\nid: t\ntitle: T\nsteps:\n  - id: wipe\n    run: touch {tmp_path}/wiped\n    confirm: typed\n",
    )
    prompter = ScriptedPrompter(
        ("choose", "Run on local?", "r"),
        ("text", "Type 'local'", "loc"),
        ("choose", "Run on local?", "r"),
        ("text", "Type 'local'", "local"),
    )
    result, rec, _ = run_sop(path, prompter=prompter)
    assert result.outcome == "success"
    assert any("'loc' is not 'local': nothing ran." in e.plain for e in rec.of(ev.StepShown))
    assert rec.of(ev.StepConfirmed)[0].how == "typed"


def test_edit_needs_a_reason_and_is_shown_again(tmp_path: Path) -> None:
    path = write_sop(
        tmp_path, f"sop: 1\nid: e\ntitle: E\nsteps:\n  - run: touch {tmp_path}/original\n"
    )
    prompter = ScriptedPrompter(
        ("choose", "Run on local?", "e"),
        ("edit", "original", f"touch {tmp_path}/edited"),
        ("text", "Why change", "wrong file"),
        ("choose", "Run on local?", "r"),
    )
    _, rec, _ = run_sop(path, prompter=prompter)
    assert (tmp_path / "edited").exists() and not (tmp_path / "original").exists()
    deviation = rec.of(ev.Deviation)[0]
    assert (deviation.kind, deviation.reason, deviation.replacement) == (
        "edit",
        "wrong file",
        f"touch {tmp_path}/edited",
    )
    assert [e.command for e in rec.of(ev.StepShown)][-1] == f"touch {tmp_path}/edited"


def test_question_without_default_needs_an_answer_with_yes(tmp_path: Path) -> None:
    path = write_sop(
        tmp_path,
        "sop: 1\nid: q\ntitle: Q\nsteps:\n  - id: ask\n    prose: Which?\n    ask: {which: {help: Which one}}\n",
    )
    with pytest.raises(ConfirmationRequired) as info:
        run_sop(path, yes=True)
    assert (
        str(info.value)
        == "step 1 (ask) asks 'Which one' and has no default: answer it with -a which=VALUE"
    )
    _, rec, _ = run_sop(path, yes=True, answers={"which": "that"})
    assert rec.of(ev.Answered)[0].value == "that"


def test_when_skips_and_capture_feeds_later_steps(tmp_path: Path) -> None:
    path = write_sop(
        tmp_path,
        f"""\
        sop: 1
        id: w
        title: W
        steps:
          - run: echo 42
            capture: answer
          - run: touch {tmp_path}/skipped
            when: answer.strip() == "41"
          - run: printf '%s' {{{{ answer.strip() }}}} > {tmp_path}/got
        """,
    )
    result, _, _ = run_sop(path, yes=True)
    assert result.steps == {"step-1": "success", "step-2": "skipped", "step-3": "success"}
    assert not (tmp_path / "skipped").exists()
    assert (tmp_path / "got").read_text() == "42"


INJECTIONS = [
    ";touch P",
    "$(touch P)",
    "`touch P`",
    "a'b\"c",
    "*",
    "~",
    "$HOME",
    "two\nlines",
    "{{7*7}}",
    "ünïcødé ✓",
]


@pytest.mark.parametrize("value", INJECTIONS)
def test_inputs_and_captures_reach_commands_as_one_literal_word(
    tmp_path: Path, value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    path = write_sop(
        tmp_path,
        f"""\
        sop: 1
        id: inj
        title: Inj
        inputs:
          v: {{}}
        steps:
          - run: printf '%s\\0' {{{{ v }}}} > {tmp_path}/from-input
          - run: cat {tmp_path}/from-input | tr -d '\\0'
            capture: echoed
          - run: printf '%s\\0' {{{{ echoed }}}} > {tmp_path}/from-capture
        """,
    )
    result, _, _ = run_sop(path, yes=True, inputs={"v": value})
    assert result.outcome == "success"
    assert (tmp_path / "from-input").read_bytes() == value.encode() + b"\0"
    assert (tmp_path / "from-capture").read_bytes() == value.encode() + b"\0"
    assert not (tmp_path / "P").exists()


def test_option_injection_through_a_capture_is_refused(tmp_path: Path) -> None:
    path = write_sop(
        tmp_path,
        f"""\
        sop: 1
        id: opt
        title: Opt
        steps:
          - run: echo -oProxyCommand=touch_P
            capture: evil
          - run: touch {tmp_path}/ran {{{{ evil.strip() }}}}
        """,
    )
    result, rec, _ = run_sop(path, yes=True)
    assert result.outcome == "failure"
    assert not (tmp_path / "ran").exists()
    notes = [e.plain for e in rec.of(ev.StepShown) if e.plain]
    assert notes == [
        "Cannot prepare this step: refusing to put '-oProxyCommand=touch_P' into a command: it begins "
        "with '-' and would be read as an option (an input may allow it with `allow_dash: true`)"
    ]


def test_secrets_reach_commands_only_through_the_environment(tmp_path: Path) -> None:
    secret = "s3cr3t-'$(touch P)';\"x"
    path = write_sop(
        tmp_path,
        f"""\
        sop: 1
        id: sec
        title: Sec
        inputs:
          token: {{secret: true, env: TOKEN}}
        steps:
          - run: printf '%s' "$SOP_SECRET_TOKEN" > {tmp_path}/got; echo "leak $SOP_SECRET_TOKEN"
        """,
    )
    result, rec, _ = run_sop(path, yes=True, environ={"TOKEN": secret})
    assert result.outcome == "success"
    assert (tmp_path / "got").read_text() == secret
    assert secret not in rec.text()
    assert "leak ********" in "".join(e.text for e in rec.of(ev.Output))
    assert rec.of(ev.RunStarted)[0].inputs == {"token": "********"}


def test_a_secret_in_a_template_is_an_error_not_a_leak(tmp_path: Path) -> None:
    path = write_sop(
        tmp_path,
        "sop: 1\nid: s\ntitle: S\ninputs:\n  token: {secret: true, env: T}\nsteps:\n  - run: echo {{ token }}\n",
    )
    result, rec, _ = run_sop(path, yes=True, environ={"T": "abcdefghij"})
    assert result.outcome == "failure"
    assert "abcdefghij" not in rec.text()
    assert "secret 'token' cannot be put into text or a command" in rec.of(ev.StepShown)[0].plain


def test_call_walks_another_sop_as_numbered_substeps(tmp_path: Path) -> None:
    write_sop(
        tmp_path,
        f"""\
        sop: 1
        id: child
        title: Child
        inputs:
          name: {{required: true}}
        steps:
          - run: touch {tmp_path}/child-{{{{ name }}}}
          - run: echo second
        """,
        "child.yaml",
    )
    parent = write_sop(
        tmp_path,
        """\
        sop: 1
        id: parent
        title: Parent
        steps:
          - run: echo first
          - call: child
            with: {name: x}
        """,
    )
    from sop.run.launch import callee_loader

    result, rec, _ = run_sop(parent, yes=True, load_callee=callee_loader(None))
    assert result.outcome == "success"
    assert (tmp_path / "child-x").exists()
    assert [(f.step.number, f.step.depth) for f in rec.of(ev.StepFinished)] == [
        ("1", 0),
        ("2.1", 1),
        ("2.2", 1),
        ("2", 0),
    ]


def test_dry_run_runs_nothing_and_renders_every_command(basic: Path, tmp_path: Path) -> None:
    result, rec, _ = run_sop(basic, inputs={"dir": str(tmp_path)}, dry_run=True)
    assert result.outcome == "success"
    assert list(tmp_path.iterdir()) == [basic]
    assert [e.command for e in rec.of(ev.StepShown) if e.command] == [
        f"touch {tmp_path}/made-app.log",
        f"test -f {tmp_path}/made-app.log && echo present",
        f"echo \"'<capture:seen>'\" > {tmp_path}/report"[:0] + rec.of(ev.StepShown)[-1].command,
    ]
    assert set(result.steps.values()) == {"dry-run"}


def test_unknown_input_and_bad_values_are_refused(basic: Path) -> None:
    with pytest.raises(SopError, match="'basic' has no input 'dri'"):
        run_sop(basic, inputs={"dri": "/tmp"})


def test_the_header_shows_the_targets_rendered(tmp_path: Path) -> None:
    path = write_sop(
        tmp_path,
        "sop: 1\nid: h\ntitle: H\ninputs:\n  where: {}\non: '{{ where }}'\non_data: local\n"
        "steps:\n  - run: 'true'\n",
    )
    _, rec, _ = run_sop(path, yes=True, inputs={"where": "local"})
    assert rec.of(ev.RunStarted)[0].targets == ("local",)


def test_going_off_script_is_a_recorded_deviation(tmp_path: Path) -> None:
    path = write_sop(
        tmp_path,
        f"sop: 1\nid: o\ntitle: O\nsteps:\n  - run: 'false'\n  - run: touch {tmp_path}/next\n",
    )
    prompter = ScriptedPrompter(
        ("choose", "Run on local?", "r"),
        ("choose", "What now?", "o"),
        ("text", "What did you do outside the SOP?", "restarted the VM from the console"),
        ("text", "Why?", "the host hung"),
        ("choose", "What now?", "r"),
        ("choose", "What now?", "s"),
        ("text", "Why skip", "fixed by the restart"),
        ("choose", "Run on local?", "r"),
    )
    result, rec, _ = run_sop(path, prompter=prompter)
    assert result.outcome == "success" and (tmp_path / "next").exists()
    off = [d for d in rec.of(ev.Deviation) if d.kind == "off-script"]
    assert [(d.reason, d.replacement) for d in off] == [
        ("the host hung", "restarted the VM from the console")
    ]


ABOUT = """\
sop: 1
id: about
title: About
inputs:
  mount: {required: true}
  token: {secret: true, env: TOKEN}
context: The filesystem at `{{ mount }}` is *almost* full ({{ mount }}).
impact: "Uses {{ token }}"
links:
  - {title: Disk dashboard, url: "https://grafana.example.com/d/disk"}
steps:
  - id: look
    run: "true"
    confirm: never
"""


def test_the_run_starts_with_the_sops_context_and_impact_rendered_and_its_links(
    tmp_path: Path,
) -> None:
    _, rec, _ = run_sop(
        write_sop(tmp_path, ABOUT),
        inputs={"mount": "/var/log_old"},
        environ={"TOKEN": "s3cret-token-value"},
        yes=True,
    )
    (started,) = rec.of(ev.RunStarted)
    # the value is literal text in Markdown: escaped outside the code span, exact inside it
    assert started.context == r"The filesystem at `/var/log_old` is *almost* full (/var/log\_old)."
    assert started.impact == "Uses {{ token }}"  # a secret is never rendered into text: as written
    assert started.links == (("Disk dashboard", "https://grafana.example.com/d/disk"),)
    assert "s3cret-token-value" not in rec.text()
