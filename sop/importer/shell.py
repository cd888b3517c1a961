"""Fenced shell and console blocks read as commands: which lines are commands (a console
block's `$ ` prompts) and which are output, which words are inputs (`$VAR`, `${VAR}`,
`<placeholder>`), and how each input becomes a Jinja2 template, outside the shell's quotes so
that sop quotes its value.

Nothing here runs anything: the text is only scanned.
"""

from __future__ import annotations

import re
from dataclasses import field

from sop.importer.literal import literal
from sop.records import dataclass

SHELL_LANGUAGES = frozenset(
    {
        "sh",
        "bash",
        "shell",
        "zsh",
        "ksh",
        "console",
        "shell-session",
        "shellsession",
        "terminal",
        "sh-session",
    }
)
CONSOLE_LANGUAGES = frozenset(
    {"console", "shell-session", "shellsession", "terminal", "sh-session"}
)

# environment variables a responder's shell has: never inputs
ENVIRONMENT = frozenset(
    [
        "HOME",
        "PATH",
        "USER",
        "LOGNAME",
        "PWD",
        "OLDPWD",
        "SHELL",
        "HOSTNAME",
        "RANDOM",
        "UID",
        "EUID",
        "PPID",
        "LINENO",
        "SECONDS",
        "IFS",
        "TMPDIR",
        "TERM",
        "LANG",
        "EDITOR",
        "PAGER",
        "KUBECONFIG",
    ]
)
# Jinja2's own words and sop's built-in variables: an input cannot take these names
_RESERVED = frozenset(
    [
        "true",
        "false",
        "none",
        "not",
        "and",
        "or",
        "in",
        "is",
        "if",
        "else",
        "self",
        "loop",
        "super",
        "range",
        "dict",
        "lipsum",
        "cycler",
        "joiner",
        "sop_id",
        "run_id",
        "trace_id",
        "incident",
        "operator",
    ]
)
# commands that open an editor, or a session on another machine or container: a person types
# what comes next (`-c`/`-e` with a command is not interactive)
_EDITOR = re.compile(
    r"^(?:sudo\s+)?(?:(?:oc|kubectl)\s+(?:\S+\s+)*?edit\b|(?:vi|vim|nano|emacs|less|more|top|htop|watch)\b)"
)
_SESSION = re.compile(
    r"""^(?:sudo\s+)?(?:
        (?:oc|kubectl)\s+(?:\S+\s+)*?(?:rsh|debug|attach)\b(?!.*\s--\s)
      | (?:oc|kubectl|docker|podman|crictl)\s+(?:\S+\s+)*?exec\s+(?:\S+\s+)*?-\w*[it]\w*\b
      | ssh\s+(?:-\S+\s+)*[^\s-]\S*\s*$
      | (?:psql|mysql|redis-cli|mongo|mongosh|sqlplus)\b(?!.*\s-[ce]\s)
    )""",
    re.VERBOSE,
)
_PROMPT = re.compile(r"^\s*(?:\$|(?:\[[^\]\n]*\]|[\w.@:~/-]+)[$#])(?: |$)")
_ASSIGNMENT = re.compile(r"^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$")
_SUBSTITUTION = re.compile(r"^\$\((.*)\)$|^`(.*)`$", re.DOTALL)
_ASSIGNED = re.compile(
    r"(?:^|[\s;&|(])(?:(?:export|local|readonly|declare)\s+(?:-\w+\s+)*)?([A-Za-z_]\w*)\+?="
    r"|\bfor\s+([A-Za-z_]\w*)\s+in\b|\bread\s+(?:-\w+\s+)*((?:[A-Za-z_]\w*\s*)+)"
)
_VARIABLE = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")
_PLACEHOLDER = re.compile(r"<([A-Za-z][A-Za-z0-9_.-]*(?: [A-Za-z0-9_.-]+)*)>")
_TODO = re.compile(r"^\s*(?:#\s*)?(?:TODO|TBD|FIXME)\b", re.IGNORECASE)


