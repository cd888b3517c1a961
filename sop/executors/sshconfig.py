"""Reading ssh_config files the way OpenSSH does where paramiko does not: `Include`.

paramiko's parser keeps `Include` as an ordinary option and reads none of the files it names,
so a `~/.ssh/config` that keeps its hosts in `config.d/` (as many tools set it up) would look
empty to sop. Here each `Include` line is replaced by the text of the files it names before
paramiko parses the result, as OpenSSH reads them: relative paths from `~/.ssh` for the user's
file and from `/etc/ssh` for the system's (and for a file given with --ssh-config, from the
user's `~/.ssh`, as `ssh -F` does), `~` expanded, wildcards matched in sorted order, a file
that does not exist skipped, at most 16 levels deep. An `Include` inside a `Host` or `Match`
block applies within it, as the lines it brings in follow that block's line.
"""

from __future__ import annotations

import glob
import io
import os
import re
import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sop.errors import SopError

USER_SSH_DIR = Path("~/.ssh")
SYSTEM_SSH_DIR = Path("/etc/ssh")
USER_SSH_CONFIG = USER_SSH_DIR / "config"  # fabric's defaults, read in this order
SYSTEM_SSH_CONFIG = SYSTEM_SSH_DIR / "ssh_config"
MAX_DEPTH = 16  # OpenSSH's READCONF_MAX_DEPTH
_INCLUDE = re.compile(r"^\s*include(?:\s*=\s*|\s+)(.*)$", re.IGNORECASE)


class SshConfigError(SopError):
    """An ssh config file that cannot be read."""


def default_files(given: Path | None) -> list[Path]:
    """The ssh config files a run reads: `given` alone, else the user's and the system's."""
    return [given] if given is not None else [USER_SSH_CONFIG, SYSTEM_SSH_CONFIG]


# the options that change where a connection goes or how its TCP socket is made: while a
# config names none of them, a host is reached at the inventory's address and port
ROUTING = frozenset(
    {
        "hostname",
        "port",
        "proxyjump",
        "proxycommand",
        "proxyusefdpass",
        "match",  # may apply any option, under conditions only a full reading decides
        "canonicalizehostname",
        "canonicaldomains",
        "canonicalizefallbacklocal",
        "canonicalizemaxdots",
        "canonicalizepermittedcnames",
        "addressfamily",
        "bindaddress",
        "bindinterface",
    }
)
_KEYWORD = re.compile(r"\s*([A-Za-z]+)")


Texts = Sequence[tuple[Path, str]]  # each config file that exists, its Includes read in


def read_texts(files: Sequence[Path]) -> list[tuple[Path, str]]:
    """Each of `files` that exists, in order, with its `Include`s read in. SshConfigError names
    a file that cannot be read or an Include nested too deeply."""
    texts = []
    for path in files:
        full = path.expanduser()
        if full.is_file():
            base = SYSTEM_SSH_DIR if full == SYSTEM_SSH_CONFIG else USER_SSH_DIR.expanduser()
            texts.append((full, expanded_text(full, base)))
    return texts


def routes(texts: Texts) -> bool:
    """Whether any line of `texts` sets an option of ROUTING, in any block."""
    for _path, text in texts:
        for line in text.splitlines():
            found = _KEYWORD.match(line)
            if found is not None and found[1].lower() in ROUTING:
                return True
    return False


def routes_as_given(files: Sequence[Path]) -> bool:
    """Whether `files` (their `Include`s read in) leave every host where the inventory puts it:
    no line sets an option of ROUTING, in any block. A file that cannot be read says no."""
    try:
        return not routes(read_texts(files))
    except SshConfigError:
        return False


def parse(texts: Texts) -> Any:
    """One paramiko SSHConfig of `texts`, in order (the first value found for a host wins).
    SshConfigError names a file paramiko cannot read."""
    from paramiko import SSHConfig, SSHException

    config = SSHConfig()
    for path, text in texts:
        try:
            config.parse(io.StringIO(text))
        except SSHException as exc:  # a line paramiko cannot read (a bad Match...)
            raise SshConfigError(f"{path}: {exc}") from None
    return config


def read_ssh_config(files: Sequence[Path]) -> Any:
    """One paramiko SSHConfig of `files`, in order (the first value found for a host wins),
    each with its `Include`s read in; a missing file is skipped. SshConfigError names a file
    that cannot be read or an Include nested too deeply."""
    return parse(read_texts(files))


def expanded_text(path: Path, base: Path, depth: int = 0) -> str:
    """The text of `path`, each `Include` line replaced by the text of the files it names."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SshConfigError(f"{path}: {getattr(exc, 'strerror', None) or exc}") from None
    out: list[str] = []
    for number, line in enumerate(text.splitlines(keepends=True), 1):
        found = _INCLUDE.match(line)
        if found is None:
            out.append(line)
            continue
        if depth >= MAX_DEPTH:
            raise SshConfigError(f"{path}:{number}: Include nested more than {MAX_DEPTH} deep")
        out.append(f"# {line.strip()}\n")
        for included in _included(found[1], base, path, number):
            out.append(expanded_text(included, base, depth + 1))
            out.append("\n")
    return "".join(out)


def _included(arguments: str, base: Path, path: Path, number: int) -> list[Path]:
    """The files an Include line names, in order: each pattern's matches sorted."""
    try:
        patterns = shlex.split(arguments)
    except ValueError as exc:
        raise SshConfigError(f"{path}:{number}: Include: {exc}") from None
    files: list[Path] = []
    for pattern in patterns:
        pattern = os.path.expanduser(pattern)
        if not os.path.isabs(pattern):
            pattern = str(base / pattern)
        files += [Path(p) for p in sorted(glob.glob(pattern)) if os.path.isfile(p)]
    return files
