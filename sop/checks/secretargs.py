"""Where a shell script puts a secret on a command line: `curl -u user:$SOP_SECRET_X` makes the
value an argument of curl, and every user of the host reads it in `ps` while curl runs.

A small reader of POSIX shell, enough for lint: quotes, `$( )` and backticks, comments,
redirections and here-documents. It reports an expansion of `$SOP_SECRET_<NAME>` in an argument
of a command that is not a shell builtin (`printf`, `echo`, `export`, `test` ... never exec, so
no argv is made). Assignments (`X=$SOP_SECRET_X cmd`), here-strings and here-documents feed the
value through the environment or stdin: not reported."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import field

from sop.records import dataclass

# builtins of every POSIX sh (dash too) that take arguments without making a process
BUILTINS = frozenset(
    ("echo", "printf", "export", "readonly", "local", "declare", "typeset", "test", "[", "[[")
)
# words before a command, and compound commands whose words are not any command's arguments
_PREFIX_WORDS = frozenset(("if", "then", "else", "elif", "do", "while", "until", "!", "{", "time"))
_NOT_COMMANDS = frozenset(("for", "case", "select", "function"))
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\+?=")
_EXPANSION = re.compile(r"\$\{?(SOP_SECRET_[A-Za-z0-9_]+)")
_HEREDOC = re.compile(r"<<(-?)\s*(['\"]?)([A-Za-z0-9_.-]+)\2")


@dataclass(frozen=True)
class ExposedSecret:
    variable: str  # SOP_SECRET_<NAME>
    command: str  # the command whose argument it is
    line: str  # the line the command starts on


@dataclass
class _Word:
    text: str = ""
    secrets: list[str] = field(default_factory=list)
    redirect: bool = False  # the target of a redirection, not an argument


@dataclass
class _Command:
    line: int
    words: list[_Word] = field(default_factory=list)
    word: _Word | None = None
    quote: str = ""  # "'" or '"' while inside one
    redirect_next: bool = False


class _Reader:
    def __init__(self, script: str) -> None:
        self.text = script
        self.lines = script.splitlines()
        self.found: list[ExposedSecret] = []

    def read(self) -> list[ExposedSecret]:
        self._commands(0, "")
        return self.found

    def _line_of(self, at: int) -> int:
        return self.text.count("\n", 0, at)

    def _commands(self, i: int, closing: str) -> int:
        """Read commands from `i` until `closing` (')' or '`', '' for the end); return where it
        stopped, after the closing character."""
        cmd = _Command(self._line_of(i))
        heredocs: list[tuple[bool, str]] = []
        text = self.text
        while i < len(text):
            c = text[i]
            if cmd.quote == "'":
                if c == "'":
                    cmd.quote = ""
                self._char(cmd, c)
                i += 1
                continue
            if c == "\\" and i + 1 < len(text):
                if text[i + 1] != "\n":
                    self._char(cmd, text[i : i + 2])
                i += 2
                continue
            if text.startswith("$(", i) and not text.startswith("$((", i):
                self._char(cmd, "$(")
                i = self._commands(i + 2, ")")
                continue
            if c == "`":
                if closing == "`":
                    self._end(cmd)
                    return i + 1
                self._char(cmd, "`")
                i = self._commands(i + 1, "`")
                continue
            if c == "$":
                match = _EXPANSION.match(text, i)
                if match:
                    self._char(cmd, match[0]).secrets.append(match[1])
                    i = match.end()
                    continue
                if text.startswith("$((", i):  # arithmetic: no command inside
                    end = text.find("))", i)
                    end = len(text) if end == -1 else end + 2
                    self._char(cmd, text[i:end])
                    i = end
                    continue
            if cmd.quote == '"':
                if c == '"':
                    cmd.quote = ""
                self._char(cmd, c)
                i += 1
                continue
            if c in "'\"":
                cmd.quote = c
                self._char(cmd, c)
                i += 1
                continue
            if c == "#" and cmd.word is None:
                end = text.find("\n", i)
                i = len(text) if end == -1 else end
                continue
            if c == closing:
                self._end(cmd)
                return i + 1
            if c in "<>":
                heredoc = _HEREDOC.match(text, i) if text.startswith("<<", i) else None
                if heredoc and not text.startswith("<<<", i):
                    heredocs.append((heredoc[1] == "-", heredoc[3]))
                    self._split(cmd)
                    i = heredoc.end()
                    continue
                self._split(cmd)
                cmd.redirect_next = True
                while i < len(text) and text[i] in "<>&|":
                    i += 1
                continue
            if c in " \t":
                self._split(cmd)
                i += 1
                continue
            if c in ";&|()\n":
                self._end(cmd)
                i += 1
                if c == "\n" and heredocs:
                    i = self._skip_heredocs(i, heredocs)
                    heredocs = []
                cmd = _Command(self._line_of(i))
                continue
            self._char(cmd, c)
            i += 1
        self._end(cmd)
        return i

    def _skip_heredocs(self, i: int, heredocs: list[tuple[bool, str]]) -> int:
        """Past the bodies of the here-documents opened on the line that ended at `i`: what
        they hold goes to the command's stdin."""
        for strip_tabs, delimiter in heredocs:
            while i < len(self.text):
                end = self.text.find("\n", i)
                end = len(self.text) if end == -1 else end
                line = self.text[i:end]
                i = end + 1
                if (line.lstrip("\t") if strip_tabs else line) == delimiter:
                    break
        return i

    @staticmethod
    def _char(cmd: _Command, text: str) -> _Word:
        if cmd.word is None:
            cmd.word = _Word(redirect=cmd.redirect_next)
            cmd.redirect_next = False
        cmd.word.text += text
        return cmd.word

    @staticmethod
    def _split(cmd: _Command) -> None:
        if cmd.word is not None:
            cmd.words.append(cmd.word)
            cmd.word = None

    def _end(self, cmd: _Command) -> None:
        self._split(cmd)
        words = [w for w in cmd.words if not w.redirect]
        while words and (words[0].text in _PREFIX_WORDS or _ASSIGNMENT.match(words[0].text)):
            words.pop(0)
        if not words or words[0].text in BUILTINS or words[0].text in _NOT_COMMANDS:
            return
        command = words[0].text
        line = self.lines[cmd.line].strip() if cmd.line < len(self.lines) else ""
        for word in words:
            for variable in word.secrets:
                self.found.append(ExposedSecret(variable, command, line))
        cmd.words = []


def exposed_secrets(script: str) -> Iterator[ExposedSecret]:
    """Each expansion of a secret variable in an argument of a command of `script`."""
    if "SOP_SECRET_" not in script:  # most scripts: nothing to read
        return
    seen: set[ExposedSecret] = set()
    for found in _Reader(script).read():
        if found not in seen:
            seen.add(found)
            yield found
