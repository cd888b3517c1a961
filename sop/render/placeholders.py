"""How a command on a page shows the values it needs (`sop render --placeholders`).

A page's command is copied into a terminal now and then, in a hurry. `{{ host }}` as written
runs with the literal text `{{`, `host` and `}}`; `<host>` is a redirection (from a file `host`,
and `>` truncates whatever file the next word names). So the default is `shell`: a quoted
parameter expansion that stops the shell before anything runs when the variable is not set,
`"${SOP_HOST:?}"`, with a "Set these first" block that lists the assignments the step needs.
The quotes keep the value one word, as sop's own shell quoting does.

Only `{{ name }}` (and `{{ name | choice }}`) becomes a placeholder; an expression stays as
written, so that the page never shows a command that does something else than the SOP's.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Mapping
from typing import NamedTuple

from sop.model import Input, Sop, Step

STYLES = ("shell", "angle", "jinja")  # the first is the default
DEFAULT = STYLES[0]
_PLACEHOLDER = re.compile(r"\{\{-?\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:\|\s*choice\s*)?-?\}\}")
_NOT_IN_NAME = re.compile(r"[^A-Za-z0-9_]")


class Filled(NamedTuple):
    """A command with its placeholders, and the lines that set their variables (shell only)."""

    body: str
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


def fill(body: str, style: str, variables: Variables) -> Filled:
    """`body` (a command or a script) with its placeholders in `style`."""
    if style == "jinja":
        return Filled(body, ())
    names: dict[str, str] = {}

    def placeholder(match: re.Match[str]) -> str:
        name = match.group(1)
        if style == "angle":
            return f"<{name}>"
        names.setdefault(name, shell_variable(name, variables.inputs.get(name)))
        return f'"${{{names[name]}:?}}"'

    filled = _PLACEHOLDER.sub(placeholder, body)
    return Filled(filled, tuple(_lines(names.items(), variables)))


def _lines(names: Iterable[tuple[str, str]], variables: Variables) -> Iterable[str]:
    for name, variable in names:
        item = variables.inputs.get(name)
        yield _assignment(variable, name, item, variables.captures.get(name))
