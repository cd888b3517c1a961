"""Jinja2, built in one place: sandboxed, strict about undefined names, shell-quoting for commands.

This is the only module that imports jinja2, and only when a function needs it: `sop list` and
`sop --help` never load it, and `sop lint` only for templates beyond `{{ name }}`.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import shlex
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sop.errors import Location, SopError
from sop.files import MIB, FileReadError, read_regular_file
from sop.records import dataclass

if TYPE_CHECKING:
    import jinja2
    import jinja2.sandbox


class TemplateError(SopError):
    """A template that does not parse, names an undefined variable or breaks the sandbox."""


class Unquoted(str):
    """A value that goes into a command as is. Only the `choice` filter makes one, and only
    for an input whose value was checked against fixed `choices`."""


class Choice(str):
    """An input value that was checked against the input's fixed `choices`."""


class DashOk(str):
    """An input value that may begin with '-' because its input says `allow_dash: true`."""


class Placeholder(str):
    """What a dry run puts where the run will have a value (an answer nobody gives, a command's
    captured output): shown as itself (`<answer:replica>`), never checked as a real value
    (against an input's pattern or the inventory) and never run. Only a dry run makes one."""


def placeholder_in(text: str, variables: Mapping[str, Any]) -> str:
    """`text` as a `Placeholder` when it holds one of the placeholders in `variables` (a value
    rendered from one: `{{ replica }}`), else as it is."""
    if any(isinstance(v, Placeholder) and v in text for v in variables.values()):
        return Placeholder(text)
    return text


