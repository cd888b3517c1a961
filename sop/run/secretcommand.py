"""A secret input read from a command (`command: [pass, show, ops/token]`): the SOP's argv as
written (no template, no shell), run on the responder's machine with sop's environment; what it
prints on stdout, less one final newline, is the secret. Only a real run calls this: a drill
uses the input's drill value, a dry run a made-up one, lint never runs it."""

from __future__ import annotations

from collections.abc import Sequence

from sop.errors import SopError
from sop.text import visible

TIMEOUT = 30.0  # seconds: a password store that waits for a PIN entry that never comes
MAX_OUTPUT = 64 * 1024  # as a --secret-file


class SecretCommandError(SopError):
    """A secret's command that failed, hung, or printed nothing usable; never its stdout."""


def read_secret_command(name: str, argv: Sequence[str], timeout: float = TIMEOUT) -> str:
    import subprocess  # here: a simulated drill's guard must be on before it is imported

    shown = " ".join(argv)
    what = f"input '{name}': command '{shown}'"
    try:
        done = subprocess.run(
            list(argv), stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        raise SecretCommandError(f"{what} did not finish within {timeout:g}s") from None
    except OSError as exc:
        raise SecretCommandError(f"{what} could not start: {exc.strerror}") from None
    if done.returncode != 0:
        tail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:]
        said = f": {visible(tail[0])}" if tail else ""
        raise SecretCommandError(f"{what} exited with {done.returncode}{said}")
    out = done.stdout
    if len(out) > MAX_OUTPUT:
        raise SecretCommandError(f"{what} printed over 64 KiB; a secret is one value")
    try:
        text = out.decode("utf-8")
    except UnicodeDecodeError:
        raise SecretCommandError(f"{what} printed something that is not UTF-8 text") from None
    secret = text[:-1] if text.endswith("\n") else text
    if not secret:
        raise SecretCommandError(f"{what} printed nothing")
    return secret
