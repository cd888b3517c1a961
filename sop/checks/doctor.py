"""`sop doctor`: is this machine ready to run SOPs? One `Check` per question, each ok, warn
(works, but something is missing or odd) or fail (sop will not work until it is fixed), with
the fix in its message.

The checks reuse what a run itself checks: the state directory and key folder rules of
`sop.audit.sharing` and `sop.audit.escrow`, the inventory loader, the SSH files as
`sop.executors.connections` reads them. Nothing here changes anything.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from enum import StrEnum
from importlib import metadata
from pathlib import Path
from typing import Any, NamedTuple

from sop.errors import SopError
from sop.records import dataclass

DISTRIBUTION = "sop-runbooks"  # the name sop is installed under (pyproject.toml)
SUPPORTED_PYTHONS = ((3, 11), (3, 12), (3, 13))  # the classifiers; `make test-pythons` runs them


class Status(StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"check": self.name, "status": self.status.value, "message": self.message}


@dataclass(frozen=True)
class Diagnosis:
    checks: tuple[Check, ...]

    @property
    def failed(self) -> bool:
        return any(c.status is Status.FAIL for c in self.checks)

    def as_dict(self) -> dict[str, Any]:
        return {"ok": not self.failed, "checks": [c.as_dict() for c in self.checks]}


@dataclass(frozen=True)
class Setup:
    """What to examine: the files `sop run` would be given (None: its defaults)."""

    inventory: tuple[Path, ...] = ()  # several are merged; a dynamic one is not run
    state_dir: Path | None = None
    ssh_config: Path | None = None
    known_hosts: Path | None = None
    # the effective team configuration: each file and value with where it came from, and
    # what was ignored (the CLI reads it: checks do not import the config wing)
    configuration: tuple[str, ...] = ()
    ignored: tuple[str, ...] = ()


def diagnose(setup: Setup) -> Diagnosis:
    import sop

    checks: list[Callable[[], Check]] = [
        check_python,
        lambda: check_package(Path(sop.__file__), metadata.distributions()),
        check_libraries,
        lambda: check_configuration(setup.configuration, setup.ignored),
        lambda: check_ssh(setup.ssh_config, setup.known_hosts),
        lambda: check_inventory(setup.inventory),
        lambda: check_state_dir(setup.state_dir),
        lambda: check_key_dir(setup.state_dir),
    ]
    return Diagnosis(tuple(check() for check in checks))


def check_python(version: tuple[int, ...] = tuple(sys.version_info[:3])) -> Check:
    text = ".".join(str(n) for n in version[:3])
    supported = ", ".join(f"{a}.{b}" for a, b in SUPPORTED_PYTHONS)
    if tuple(version[:2]) in SUPPORTED_PYTHONS:
        return Check("python", Status.OK, f"Python {text} ({sys.executable})")
    return Check(
        "python",
        Status.WARN,
        f"Python {text} ({sys.executable}) is not one sop is tested on ({supported}); "
        "if something breaks, install sop with one of those",
    )


def check_configuration(lines: tuple[str, ...], ignored: tuple[str, ...]) -> Check:
    """The effective configuration (sop.toml, the user's config.toml) and where each value
    came from; a warning for what an untrusted project file asked for."""
    if not lines:
        return Check("config", Status.OK, "no configuration file: sop's defaults")
    text = "; ".join(lines)
    if ignored:
        return Check("config", Status.WARN, f"{text}; ignored: {'; '.join(ignored)}")
    return Check("config", Status.OK, text)


# --- is `import sop` this distribution? -------------------------------------------------------


def check_package(imported: Path, distributions: Iterable[metadata.Distribution]) -> Check:
    """Whether the `sop` Python imports is the one `sop-runbooks` installed, whole. The
    unrelated `sop` package on PyPI (Stateless OpenPGP) installs an import package of the same
    name: installed into the same environment, it overwrites sop's `__init__.py` and
    `__main__.py` (or sop overwrites it), and nothing warns."""
    ours: metadata.Distribution | None = None
    rivals: list[metadata.Distribution] = []
    for dist in distributions:
        name = _normal(dist.metadata["Name"] or "")
        if name == DISTRIBUTION and ours is None:
            ours = dist
        elif name != DISTRIBUTION and any(_in_sop(path) for path, _ in _record(dist)):
            rivals.append(dist)
    where = imported.parent
    if ours is None:
        return Check(
            "package",
            Status.WARN,
            f"sop is imported from {where}, but no {DISTRIBUTION} installation is found: "
            f"install it (pipx install, uv tool install or pip install) to have it checked",
        )
    rival = "; ".join(
        f"{d.metadata['Name']} {d.version} ({d.metadata['Summary'] or 'no summary'}) also "
        f"installs the import package sop"
        for d in rivals
    )
    source, _ = _direct_url(ours)
    reinstall = (
        f"`pip install --force-reinstall --no-deps {source or 'WHEEL_OR_CLONE'}` "
        f"(the {DISTRIBUTION} it came from)"
    )
    problem = _package_problem(ours, imported)
    if rivals:
        fix = (
            f"fix: `pip uninstall {' '.join(d.metadata['Name'] for d in rivals)}`, then "
            f"{reinstall}; or give each its own environment (pipx install, uv tool install)"
        )
        if problem:
            return Check("package", Status.FAIL, f"{problem.text}; {rival}; {fix}")
        return Check("package", Status.WARN, f"{rival}: whichever was installed last wins; {fix}")
    if problem:
        fix = SHADOW_FIX if problem.shadowed else reinstall
        return Check("package", Status.FAIL, f"{problem.text}; fix: {fix}")
    return Check("package", Status.OK, f"{DISTRIBUTION} {ours.version} ({where})")


class PackageProblem(NamedTuple):
    text: str
    shadowed: bool  # another `sop` comes first on the path (else: the installed files changed)


SHADOW_FIX = "take that folder off the Python path (PYTHONPATH, or the current folder)"


def _package_problem(ours: metadata.Distribution, imported: Path) -> PackageProblem | None:
    """What is wrong with the installed files, or None. A wheel install: every file of the
    package matches the hash in RECORD and `sop` is imported from them. An editable install:
    `sop` is imported from its source folder."""
    recorded = [(path, digest) for path, digest in _record(ours) if _in_sop(path) and digest]
    if not recorded:
        source, editable = _direct_url(ours)
        if editable and source and imported.resolve().parent != Path(source).resolve() / "sop":
            return PackageProblem(
                f"sop is imported from {imported.parent}, not from {Path(source) / 'sop'} "
                f"where {DISTRIBUTION} {ours.version} is installed (editable)",
                shadowed=True,
            )
        return None
    init = ours.locate_file("sop/__init__.py")
    if Path(str(init)).resolve() != imported.resolve():
        return PackageProblem(
            f"sop is imported from {imported.parent}, not from {Path(str(init)).parent} "
            f"where {DISTRIBUTION} {ours.version} is installed",
            shadowed=True,
        )
    changed = [
        path for path, digest in recorded if not _matches(Path(str(ours.locate_file(path))), digest)
    ]
    if changed:
        listed = ", ".join(changed[:5]) + (
            f" and {len(changed) - 5} more" if len(changed) > 5 else ""
        )
        return PackageProblem(
            f"{len(changed)} file(s) of {DISTRIBUTION} {ours.version} were changed or removed "
            f"after it was installed: {listed}",
            shadowed=False,
        )
    return None


def _direct_url(dist: metadata.Distribution) -> tuple[str | None, bool]:
    """The local wheel or folder pip installed `dist` from (PEP 610), and whether it is an
    editable install; None when it came from an index or pip did not say."""
    try:
        data = json.loads(dist.read_text("direct_url.json") or "{}")
    except ValueError:
        return None, False
    url = str(data.get("url", ""))
    path = url.removeprefix("file://") if url.startswith("file://") else None
    return path, bool(data.get("dir_info", {}).get("editable"))


def _record(dist: metadata.Distribution) -> list[tuple[str, str]]:
    """The files the install of `dist` wrote, with their hashes ('sha256=...'; '' for none),
    from its RECORD: `Distribution.files` leaves out those that are gone since (Python 3.13)."""
    import csv

    rows = csv.reader((dist.read_text("RECORD") or "").splitlines())
    return [(row[0], row[1] if len(row) > 1 else "") for row in rows if row]


def _matches(path: Path, recorded: str) -> bool:
    mode, _, value = recorded.partition("=")
    try:
        digest = hashlib.new(mode, path.read_bytes()).digest()
    except (OSError, ValueError):
        return False
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode() == value


def _in_sop(path: str) -> bool:
    return path.startswith("sop/")


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


# --- the libraries sop needs ------------------------------------------------------------------

_REQUIREMENT = re.compile(
    r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*\(?([^;()]*)\)?\s*(;.*)?$"
)
_CLAUSE = re.compile(r"^\s*(>=|<=|==|!=|>|<|~=)\s*([0-9][0-9A-Za-z.*+!-]*)\s*$")


def check_libraries(dist_name: str = DISTRIBUTION) -> Check:
    """Every library sop requires (not the test extras) is installed in a version its
    metadata allows."""
    try:
        requires = metadata.requires(dist_name) or []
    except metadata.PackageNotFoundError:
        return Check("libraries", Status.WARN, f"{dist_name} is not installed: cannot check")
    found: list[str] = []
    wrong: list[str] = []
    for requirement in requires:
        match = _REQUIREMENT.match(requirement)
        if match is None or (match[3] and "extra" in match[3]):
            continue
        name, spec = match[1], match[2].strip()
        try:
            version = metadata.version(name)
        except metadata.PackageNotFoundError:
            wrong.append(f"{name} is missing (needs {spec or 'any version'})")
            continue
        found.append(f"{name} {version}")
        if not satisfies(version, spec):
            wrong.append(f"{name} {version} is outside {spec}")
    if wrong:
        return Check(
            "libraries",
            Status.FAIL,
            f"{'; '.join(wrong)}: install sop into a fresh environment, which resolves them "
            "(`pipx install --force WHEEL_OR_CLONE`)",
        )
    return Check("libraries", Status.OK, ", ".join(found))


def satisfies(version: str, spec: str) -> bool:
    """Whether `version` meets a comma-separated specifier such as `>=2.2,<4` (release
    numbers compared; enough for the bounds sop declares)."""
    have = _release(version)
    for clause in filter(None, (c.strip() for c in spec.split(","))):
        match = _CLAUSE.match(clause)
        if match is None:
            continue
        op, want = match[1], _release(match[2])
        width = max(len(have), len(want))
        a, b = have + (0,) * (width - len(have)), want + (0,) * (width - len(want))
        ok = {
            ">=": a >= b,
            "<=": a <= b,
            ">": a > b,
            "<": a < b,
            "==": a == b,
            "!=": a != b,
            "~=": a >= b and a[: len(want) - 1] == b[: len(want) - 1],
        }[op]
        if not ok:
            return False
    return True


def _release(version: str) -> tuple[int, ...]:
    numbers = re.match(r"^\s*v?(\d+(?:\.\d+)*)", version)
    return tuple(int(n) for n in numbers[1].split(".")) if numbers else ()


# --- SSH, inventory, state ----------------------------------------------------------------------


def check_ssh(ssh_config: Path | None, known_hosts: Path | None) -> Check:
    """The ssh config files a run reads and the known_hosts files it trusts."""
    from sop.executors.connections import ssh_setup
    from sop.executors.sshconfig import USER_SSH_CONFIG

    user_config = USER_SSH_CONFIG.expanduser()
    if ssh_config is None and user_config.exists() and not user_config.is_file():
        return Check(
            "ssh",
            Status.WARN,
            f"{user_config} is not a file: SSH settings in it are ignored (make it a file)",
        )
    try:
        setup = ssh_setup(ssh_config, known_hosts)
    except SopError as exc:
        return Check("ssh", Status.FAIL, f"cannot read {exc}")
    configs = ", ".join(map(str, setup.ssh_configs)) or "none (SSH defaults)"
    present = [(p, n) for p, n in setup.known_hosts if n is not None]
    if not any(n for _, n in present):
        first = setup.known_hosts[0][0]
        return Check(
            "ssh",
            Status.WARN,
            f"ssh config: {configs}; no host key known ({', '.join(str(p) for p, _ in setup.known_hosts)}): "
            f"sop refuses every host until its key is in {first} (`ssh HOST` once, or "
            f"`ssh-keyscan HOST >> {first}` after checking the fingerprint); local steps work",
        )
    keys = ", ".join(f"{p} ({n} key(s))" for p, n in present)
    return Check("ssh", Status.OK, f"ssh config: {configs}; known_hosts: {keys}")


def check_inventory(explicit: Sequence[Path]) -> Check:
    from sop.format.discovery import find_inventory
    from sop.format.sopfiles import search_dirs

    try:
        inventory = find_inventory(None, explicit)
    except SopError as exc:
        problems = getattr(exc, "problems", ())
        detail = "; ".join(str(p) for p in problems[:3]) if problems else str(exc)
        return Check("inventory", Status.FAIL, f"does not load: {detail}")
    if inventory is None:
        where = ", ".join(str(d) for d in search_dirs())
        return Check(
            "inventory",
            Status.WARN,
            f"no inventory.yaml in {where}: SOPs can run on `local` only "
            "(`sop init` writes an example; or give --inventory)",
        )
    where = str(inventory.path) if inventory.path else ", ".join(map(str, explicit))
    return Check(
        "inventory",
        Status.OK,
        f"{where}: {len(inventory.hosts)} host(s), {len(inventory.groups)} group(s)",
    )


def check_state_dir(explicit: Path | None) -> Check:
    """The state directory and its runs folder, as `sop run` checks them before it starts."""
    from sop.audit.sharing import sharing_of
    from sop.audit.state import default_state_dir

    root = explicit or default_state_dir()
    try:
        sharing = sharing_of(root, "state directory")
        sharing.check(root / "runs", "runs directory", folder=True)
    except SopError as exc:
        return Check("state dir", Status.FAIL, str(exc))
    return Check("state dir", Status.OK, _folder_text(root, sharing.gid))


def check_key_dir(state_dir: Path | None) -> Check:
    """The key folder the runs of that state directory use, as `sop run` checks it."""
    from sop.audit.escrow import key_folder
    from sop.audit.state import default_state_dir

    try:
        keys = key_folder(state_dir or default_state_dir())
        keys.sharing.check(keys.path, "audit key folder", folder=True)
    except SopError as exc:
        return Check("audit keys", Status.FAIL, str(exc))
    return Check("audit keys", Status.OK, _folder_text(keys.path, keys.sharing.gid))


def _folder_text(folder: Path, gid: int | None) -> str:
    if not folder.exists():
        return f"{folder} (made by the first run)"
    mode = f"mode {folder.stat().st_mode & 0o7777:04o}"
    if gid is not None:
        from sop.audit.sharing import group_name

        return f"{folder} ({mode}, shared with group {group_name(gid)})"
    return f"{folder} ({mode})"