class Secret:
    """Stands for a secret input in templates: rendering it anywhere is an error, because text
    and commands are shown, logged and put in argv. Commands read secrets from the environment."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __str__(self) -> str:
        raise TemplateError(
            f"secret '{self.name}' cannot be put into text or a command; "
            f"commands read it from $SOP_SECRET_{self.name.upper()}"
        )


def shell_quote(value: Any) -> str:
    """Quote one template value so that the shell sees exactly one literal word."""
    if isinstance(value, Unquoted):
        return str(value)
    if isinstance(value, Secret):
        str(value)  # raises
    if value is None:
        raise TemplateError("a template value is empty (None); give the input a value")
    if isinstance(value, bool):
        value = "true" if value else "false"
    if isinstance(value, Mapping):
        raise TemplateError(
            "a template puts a mapping into a command; pick one entry, e.g. {{ usage['web-1'] }}"
        )
    text = str(value)
    if "\0" in text:
        raise TemplateError("a template value contains a NUL byte; it cannot be put into a command")
    if text.startswith("-") and not isinstance(value, (Choice, DashOk)):
        shown = text if len(text) <= 40 else text[:37] + "..."
        raise TemplateError(
            f"refusing to put '{shown}' into a command: it begins with '-' and would be read as an "
            "option (an input may allow it with `allow_dash: true`)"
        )
    return shlex.quote(text)


def _choice(value: Any) -> Unquoted:
    if not isinstance(value, Choice):
        raise TemplateError("the 'choice' filter only takes an input with fixed choices")
    return Unquoted(value)


def _filter_text(value: Any, name: str) -> str:
    """A value as text for a quoting filter; a secret or an empty (None) value is refused."""
    if isinstance(value, Secret):
        str(value)  # raises
    if value is None:
        raise TemplateError(f"the '{name}' filter got an empty value (None); give it a value")
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _keeps_dash(value: Any, text: str) -> str:
    """A filter's result may begin with '-' in a command when its value could (`allow_dash`,
    fixed choices); it is never a `Choice` (`| choice` cannot unquote it)."""
    return DashOk(text) if isinstance(value, (Choice, DashOk)) else text


def sql_literal(value: Any) -> str:
    """A standard SQL string literal: in single quotes, each single quote doubled. Backslashes
    stay as they are (PostgreSQL, SQLite; MySQL only with NO_BACKSLASH_ESCAPES)."""
    text = _filter_text(value, "sql_literal")
    if "\0" in text:
        raise TemplateError("the 'sql_literal' filter got a value with a NUL byte")
    return "'" + text.replace("'", "''") + "'"


def json_value(value: Any) -> str:
    """The value in JSON: a string in double quotes with JSON's escapes, a number, a boolean,
    an object (a capture from several hosts)."""
    if isinstance(value, Secret):
        str(value)  # raises
    import json

    if isinstance(value, str):
        return _keeps_dash(value, json.dumps(str(value), ensure_ascii=False))
    try:
        return _keeps_dash(value, json.dumps(value, ensure_ascii=False))
    except (TypeError, ValueError) as exc:
        raise TemplateError(f"the 'json_value' filter cannot write this value: {exc}") from None


def urlencode_component(value: Any) -> str:
    """One URL path segment or query value: every byte but letters, digits and `-._~`
    percent-encoded (UTF-8), so `/`, `?`, `&`, `=`, `#` and spaces stay inside it."""
    from urllib.parse import quote

    text = _filter_text(value, "urlencode_component")
    return _keeps_dash(value, quote(text, safe=""))


_PROMQL_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_PROMQL_SPECIAL = re.compile(r'[\\"\x01-\x1f\x7f]')


def promql_label(value: Any) -> str:
    """A PromQL string for a label matcher (`{instance={{ host | promql_label }}}`): in double
    quotes, with backslash, double quote and control characters escaped as Go escapes them.
    After `=~` the string is still a regular expression."""
    text = _filter_text(value, "promql_label")
    if "\0" in text:
        raise TemplateError("the 'promql_label' filter got a value with a NUL byte")
    escaped = _PROMQL_SPECIAL.sub(lambda m: _PROMQL_ESCAPES.get(m[0], f"\\x{ord(m[0]):02x}"), text)
    return '"' + escaped + '"'


# filters that make a value safe inside another language; in a command, their result is then
# quoted for the shell once, like any value
QUOTING_FILTERS: dict[str, Callable[[Any], str]] = {
    "sql_literal": sql_literal,
    "json_value": json_value,
    "urlencode_component": urlencode_component,
    "promql_label": promql_label,
}


def _new_env(*, finalize: Any = None) -> jinja2.Environment:
    import jinja2
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        finalize=finalize,
    )
    env.filters["choice"] = _choice
    env.filters.update(QUOTING_FILTERS)
    return env


@functools.cache
def text_environment() -> jinja2.Environment:
    """For prose, titles and notes: values are inserted as text."""
    return _new_env()


@functools.cache
def markdown_environment() -> jinja2.Environment:
    """For prose and notes shown as Markdown: each `{{ value }}` becomes a hole that
    `render_markdown` fills once the Markdown around it is known (a function of the evaluation
    context, so Jinja2 never folds a constant into a hole when it compiles)."""
    import jinja2

    @jinja2.pass_eval_context
    def hole(_: Any, value: Any) -> str:
        values = _HOLES.get()
        values.append(str(value))
        return f"\ue000{len(values) - 1}\ue001"

    return _new_env(finalize=hole)


@functools.cache
def shell_environment() -> jinja2.Environment:
    """For `run` and `script`: every `{{ value }}` is quoted for the shell."""
    return _new_env(finalize=shell_quote)


MAX_TEMPLATE_BYTES = MIB


@functools.cache
def _confined_loader() -> Callable[[list[str]], jinja2.BaseLoader]:
    import jinja2
    from jinja2.loaders import split_template_path

    class _ConfinedLoader(jinja2.BaseLoader):
        """Folders of template overrides. Names are relative to a folder (`..` is refused by
        `split_template_path`); a name whose real path leads outside its folder (a symlink) is
        not found there. A template is read as every file from outside is: a regular file of at
        most 1 MiB (sop/files.py), so a FIFO or `/dev/zero` under a template's name is an
        error, never a hang."""

        def __init__(self, folders: list[str]) -> None:
            self.folders = [(folder, os.path.realpath(folder)) for folder in folders]

        def get_source(
            self, environment: jinja2.Environment, template: str
        ) -> tuple[str, str, Callable[[], bool]]:
            pieces = split_template_path(template)
            for folder, real in self.folders:
                filename = os.path.join(folder, *pieces)  # as the responder named the folder
                if not os.path.lexists(filename):
                    continue
                if not Path(os.path.realpath(filename)).is_relative_to(real):
                    raise jinja2.TemplateNotFound(template)
                data = read_regular_file(filename, MAX_TEMPLATE_BYTES, what="templates")
                try:
                    source = data.decode("utf-8")
                except UnicodeDecodeError:
                    raise FileReadError(Location(filename), "not valid UTF-8") from None
                return source, filename, functools.partial(_unchanged, filename, _mtime(filename))
            raise jinja2.TemplateNotFound(template)

    return _ConfinedLoader


def _mtime(filename: str) -> int:
    try:
        return os.stat(filename).st_mtime_ns
    except OSError:
        return -1


def _unchanged(filename: str, mtime: int) -> bool:
    return _mtime(filename) == mtime


Filter = Callable[[Any], object]


def trusted(function: Callable[[Any], str]) -> Filter:
    """Wrap a filter whose output is already safe markup, so that autoescaping leaves it alone.
    Use it only for functions that escape everything they were given."""

    import markupsafe

    @functools.wraps(function)
    def wrapper(value: Any) -> str:
        return markupsafe.Markup(function(value))

    return wrapper


@functools.cache
def page_sandbox() -> type[jinja2.sandbox.ImmutableSandboxedEnvironment]:
    """The immutable sandbox, answering for a loop's own attributes (`loop.first`,
    `loop.index`, asked for on every row of every page) without the checks for mutable
    containers and method internals that can never apply to them: the same answer, faster."""
    from jinja2.runtime import LoopContext
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class PageSandbox(ImmutableSandboxedEnvironment):
        def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
            if type(obj) is LoopContext:
                return not attr.startswith("_")
            return super().is_safe_attribute(obj, attr, value)

    return PageSandbox


@functools.cache
def page_environment(
    template_dirs: tuple[str, ...],
    package: str,
    autoescape: bool,
    filters: tuple[tuple[str, Filter], ...] = (),
) -> jinja2.Environment:
    """For rendering wiki pages: templates from `template_dirs` (overrides), then the package's.

    Sandboxed and immutable: a template sees only the plain values it is given, cannot change
    them, and cannot load a file from outside its folders."""
    import jinja2

    loaders: list[jinja2.BaseLoader] = (
        [_confined_loader()(list(template_dirs))] if template_dirs else []
    )
    loaders.append(jinja2.PackageLoader(package, "templates"))
    env = page_sandbox()(
        loader=jinja2.ChoiceLoader(loaders),
        auto_reload=False,  # one render: a template is read once, never looked at again
        undefined=jinja2.StrictUndefined,
        autoescape=autoescape,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(dict(filters))
    return env


def render_page(env: jinja2.Environment, name: str, variables: Mapping[str, Any]) -> str:
    """Render the page template `name`; every template failure becomes a `TemplateError`."""
    import jinja2

    try:
        return env.get_template(name).render(variables)
    except jinja2.TemplateNotFound as exc:
        raise TemplateError(f"template not found: {exc.message}") from None
    except FileReadError as exc:  # an override that is not a regular file, or too large
        raise TemplateError(str(exc)) from None
    except jinja2.TemplateSyntaxError as exc:
        where = f"{exc.filename or exc.name}:{exc.lineno}"
        raise TemplateError(f"{where}: template syntax error: {exc.message}") from None
    except jinja2.UndefinedError as exc:
        raise TemplateError(f"template {name}: undefined variable: {exc.message}") from None
    except jinja2.exceptions.SecurityError as exc:
        raise TemplateError(f"template {name}: blocked by the template sandbox: {exc}") from None
    except Exception as exc:  # a filter, an operator or a method may raise anything
        raise TemplateError(f"template {name} failed: {type(exc).__name__}: {exc}") from None


def _compile(env: jinja2.Environment, source: str) -> jinja2.Template:
    import jinja2

    try:
        return env.from_string(source)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(f"template syntax error: {exc.message}") from None


def render(source: str, variables: Mapping[str, Any], *, shell: bool = False) -> str:
    """Render one SOP text field. Undefined names and sandbox escapes raise `TemplateError`.

    Text without a Jinja2 block (`{{`, `{%`, `{#`) and without a carriage return (Jinja2
    normalises line ends) renders as itself: a run whose commands hold no template never
    imports Jinja2 (30 ms of `sop run`)."""
    if _is_plain(source):
        return source
    return _render_with(shell_environment() if shell else text_environment(), source, variables)


_HOLES: ContextVar[list[str]] = ContextVar("holes")
_HOLE = re.compile("\ue000([0-9]+)\ue001")


def render_markdown(source: str, variables: Mapping[str, Any]) -> str:
    """Render prose or a note that is shown as Markdown: every value inserted is literal text
    (a captured `[ok](https://evil)` is neither a link nor markup): escaped outside code, kept
    exact inside a code span or block, unable to end either."""
    if _is_plain(source):
        return source
    token = _HOLES.set([])
    try:
        text = _render_with(markdown_environment(), source, variables)
        values = _HOLES.get()
    finally:
        _HOLES.reset(token)
    return fill_holes(text, values)


def _render_with(env: jinja2.Environment, source: str, variables: Mapping[str, Any]) -> str:
    with _template_errors():
        return _compile(env, source).render(variables)


@contextlib.contextmanager
def _template_errors() -> Iterator[None]:
    """Whatever rendering or evaluating a template raises, as one TemplateError."""
    import jinja2

    try:
        yield
    except jinja2.UndefinedError as exc:
        raise TemplateError(f"undefined variable: {exc.message}") from None
    except jinja2.exceptions.SecurityError as exc:
        raise TemplateError(f"blocked by the template sandbox: {exc}") from None
    except TemplateError:
        raise
    except RecursionError:  # Python words it by where the limit hit: one message for all
        raise TemplateError(
            "template failed: RecursionError: maximum recursion depth exceeded"
        ) from None
    except Exception as exc:  # a filter, an operator or a method may raise anything
        raise TemplateError(f"template failed: {type(exc).__name__}: {exc}") from None


# what starts markup inside a line (links, images, autolinks, HTML, entities, emphasis, code,
# tables), and what starts a block at the beginning of one
_INLINE_MARKUP = re.compile(r"([\\`*_\[\]<>&!|~#])")
_BLOCK_MARKER = re.compile(r"^(\s*[0-9]*)([-+=.)])")
_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")
_CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`)((?:(?!\n[ \t]*\n).)+?)(?<!`)\1(?!`)", re.DOTALL)


def fill_holes(text: str, values: list[str]) -> str:
    """`text` with hole N replaced by `values[N]`, as the Markdown around the hole needs."""
    if not values:
        return text
    kinds = _code_regions(text)

    def fill(hole: re.Match[str]) -> str:
        value = values[int(hole[1])]
        kind = next((k for start, end, k in kinds if start <= hole.start() < end), "")
        if kind == "fence":  # no line of the value may close the block
            return "\n".join(
                "    " + line if _FENCE.match(line) else line for line in value.split("\n")
            )
        if kind == "span":  # nor close the span, nor end its paragraph
            return " ".join(value.splitlines()).replace("`", "<U+0060>")
        escaped = _INLINE_MARKUP.sub(r"\\\1", " ".join(value.splitlines()))
        if text[text.rfind("\n", 0, hole.start()) + 1 : hole.start()].strip() == "":
            escaped = _BLOCK_MARKER.sub(r"\1\\\2", escaped)  # a list, a heading, a rule
        return escaped

    return _HOLE.sub(fill, text)


def _code_regions(text: str) -> list[tuple[int, int, str]]:
    """Where `text` has fenced code blocks and inline code spans, as Markdown reads it."""
    regions: list[tuple[int, int, str]] = []
    fence, start, offset, prose_from = "", 0, 0, 0
    prose: list[tuple[int, int]] = []
    for line in text.splitlines(keepends=True):
        opened = _FENCE.match(line)
        if not fence and opened:
            fence, start = opened[1], offset
            prose.append((prose_from, offset))
        elif (
            fence
            and opened
            and opened[1][0] == fence[0]
            and len(opened[1]) >= len(fence)
            and not line[opened.end() :].strip()
        ):
            regions.append((start, offset + len(line), "fence"))
            fence, prose_from = "", offset + len(line)
        offset += len(line)
    if fence:
        regions.append((start, offset, "fence"))
    else:
        prose.append((prose_from, offset))
    for begin, end in prose:
        regions += [
            (m.start() + begin, m.end() + begin, "span")
            for m in _CODE_SPAN.finditer(text, begin, end)
        ]
    return regions


def _is_plain(source: str) -> bool:
    return "{{" not in source and "{%" not in source and "{#" not in source and "\r" not in source


def evaluate(expression: str, variables: Mapping[str, Any]) -> bool:
    """Evaluate a `when:` expression to a boolean."""
    import jinja2

    with _template_errors():
        try:
            compiled = text_environment().compile_expression(expression, undefined_to_none=False)
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateError(f"expression syntax error: {exc.message}") from None
        return bool(compiled(**variables))


# `{{ name }}`: the only kind of variable block whose names sop can read without Jinja2
_SIMPLE_VARIABLE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
# names that Jinja2 reads as constants or operators, or that it declares itself: let it decide
_NOT_SIMPLE = frozenset(
    [
        "true",
        "false",
        "none",
        "True",
        "False",
        "None",
        "not",
        "and",
        "or",
        "in",
        "is",
        "if",
        "else",
        "self",
    ]
)
# the names Jinja2's environments provide (tests check that this covers them): a template that
# reads one goes to Jinja2, which leaves it out of the names read
JINJA_GLOBALS = frozenset(("range", "dict", "lipsum", "cycler", "joiner", "namespace"))
_STATEMENTS = (
    ("Import", "import"),
    ("Include", "include"),
    ("Extends", "extends"),
    ("FromImport", "from ... import"),
)


@dataclass(frozen=True)
class Analysis:
    """What a template reads (`names`) and which file-reading statements it uses."""

    names: frozenset[str]
    statements: tuple[str, ...] = ()


_PLAIN_TEXT = Analysis(frozenset())


def analyse(source: str, *, expression: bool = False) -> Analysis:
    """The variables a template (or a `when:` expression) reads and the statements (`import`,
    `include`, `extends`, `from`) it uses: SOP text cannot reach other files. Raises
    `TemplateError` for a template that does not parse.

    Jinja2 parses a template only when it must: text without `{{`, `{%` and `{#` is plain
    text, and text whose only blocks are `{{ name }}` reads exactly those names (`sop lint`
    analyses every text field of every SOP)."""
    text = f"{{{{ {source} }}}}" if expression else source
    if "{%" not in text and "{#" not in text:
        if "{{" not in text:
            return _PLAIN_TEXT
        names = _simple_names(text)
        if names is not None:
            return Analysis(names)
    import jinja2
    from jinja2 import meta, nodes

    env = text_environment()
    try:
        ast = env.parse(text)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(f"template syntax error: {exc.message}") from None
    for node in ast.find_all((nodes.Filter, nodes.Test)):  # Jinja2 finds these on compiling
        if isinstance(node, nodes.Filter) and node.name not in env.filters:
            raise TemplateError(f"template syntax error: No filter named '{node.name}'.")
        if isinstance(node, nodes.Test) and node.name not in env.tests:
            raise TemplateError(f"template syntax error: No test named '{node.name}'.")
    if "{%" not in text:
        # no statement, so nothing is assigned: every name read is undeclared, except the
        # environment's globals and `self`, which Jinja2 provides
        loaded = {n.name for n in ast.find_all(nodes.Name) if n.ctx == "load"}
        return Analysis(frozenset(loaded - env.globals.keys() - {"self"}))
    names = frozenset(meta.find_undeclared_variables(ast))
    if expression:
        return Analysis(names)
    statements = tuple(
        label
        for node_type, label in _STATEMENTS
        if any(True for _ in ast.find_all(getattr(nodes, node_type)))
    )
    return Analysis(names, statements)


def _simple_names(text: str) -> frozenset[str] | None:
    """The names of a template without statements or comments whose every `{{` opens a
    `{{ name }}`; None when it has another kind of block (Jinja2 must parse it)."""
    names: set[str] = set()
    start = text.find("{{")
    while start != -1:
        match = _SIMPLE_VARIABLE.match(text, start)
        if match is None:
            return None
        names.add(match[1])
        start = text.find("{{", match.end())
    if not names.isdisjoint(_NOT_SIMPLE) or not names.isdisjoint(JINJA_GLOBALS):
        return None
    return frozenset(names)


def attributes_read(source: str, name: str, *, expression: bool = False) -> set[str]:
    """The keys a template reads of the variable `name` by a constant: `steps.check.exit_code`
    and `steps['check-etcd'].stdout` read 'check' and 'check-etcd' of `steps`. Raises
    `TemplateError` for a template that does not parse."""
    import jinja2
    from jinja2 import nodes

    text = f"{{{{ {source} }}}}" if expression else source
    try:
        ast = text_environment().parse(text)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(f"template syntax error: {exc.message}") from None
    keys = {
        n.attr
        for n in ast.find_all(nodes.Getattr)
        if isinstance(n.node, nodes.Name) and n.node.name == name
    }
    keys |= {
        n.arg.value
        for n in ast.find_all(nodes.Getitem)
        if isinstance(n.node, nodes.Name)
        and n.node.name == name
        and isinstance(n.arg, nodes.Const)
        and isinstance(n.arg.value, str)
    }
    return keys


def names_used(source: str, *, expression: bool = False) -> set[str]:
    """The variables a template (or a `when:` expression) reads."""
    return set(analyse(source, expression=expression).names)
