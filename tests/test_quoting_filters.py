"""The quoting filters: a value made safe inside SQL, JSON, a URL or PromQL, then quoted for the
shell exactly once in a command (one word), and inserted as is in a step's stdin."""

from __future__ import annotations

import json
import shlex
import subprocess
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote

import pytest

from sop import templating
from sop.templating import Choice, DashOk, Secret, TemplateError
from tests.checks.test_lint import lint
from tests.conftest import MINIMAL

HOSTILE = [
    "plain",
    "O'Brien",
    "''",
    "$(touch /tmp/x) `id` ${HOME}",
    'say "hi" \\ back\\slash',
    "line\nbreak\r\ttab",
    "ünïcødé ✓ 日本語 \u202e \u2028",
    "%s %% & = ? # / +",
    "\x1b[31m\x07\x7f",
    "",
]


def test_sql_literal_quotes_and_doubles_single_quotes() -> None:
    assert templating.sql_literal("O'Brien") == "'O''Brien'"
    assert templating.sql_literal("a\\b") == "'a\\b'"
    assert templating.sql_literal(42) == "'42'"
    assert templating.sql_literal(True) == "'true'"


def test_promql_label_escapes_as_go_strings_do() -> None:
    assert templating.promql_label('a"b\\c\nd\te\x01') == '"a\\"b\\\\c\\nd\\te\\x01"'
    assert templating.promql_label("ü ✓") == '"ü ✓"'


def test_promql_label_reads_back_as_the_value_by_go_rules() -> None:
    for value in HOSTILE:
        quoted = templating.promql_label(value)
        # JSON reads the same escapes as Go, except \x (which JSON writes as \u00)
        assert json.loads(quoted.replace("\\x", "\\u00")) == value


def test_json_value_and_urlencode_component_read_back_as_the_value() -> None:
    for value in HOSTILE:
        assert json.loads(templating.json_value(value)) == value
        encoded = templating.urlencode_component(value)
        assert unquote(encoded) == value
        assert set(encoded) <= set(
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~%"
        )
    assert templating.json_value({"web-1": "ok\n"}) == '{"web-1": "ok\\n"}'
    assert templating.json_value(3) == "3"


@pytest.mark.parametrize("name", ["sql_literal", "promql_label"])
def test_a_nul_byte_is_refused(name: str) -> None:
    with pytest.raises(TemplateError) as err:
        templating.render(f"{{{{ v | {name} }}}}", {"v": "a\0b"})
    assert str(err.value) == f"the '{name}' filter got a value with a NUL byte"


@pytest.mark.parametrize(
    "name", ["sql_literal", "json_value", "urlencode_component", "promql_label"]
)
def test_a_secret_cannot_pass_through_a_filter(name: str) -> None:
    with pytest.raises(TemplateError) as err:
        templating.render(f"x {{{{ token | {name} }}}}", {"token": Secret("token")}, shell=True)
    assert str(err.value) == (
        "secret 'token' cannot be put into text or a command; commands read it from "
        "$SOP_SECRET_TOKEN"
    )


@pytest.mark.parametrize("value", HOSTILE)
def test_in_a_command_the_filtered_value_is_one_shell_word_quoted_once(value: str) -> None:
    command = templating.render(
        "printf '%s\\0' {{ v | sql_literal }} {{ 'q=' ~ v | urlencode_component }} "
        "{{ 'up{job=' ~ v | promql_label ~ '}' }} {{ v | json_value }}",
        {"v": value},
        shell=True,
    )

    got = subprocess.run(["sh", "-c", command], capture_output=True, check=True).stdout
    assert got.decode().split("\0")[:-1] == [
        templating.sql_literal(value),
        "q=" + templating.urlencode_component(value),
        "up{job=" + templating.promql_label(value) + "}",
        templating.json_value(value),
    ]
    assert shlex.split(command)[2:] == got.decode().split("\0")[:-1]


def test_outside_commands_the_filtered_value_is_inserted_as_is() -> None:
    assert (
        templating.render("WHERE name = {{ v | sql_literal }};", {"v": "it's"})
        == "WHERE name = 'it''s';"
    )


def test_a_filtered_value_may_begin_with_a_dash_only_where_its_value_could() -> None:
    with pytest.raises(TemplateError) as err:
        templating.render("x {{ v | urlencode_component }}", {"v": "-rf"}, shell=True)
    assert "begins with '-'" in str(err.value)
    for allowed in (DashOk("-rf"), Choice("-rf")):
        assert templating.render("x {{ v | urlencode_component }}", {"v": allowed}, shell=True) == (
            "x -rf"
        )


def test_a_filtered_value_is_never_a_choice_that_may_go_unquoted() -> None:
    with pytest.raises(TemplateError) as err:
        templating.render("x {{ v | sql_literal | choice }}", {"v": Choice("a b")}, shell=True)
    assert str(err.value) == "the 'choice' filter only takes an input with fixed choices"


def test_lint_knows_the_filters_and_still_refuses_unknown_ones(write: Callable[..., Path]) -> None:
    text = MINIMAL.replace(
        "echo hello", "echo {{ host | sql_literal }} {{ host | json_value }}"
    ) + (
        "  - run: psql\n"
        "    stdin: 'SELECT {{ host | promql_label }} {{ host | urlencode_component }}'\n"
        "  - run: echo {{ host | sql_quote }}\n"
        "  - run: psql\n"
        "    stdin: '{{ host | nope }} {{ token }}'\n"
        "inputs:\n  host: {}\n  token: {secret: true}\n"
    )
    assert lint(write(text)) == [
        "sop.yaml:11:5: steps[2].run: template syntax error: No filter named 'sql_quote'.",
        "sop.yaml:13:5: steps[3].stdin: template syntax error: No filter named 'nope'.",
    ]
    text = text.replace("{{ host | nope }} ", "")
    assert lint(write(text)) == [
        "sop.yaml:11:5: steps[2].run: template syntax error: No filter named 'sql_quote'.",
        "sop.yaml:13:5: steps[3].stdin: secret input 'token' would be shown and logged as stdin; "
        "commands get it from the environment as $SOP_SECRET_TOKEN",
    ]


def test_stdin_goes_only_with_run_and_script_steps(problems_of: Callable[..., list[str]]) -> None:
    text = MINIMAL + "  - prose: Look\n    stdin: x\n  - task: t\n    stdin: x\n"
    assert problems_of(text) == [
        "sop.yaml:10:5: steps[1].stdin: 'stdin' goes only with 'run' and 'script' steps",
        "sop.yaml:12:5: steps[2].stdin: 'stdin' goes only with 'run' and 'script' steps",
    ]
