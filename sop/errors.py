"""The one family of expected failures. Only the CLI prints them."""

from __future__ import annotations

from collections.abc import Sequence
from enum import IntEnum
from typing import NamedTuple


class ExitCode(IntEnum):
    """What the `sop` process exits with (docs/cli.md)."""

    OK = 0
    FAILED = 1  # a broken SOP, a failed or refused step, a missing file, a check that found gaps
    USAGE = 2  # the command line asked for something impossible
    UNPROVEN = 3  # `audit verify`: the chain holds, but not every record is under a verified seal
    PAUSED = 4  # `run`, `resume`, `drill`: the responder paused the run ([q]uit, Ctrl-D)
    INTERRUPTED = 130  # Ctrl-C (128 + SIGINT, as shells report it)
    OUTPUT_CLOSED = 141  # whoever read its output went away (`sop list | head -1`): 128 + SIGPIPE


class Location(NamedTuple):
    """A place in a source file: 1-based line and column. A named tuple rather than a
    dataclass: the YAML reader makes one for every node of every file, and a tuple is built
    several times faster."""

    file: str
    line: int = 0
    col: int = 0

    def __str__(self) -> str:
        if self.line:
            return f"{self.file}:{self.line}:{self.col}"
        return self.file


NOWHERE = Location("<unknown>")


class Problem(NamedTuple):
    """One finding about an SOP file: where, which key, what is wrong. A named tuple, like
    `Location` and the model records: cheap to define and to make."""

    where: Location
    path: str
    message: str
    severity: str = "error"  # "error" | "warning"
    code: str = "schema"

    def __str__(self) -> str:
        prefix = f"{self.where}: "
        if self.path:
            prefix += f"{self.path}: "
        if self.severity == "warning":
            prefix += "warning: "
        return prefix + self.message

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.where.file,
            "line": self.where.line,
            "col": self.where.col,
            "path": self.path,
            "severity": self.severity,
            "code": self.code,
            "message": self.message,
        }


class SopError(Exception):
    """Base of every failure sop expects. `exit_code` is what the CLI exits with."""

    exit_code = ExitCode.FAILED


class UsageError(SopError):
    """The command line asked for something impossible."""

    exit_code = ExitCode.USAGE


class NotFoundError(SopError):
    """An SOP, inventory or run that was named does not exist."""


class SopFileError(SopError):
    """A file that cannot be turned into a valid SOP; carries every problem found."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class FatalRunError(SopError):
    """Stops a run at once, wherever it is raised (never turned into a step failure)."""


class OutputClosed(BaseException):
    """The run's output can no longer be written: the reader of the pipe it went to left
    (`sop run --yes demo | head -2`), the terminal hung up, the disk of the file it went to is
    full. Raised once, in the main thread, by the write that found out (`sop.cli.output`); the
    run pauses there (resumable, its audit log intact). A BaseException, as Ctrl-C is: no
    `except Exception` on the way (a step's, a host's) takes it for a failure of its own."""