def is_console(language: str, text: str) -> bool:
    """A console block: `$ ` prompts mark its commands, the other lines are their output."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    return language in CONSOLE_LANGUAGES or _PROMPT.match(first) is not None


def is_todo(text: str) -> bool:
    """A block or paragraph that is only a TODO (or TBD, FIXME) note."""
    lines = [line for line in text.splitlines() if line.strip()]
    return bool(lines) and _TODO.match(lines[0]) is not None and len(lines) <= 3


def interaction(command: str) -> str | None:
    """`editor` or `session` for a command that a person must drive (an editor, or a shell on
    another machine or container where the next commands are typed), else None."""
    text = command.strip()
    if _SESSION.match(text):
        return "session"
    if _EDITOR.match(text):
        return "editor"
    return None


def is_exit(command: str) -> bool:
    """`exit` (or `logout`): the end of a session."""
    return command.strip() in ("exit", "logout") or command.strip().startswith("exit ")


def input_name(word: str) -> str:
    """`<pod-name>`, `$POD_NAME` -> `pod_name`: letters, digits and `_`, lower case."""
    name = re.sub(r"[^a-z0-9]+", "_", word.lower()).strip("_") or "value"
    if name[0].isdigit() or name in _RESERVED:
        name = f"{name}_value" if not name[0].isdigit() else f"value_{name}"
    return name


@dataclass(frozen=True)
class Command:
    """One command of a block (continuation lines joined as written) and the output a
    console block shows after it."""

    text: str
    output: str = ""


def split_console(text: str) -> list[Command]:
    """The `$ ` commands of a console block, each with the output lines after it."""
    commands: list[Command] = []
    command: list[str] = []
    output: list[str] = []
    continued = False
    for line in text.splitlines():
        if continued:
            command.append(line)
            continued = line.rstrip().endswith("\\")
            continue
        if _PROMPT.match(line):
            if command:
                commands.append(Command("\n".join(command), _block(output)))
            command = [line[_PROMPT.match(line).end() :]]  # type: ignore[union-attr]
            output = []
            continued = line.rstrip().endswith("\\")
        elif command:
            output.append(line)
    if command:
        commands.append(Command("\n".join(command), _block(output)))
    return [c for c in commands if c.text.strip()]


def _block(lines: list[str]) -> str:
    text = "\n".join(lines).strip("\n")
    return text + "\n" if text.strip() else ""


def split_script(text: str) -> list[Command]:
    """The logical lines of a shell block (a trailing `\\` continues a line); comments and
    blank lines stay with the command after them."""
    commands: list[Command] = []
    current: list[str] = []
    quote = ""
    for line in text.rstrip("\n").splitlines():
        current.append(line)
        stripped = line.strip()
        quote = _quote_after(line, quote)
        if quote:
            continue  # a quote goes on to the next line
        if stripped and not stripped.startswith("#") and not stripped.endswith("\\"):
            commands.append(Command("\n".join(current)))
            current = []
    if current and any(line.strip() for line in current):
        commands.append(Command("\n".join(current)))
    return commands


def _quote_after(line: str, quote: str) -> str:
    """The quote still open at the end of `line`, given the one open before it."""
    i = 0
    while i < len(line):
        char = line[i]
        if char == "\\" and quote != "'":
            i += 2
            continue
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "#" and (i == 0 or line[i - 1].isspace()):
            break
        i += 1
    return quote


@dataclass(frozen=True)
class Assignment:
    """`NAME=value` on its own: an input with a default, an input the value's placeholder
    names, or (`NAME=$(command)`) a step whose output is captured."""

    name: str
    value: str  # unquoted
    command: str = ""  # the command of `$(...)`


def as_assignment(command: str) -> Assignment | None:
    """`command` as a lone assignment, or None."""
    if "\n" in command.strip():
        return None
    match = _ASSIGNMENT.match(command.strip())
    if match is None:
        return None
    name, raw = match.group(1), match.group(2).strip()
    substitution = _SUBSTITUTION.match(raw.strip('"'))
    if substitution is not None:
        return Assignment(name, raw, substitution.group(1) or substitution.group(2))
    if re.search(r"[$`;|&<>]", _unquoted(raw).replace("<", "", 1)) and not _is_placeholder(raw):
        return None  # computed, or more than one command
    return Assignment(name, _unquoted(raw))


def _unquoted(raw: str) -> str:
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "'\"":
        return raw[1:-1]
    return raw


def _is_placeholder(raw: str) -> bool:
    value = _unquoted(raw)
    return value.startswith("<") and value.endswith(">") and "\n" not in value


def placeholder_help(raw: str) -> str | None:
    """The text of a value that is one `<placeholder>` (the help of its input), or None."""
    return _unquoted(raw)[1:-1].strip() if _is_placeholder(raw) else None


def assigned_names(text: str) -> set[str]:
    """Variables the block sets itself (assignments, `for`, `read`): not inputs."""
    names: set[str] = set()
    for match in _ASSIGNED.finditer(text):
        if match.group(1):
            names.add(match.group(1))
        elif match.group(2):
            names.add(match.group(2))
        else:
            names.update(match.group(3).split())
    return names


@dataclass
class Templated:
    """A command with its inputs as templates, and the inputs it uses (name -> the word
    written in the source)."""

    text: str
    inputs: dict[str, str] = field(default_factory=dict)


def template_command(
    text: str, variables: dict[str, str], local: set[str], *, for_text: bool = False
) -> Templated:
    """Inputs of a command as Jinja2 templates, each outside the shell's quotes (`"$NS"`
    becomes `{{ ns }}`, `"app=$APP"` becomes `"app="{{ app }}`), since sop quotes the value.

    `variables`: shell variable -> input name of those known so far; a `$VAR` not in it,
    not set by the block (`local`) and not an environment variable becomes an input.
    `$VAR` in single quotes is the shell's (or a remote shell's) and stays; a placeholder
    is an input wherever it stands. `for_text`: for a command shown in prose, where the
    template is text: it stays where the word was, inside its quotes."""
    out = _Output()
    templated = Templated("")
    quote = ""
    stack: list[str] = []  # quote states around each open $( or `
    i = 0
    while i < len(text):
        char = text[i]
        if char == "\\" and quote != "'":
            out.add(text[i : i + 2])
            i += 2
            continue
        placeholder = _PLACEHOLDER.match(text, i) if char == "<" else None
        variable = _VARIABLE.match(text, i) if char == "$" and quote != "'" else None
        if placeholder is not None:
            wanted = input_name(placeholder.group(1))
            templated.inputs.setdefault(wanted, placeholder.group(0))
            out.template(wanted, "" if for_text else quote)
            i = placeholder.end()
            continue
        if variable is not None:
            word = variable.group(1) or variable.group(2)
            name: str | None = variables.get(word)
            if name is None and word not in local and word not in ENVIRONMENT:
                name = input_name(word)
                templated.inputs.setdefault(name, variable.group(0))
            if name is not None:
                out.template(name, "" if for_text else quote)
                i = variable.end()
                continue
        if quote == "'":
            if char == "'":
                quote = ""
        elif char == "$" and text.startswith("$(", i):
            stack.append(quote)
            quote = ""
            out.add("$(")
            i += 2
            continue
        elif char == "`":
            if stack and stack[-1].startswith("`"):
                quote = stack.pop()[1:]
            else:
                stack.append("`" + quote)
                quote = ""
        elif char == ")" and not quote and stack and not stack[-1].startswith("`"):
            quote = stack.pop()
        elif char == '"':
            quote = "" if quote else '"'  # here `quote` is '"' or nothing
        elif char == "'" and not quote:
            quote = "'"
        elif char == "#" and not quote and (i == 0 or text[i - 1] in " \t\n;"):
            end = text.find("\n", i)
            end = len(text) if end == -1 else end
            out.add(text[i:end])
            i = end
            continue
        out.add(char)
        i += 1
    templated.text = out.text()
    return templated


class _Output:
    """The templated command, built piece by piece. A template inside quotes closes them
    before and opens them again after; quotes left empty by that are dropped."""

    def __init__(self) -> None:
        self.pieces: list[str] = []
        self.templates: set[int] = set()  # which pieces are templates
        self.reopen = ""  # the quote to open again before the next character, unless it closes

    def add(self, piece: str) -> None:
        if self.reopen:
            if piece == self.reopen:
                self.reopen = ""
                return  # `"$NS"`: the quotes around the template would hold nothing
            self.pieces.append(self.reopen)
            self.reopen = ""
        self.pieces.append(piece)

    def template(self, name: str, quote: str) -> None:
        if self.reopen:
            self.reopen = ""  # two templates in a row inside quotes: nothing between them
        elif quote:
            if self.pieces and self.pieces[-1] == quote:
                self.pieces.pop()  # the quote opened right before the template
            else:
                self.pieces.append(quote)
        self.templates.add(len(self.pieces))
        self.pieces.append(f"{{{{ {name} }}}}")
        self.reopen = quote

    def text(self) -> str:
        if self.reopen:
            self.pieces.append(self.reopen)
        out: list[str] = []
        run: list[str] = []
        for i, piece in enumerate(self.pieces):
            if i in self.templates:
                out += (literal("".join(run)), piece)
                run = []
            else:
                run.append(piece)
        out.append(literal("".join(run)))
        return "".join(out)
