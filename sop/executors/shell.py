"""How a `run` or `script` step's text reaches /bin/sh, the same way locally and over SSH.

The text is a script on file descriptor 3 (a private temporary file locally, a here-document in
the remote wrapper), which a `/bin/sh -c` named after the step reads with `.`:

- a strict `script` step runs with `set -eu`: it stops at the first command that fails and at
  the first unset variable, and the step fails with that command's exit status;
- an error names the step and the line of the step's own text, not of a wrapper:
  `restart-web: 3: /dev/fd/3: FOO: parameter not set` (dash), line 3 of the script;
- nothing goes through argv: the script may be as long as it likes, and it is not in `ps`.

A step's `stdin` text reaches the command's standard input the same way (a second private file
locally, a second here-document remotely); without it, the command's stdin is /dev/null.
"""

from __future__ import annotations

import hashlib
import shlex

from sop.executors.base import Job

SHELL = "/bin/sh"
SCRIPT_FD = 3
STRICT_OPTIONS = "-eu"


def shell_options(job: Job) -> str:
    """The `set` options the step's text runs with: `-eu` for a strict script step."""
    return STRICT_OPTIONS if job.strict else ""


def shell_command(job: Job) -> str:
    """The command line that runs the script on fd 3 as `$0` = the step's id."""
    options = shell_options(job)
    flags = f"{options}c" if options else "-c"
    name = shlex.quote(job.step_id or "sop-step")
    return f"{SHELL} {flags} '. /dev/fd/{SCRIPT_FD}' {name}"


def script_text(body: str) -> str:
    """The body as a script file holds it: ending in exactly one newline."""
    return body.rstrip("\n") + "\n"


def stdin_text(text: str) -> str:
    """A step's stdin as the command reads it: as written, ending in a newline (a here-document
    cannot end without one)."""
    return text if text.endswith("\n") else text + "\n"


def here_document(body: str) -> tuple[str, str]:
    """(the redirection, the lines that follow it) handing `body` to fd 3 as a quoted
    here-document: no expansion, and a delimiter made from the body's hash, so no line of the
    body can end it."""
    return _document(SCRIPT_FD, "SOP_SCRIPT_END_", script_text(body))


def stdin_document(text: str) -> tuple[str, str]:
    """The same for a step's stdin text, on fd 0."""
    return _document(0, "SOP_STDIN_END_", stdin_text(text))


def _document(fd: int, prefix: str, text: str) -> tuple[str, str]:
    delimiter = prefix + hashlib.sha256(text.encode()).hexdigest()[:16]
    return f"{fd}<<'{delimiter}'", f"{text}{delimiter}\n"
