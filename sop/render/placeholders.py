"""How a command on a page shows the values it needs (`sop render --placeholders`).

A page's command is copied into a terminal now and then, in a hurry. `{{ host }}` as written
runs with the literal text `{{`, `host` and `}}`; `<host>` is a redirection (from a file `host`,
and `>` truncates whatever file the next word names). So the default is `shell`: a quoted
parameter expansion that stops the shell before anything runs when the variable is not set,
`"${SOP_HOST:?}"`, with a "Set these first" block that lists the assignments the step needs.
The quotes keep the value one word, as sop's own shell quoting does.

Only `{{ name }}` (and `{{ name | choice }}`) becomes a placeholder; an expression stays as
written, so that the page never shows a command that does something else than the SOP's.

A step's `stdin` text gets the same placeholders. In the shell style the command then reads it
from a here-document, so that what is pasted feeds the command as sop does: as written (a
quoted delimiter) when it has no placeholder, else unquoted with `${SOP_HOST:?}` (no double
quotes: sop inserts stdin values as they are) and every other backslash, `$` and backtick escaped.
The "Run it" commands (`sop run ... --input host=...`) name the inputs they need in the same
style.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Iterable, Mapping
from typing import NamedTuple

from sop.model import Input, Sop, Step

STYLES = ("shell", "angle", "jinja")  # the first is the default
DEFAULT = STYLES[0]
_PLACEHOLDER = re.compile(r"\{\{-?\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:\|\s*choice\s*)?-?\}\}")
_NOT_IN_NAME = re.compile(r"[^A-Za-z0-9_]")


class Filled(NamedTuple):
    """A command with its placeholders, its stdin text ("" when it has none, or when the
    command reads it from a here-document: shell style), and the lines that set their
    variables (shell style only)."""

    body: str
    stdin: str
    set_first: tuple[str, ...]


def shell_variable(name: str, item: Input | None) -> str:
    """The variable that holds `name`'s value: the input's own environment variable if it has
    one (sop reads it too), else `SOP_` and the name in capitals: never `USER`, `HOME`,
    `PATH` or another that a shell already has, which `:?` could not catch."""
    if item is not None and item.env:
        return item.env
    return "SOP_" + _NOT_IN_NAME.sub("_", name).upper()


def _comment(text: str) -> str:
    one_line = " ".join(text.split())
    return f"  # {one_line}" if one_line else ""


def _assignment(variable: str, name: str, item: Input | None, captured_by: Step | None) -> str:
    if item is None:
        what = f"what step {captured_by.number} printed" if captured_by else name
        return f"{variable}={_comment(what)}"
    if item.secret:  # typed without an echo, and never in the shell's history
        return f"read -rs {variable}{_comment(f'{item.help or name} (secret: typed, not shown)')}"
    value = "" if item.default is None else shlex.quote(item.default)
    required = " (required)" if item.required and item.default is None else ""
    return f"{variable}={value}{_comment((item.help or name) + required)}"


class Variables(NamedTuple):
    """What a SOP's placeholders can name: its inputs, the answers its steps ask for, and the
    outputs its steps save."""

    inputs: Mapping[str, Input]
    captures: Mapping[str, Step]

    @classmethod
    def of(cls, sop: Sop) -> Variables:
        steps = (*sop.steps, *sop.rollback)
        inputs = {item.name: item for step in steps for item in step.ask}
        inputs.update((item.name, item) for item in sop.inputs)
        captures = {step.capture: step for step in steps if step.capture}
        return cls(inputs, captures)


def fill(body: str, style: str, variables: Variables, stdin: str | None = None) -> Filled:
    """`body` (a command or a script) and its `stdin` text with their placeholders in
    `style`."""
    if style == "jinja":
        return Filled(body, stdin or "", ())
    names: dict[str, str] = {}

    def variable(name: str) -> str:
        return names.setdefault(name, shell_variable(name, variables.inputs.get(name)))

    if style == "angle":
        body = _PLACEHOLDER.sub(lambda m: f"<{m[1]}>", body)
        text = "" if stdin is None else _PLACEHOLDER.sub(lambda m: f"<{m[1]}>", stdin)
        return Filled(body, text, ())
    body = _PLACEHOLDER.sub(lambda m: f'"${{{variable(m[1])}:?}}"', body)
    if stdin is not None:
        body = _with_stdin(body, stdin, variable)
    return Filled(body, "", tuple(_lines(names.items(), variables)))


# what makes a command more than one simple command, whose stdin a here-document after it
# would not be (`a | b <<EOF` feeds b); a redirection (`> out <<EOF` truncates `out` before an
# unset placeholder stops the command: a group's here-document comes first); a comment, a line
# continuation or a second line
_COMPOUND = re.compile(r"[|&;<>()`#\\\n]")
_HEREDOC_SPECIAL = re.compile(r"[\\$`]")  # what an unquoted here-document expands


def _with_stdin(command: str, stdin: str, variable: Callable[[str], str]) -> str:
    """`command` reading `stdin` from a here-document, as it reads it when sop runs it
    (ending in a newline: sop adds one when it is missing)."""
    stdin = stdin.removesuffix("\n")
    parts = _PLACEHOLDER.split(stdin)  # text, name, text, name, ..., text
    if len(parts) == 1:
        document, quote = stdin, "'"
    else:
        quote = ""
        document = "".join(
            "${" + variable(part) + ":?}" if i % 2 else _HEREDOC_SPECIAL.sub(r"\\\g<0>", part)
            for i, part in enumerate(parts)
        )
    lines = document.split("\n")
    end = "SOP_STDIN"
    while end in lines:
        end += "_"
    if _COMPOUND.search(command):
        command = "{\n" + command + "\n}"
    return "\n".join([f"{command} <<{quote}{end}{quote}", *lines, end])


def run_placeholder(name: str, item: Input, style: str) -> str:
    """What stands for an input's value in a "Run it" command (a secret: its file's path)."""
    if item.secret:
        name += "_file"
    if style == "shell":
        return f'"${{{shell_variable(name, None)}:?}}"'
    return f"<{name}>" if style == "angle" else f"{{{{ {name} }}}}"


def in_text(text: str, style: str) -> str:
    """Prose, a title, a note or a fact for a reader, not a terminal: `{{ name }}` as `<name>`
    (in the shell and angle styles; as written in the jinja style). An expression stays."""
    if style == "jinja" or "{{" not in text:
        return text
    return _PLACEHOLDER.sub(lambda found: f"<{found[1]}>", text)


def run_set_first(items: Iterable[Input]) -> tuple[str, ...]:
    """The lines that set the variables of the "Run it" commands' inputs (shell style)."""
    lines = []
    for item in items:
        if item.secret:
            what = f"a file holding {item.help or item.name} (secret)"
            lines.append(f"{shell_variable(item.name + '_file', None)}={_comment(what)}")
        else:
            lines.append(_assignment(shell_variable(item.name, None), item.name, item, None))
    return tuple(lines)


def _lines(names: Iterable[tuple[str, str]], variables: Variables) -> Iterable[str]:
    for name, variable in names:
        item = variables.inputs.get(name)
        yield _assignment(variable, name, item, variables.captures.get(name))
