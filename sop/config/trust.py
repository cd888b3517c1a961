"""Which project configurations the user trusts: a `sop.toml` comes with the repository, and a
pull request can change it, so what it may do beyond defaults (name a program to run, a URL to
send to, an inventory, SSH files, a state directory) counts only once the user has read it and
said so (`sop config trust`). Trust is for those exact bytes at that path: any change to the
file, or the same file elsewhere, is untrusted until trusted again (as direnv and mise do).

The list lives beside the user's configuration (`$XDG_CONFIG_HOME/sop/trusted-projects`, one
`SHA256  PATH` line per file), a file only the user may write (audit/sharing.py checks it)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from sop.audit.sharing import PRIVATE_DIR, Sharing, open_file
from sop.config.files import CONFIG_FILE_BYTES, ConfigFile, user_config_path
from sop.files import read_regular_file

TRUST_FILE = "trusted-projects"
WHAT = "the list of trusted project configurations"


def trust_list_path(environ: Mapping[str, str]) -> Path:
    return user_config_path(environ).parent / TRUST_FILE


def _entry(config: ConfigFile) -> str:
    return f"{config.sha256}  {config.path.resolve()}"


def is_trusted(config: ConfigFile, environ: Mapping[str, str]) -> bool:
    """Whether the user trusted these bytes at this path. The list must be the user's own file,
    which nobody else can write (else `UnsafeFileError`)."""
    path = trust_list_path(environ)
    if not Sharing().check(path, WHAT):
        return False
    text = read_regular_file(path, CONFIG_FILE_BYTES, what=WHAT).decode(errors="replace")
    return _entry(config) in text.splitlines()


def trust(config: ConfigFile, environ: Mapping[str, str]) -> bool:
    """Add `config` as it is now to the list; False when it was there already."""
    if is_trusted(config, environ):
        return False
    path = trust_list_path(environ)
    path.parent.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    Sharing().check(path.parent, "the configuration folder", folder=True)
    fd = open_file(path, os.O_WRONLY | os.O_APPEND)
    try:
        os.write(fd, (_entry(config) + "\n").encode())
    finally:
        os.close(fd)
    return True
