"""`templating.analyse` skips Jinja2 where it can; it must answer exactly as Jinja2 does."""

from __future__ import annotations

import pytest
from jinja2 import TemplateSyntaxError, meta, nodes

from sop import templating

STATEMENTS = (
    (nodes.Import, "import"),
    (nodes.Include, "include"),
    (nodes.Extends, "extends"),
    (nodes.FromImport, "from ... import"),
)

TEMPLATES = [
    "",
    "plain text, no template",
    "a } and { and }} and #} and %} alone",
    "{{ host }}",
    "{{host}}",
    "{{ \n host\t}}",
    "x {{ a }} y {{ b }} z {{ a }}",
    "{{ host }}}",
    "{{ host.name }}",
    "{{ host | upper }}",
    "{{ host ~ port }}",
    "{{ a if b else c }}",
    "{{ f(x, key=y) }}",
    "{{ items[0] }}",
    "{{- host }}",
    "{{ host -}}",
    "{{+ host }}",
    "{{ self }}",
    "{{ self.x }}",
    "{{ loop }}",
    "{{ range(3) }}",
    "{{ namespace }}",
    "{{ lipsum }} {{ dict }} {{ cycler }} {{ joiner }}",
    "{{ true }} {{ False }} {{ none }} {{ None }}",
    "{{ and }} {{ or }} {{ in }} {{ is }} {{ if }} {{ else }}",
    "{{ caller }} {{ varargs }} {{ kwargs }} {{ super }}",
    "{{ hôst }}",
    "{{ host }} {# a comment #}",
    "{# {{ hidden }} #}",
    "{% set x = 1 %}{{ x }} {{ y }}",
    "{% for h in hosts %}{{ h }} {{ loop.index }}{% endfor %}",
    "{% raw %}{{ not_a_name }}{% endraw %}",
    "{% include 'x' %}",
    "{% import 'x' as y %}{% from 'z' import w %}",
    "{% extends 'base' %}",
    "{% if a %}{{ b }}{% endif %}",
    "{%- if a -%}{{ b }}{%- endif -%}",
]

BROKEN = [
    "{{{ host }}}",
    "{{ 1host }}",
    "{{ host",
    "{{ not }}",
    "{{ }}",
    "{{ a b }}",
    "{% if %}",
    "{{ 'x }}",
    "{{ a | }}",
]

EXPRESSIONS = ["ready", "a and b", "count > 3", "state == 'dead'", "self", "range(3)", "not x"]


def reference(text: str) -> tuple[frozenset[str], tuple[str, ...]]:
    """Jinja2's own answer: the AST's undeclared variables and statements."""
    ast = templating.text_environment().parse(text)
    names = frozenset(meta.find_undeclared_variables(ast))
    used = tuple(label for node_type, label in STATEMENTS if any(ast.find_all(node_type)))
    return names, used


@pytest.mark.parametrize("text", TEMPLATES)
def test_analyse_answers_as_jinja2_does(text: str) -> None:
    analysis = templating.analyse(text)
    assert (analysis.names, analysis.statements) == reference(text)


@pytest.mark.parametrize("expression", EXPRESSIONS)
def test_analyse_of_an_expression_reads_its_names(expression: str) -> None:
    analysis = templating.analyse(expression, expression=True)
    assert (analysis.names, analysis.statements) == (reference(f"{{{{ {expression} }}}}")[0], ())


@pytest.mark.parametrize("text", BROKEN)
def test_analyse_raises_what_jinja2_raises(text: str) -> None:
    with pytest.raises(TemplateSyntaxError) as expected:
        templating.text_environment().parse(text)
    with pytest.raises(templating.TemplateError) as raised:
        templating.analyse(text)
    assert str(raised.value) == f"template syntax error: {expected.value.message}"


def test_the_globals_sop_knows_cover_jinja2s() -> None:
    for env in (templating.text_environment(), templating.shell_environment()):
        assert set(env.globals) <= templating.JINJA_GLOBALS


PLAIN = [
    "",
    "hostname; echo ok",
    "a } and { and }} and #} and %} alone",
    "{ {x} }",
    "awk '{print $1}' /etc/hosts\n",
    "line one\nline two\n\n",
    "tabs\tand ünïcode and a lone { at the end {",
    "#!/bin/sh\nset -eu\n",
    "ends with two newlines\n\n",
]


@pytest.mark.parametrize("text", [*PLAIN, "dos\r\nline ends\r\n", "old mac\rline end"])
@pytest.mark.parametrize("shell", [False, True])
def test_render_of_text_without_a_template_is_what_jinja2_makes_of_it(
    text: str, shell: bool
) -> None:
    env = templating.shell_environment() if shell else templating.text_environment()
    assert templating.render(text, {}, shell=shell) == env.from_string(text).render({})


def test_text_without_a_template_renders_without_importing_jinja2() -> None:
    import subprocess
    import sys

    code = (
        "import sys\nfrom sop import templating\n"
        f"assert [templating.render(t, {{}}, shell=True) for t in {PLAIN!r}] == {PLAIN!r}\n"
        "print('jinja2' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout == "False\n"
