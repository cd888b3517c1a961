"""Template attacks: SOP text renders in Jinja2's immutable sandbox, cannot read files, and an
undefined name or runaway recursion is an error, never a command."""

from __future__ import annotations

import pytest

from .conftest import Attack, messages, records

BODY = """\
inputs:
  x: {{default: hello}}
  token: {{secret: true, env: ATTACK_TOKEN}}
steps:
  - id: attack
{step}
  - id: payload
    run: touch @PWNED@
"""
TOKEN = {"ATTACK_TOKEN": "s3cr3t-t0ken-value"}


def attempt(attack: Attack, step: str) -> tuple[int, str, str]:
    """Run an SOP whose first step is `step` (indented under `- id: attack`)."""
    path = attack.write(BODY.format(step=step))
    result = attack.run(path, env=TOKEN)
    attack.assert_nothing_ran()
    return result.returncode, result.stdout, result.stderr


def blocked(attack: Attack, step: str) -> str:
    """A step whose template breaks at run time: the run stops; the reason, from the log."""
    code, stdout, _ = attempt(attack, step)
    assert code == 1
    assert "Cannot prepare this step:" in stdout
    assert "Run failure" in stdout
    (shown,) = [m for m in messages(attack) if "Cannot prepare" in m]
    return shown.removeprefix("Cannot prepare this step: ")


def test_mro_walk_from_a_string_is_blocked(attack: Attack) -> None:
    assert blocked(attack, "    run: echo {{ ''.__class__.__mro__[1].__subclasses__() }}") == (
        "blocked by the template sandbox: access to attribute '__class__' of 'str' object is unsafe."
    )


def test_cycler_globals_are_blocked(attack: Attack) -> None:
    step = "    run: echo {{ cycler.__init__.__globals__.os.system('touch @PWNED@') }}"
    assert blocked(attack, step) == (
        "blocked by the template sandbox: access to attribute '__init__' of 'type' object is unsafe."
    )


def test_lipsum_globals_are_blocked(attack: Attack) -> None:
    step = "    prose: \"{{ lipsum.__globals__['os'].popen('touch @PWNED@').read() }}\""
    assert blocked(attack, step) == (
        "blocked by the template sandbox: access to attribute '__globals__' of 'function' "
        "object is unsafe."
    )


def test_format_string_escape_is_blocked(attack: Attack) -> None:
    step = "    prose: \"{{ '{0.__class__.__mro__}'.format(x) }}\""
    assert blocked(attack, step) == (
        "blocked by the template sandbox: access to attribute '__class__' of 'str' object is unsafe."
    )


def test_template_reference_context_is_blocked(attack: Attack) -> None:
    step = '    prose: "{{ self._TemplateReference__context }}"'
    assert blocked(attack, step) == (
        "blocked by the template sandbox: access to attribute '_TemplateReference__context' of "
        "'TemplateReference' object is unsafe."
    )


def test_when_expression_escape_is_blocked(attack: Attack) -> None:
    step = "    prose: hi\n    when: \"''.__class__.__mro__[1].__subclasses__()\""
    assert blocked(attack, step) == (
        "when: blocked by the template sandbox: access to attribute '__class__' of 'str' "
        "object is unsafe."
    )


def test_infinite_macro_recursion_is_an_error(attack: Attack) -> None:
    step = '    prose: "{% macro r() %}{{ r() }}{% endmacro %}{{ r() }}"'
    assert blocked(attack, step) == (
        "template failed: RecursionError: maximum recursion depth exceeded"
    )


@pytest.mark.parametrize(
    ("statement", "label"),
    [
        ("{% import 'outside.txt' as o %}", "import"),
        ("{% from 'outside.txt' import x %}", "from ... import"),
        ("{% include '../outside.txt' %}", "include"),
        ("{% include '/etc/passwd' %}", "include"),
        ("{% extends '/etc/passwd' %}", "extends"),
    ],
    ids=["import", "from-import", "include-parent", "include-absolute", "extends"],
)
def test_file_reading_statements_are_refused(attack: Attack, statement: str, label: str) -> None:
    (attack.path.parent / "outside.txt").write_text("{{ 7 * 7 }} secret file content\n")
    code, stdout, stderr = attempt(attack, f'    prose: "{statement}"')
    assert code == 1
    assert stdout == ""
    assert stderr == (
        f"attack.yaml:11:5: steps[0].prose: '{label}' is not allowed: "
        "SOP text cannot read other files\n"
    )


def test_undefined_name_is_refused_before_the_run(attack: Attack) -> None:
    code, stdout, stderr = attempt(attack, "    run: rm -rf -- /srv/{{ nope }}")
    assert (code, stdout) == (1, "")
    assert stderr == (
        "attack.yaml:11:5: steps[0].run: undefined variable 'nope': "
        "not an input, an answer or a capture\n"
    )


def test_secret_cannot_be_put_into_a_command(attack: Attack) -> None:
    code, stdout, stderr = attempt(attack, "    run: curl -H {{ token }} https://api.example.com")
    assert (code, stdout) == (1, "")
    assert stderr == (
        "attack.yaml:11:5: steps[0].run: secret input 'token' would be put on a command line; "
        "commands get it from the environment as $SOP_SECRET_TOKEN\n"
    )


def test_a_blocked_template_is_reported_verbatim_not_as_markdown(attack: Attack) -> None:
    """The terminal shows the reason as it is: `__class__`, not a bold `class`."""
    _, stdout, _ = attempt(attack, "    run: echo {{ ''.__class__ }}")
    assert (
        "Cannot prepare this step: blocked by the template sandbox: "
        "access to attribute '__class__' of 'str' object is unsafe." in stdout
    )


@pytest.mark.parametrize(
    ("step", "reason"),
    [
        ("    run: echo {{ '%(missing)s' % {} }}", "template failed: KeyError: 'missing'"),
        ("    run: echo {{ '%(a)s' | format(b=1) }}", "template failed: KeyError: 'a'"),
        ("    prose: \"{{ '%(p)s' % {} }}\"", "template failed: KeyError: 'p'"),
        (
            "    when: \"'%(x)s' % {}\"\n    run: echo hi",
            "when: template failed: KeyError: 'x'",
        ),
    ],
    ids=["key-error", "filter-raises", "prose", "when"],
)
def test_a_template_raising_any_error_breaks_the_step_and_the_run_finishes(
    attack: Attack, step: str, reason: str
) -> None:
    assert blocked(attack, step) == reason
    actions = [r["event"]["action"] for r in records(attack)]
    assert "run-finished" in actions
