"""Where the token comes from: a file or an environment variable, never the command line (argv
shows in `ps` and shell history). The caller teaches it to the process's redactor."""

from __future__ import annotations

import os
from pathlib import Path

from sop.errors import UsageError
from sop.files import FileReadError, read_regular_file

TOKEN_FILE_BYTES = 64 * 1024  # as a --secret-file
TOKEN_ENV = "CONFLUENCE_TOKEN"


def read_token(env: str = TOKEN_ENV, file: Path | None = None) -> str:
    """The token in `file` (its first line; surrounding blanks dropped), else in `$env`."""
    if file is not None:
        try:
            data = read_regular_file(file, TOKEN_FILE_BYTES, what="token files")
        except FileReadError as exc:
            raise UsageError(f"--token-file: {exc}") from None
        try:
            lines = data.decode("utf-8").strip().splitlines()
        except UnicodeDecodeError:
            raise UsageError(f"--token-file: {file}: not UTF-8 text") from None
        token = lines[0].strip() if lines else ""
        if not token:
            raise UsageError(f"--token-file: {file} is empty")
        return token
    token = os.environ.get(env, "").strip()
    if not token:
        raise UsageError(f"no Confluence token: set ${env}, or give --token-file FILE")
    return token
