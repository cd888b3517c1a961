"""`sop doctor`: each check ok and failing, on real files, folders and modes; and the package
identity check against an installation whose `sop` another distribution overwrote."""

from __future__ import annotations

import base64
import grp
import hashlib
import json
import os
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from click.testing import CliRunner

import sop
from sop.checks.doctor import (
    Check,
    Status,
    check_inventory,
    check_key_dir,
    check_libraries,
    check_package,
    check_python,
    check_ssh,
    check_state_dir,
    satisfies,
)
from sop.cli import cli

SOP_PACKAGE = Path(sop.__file__).parent  # this checkout's, or the wheel's (test-installed)
KEY_LINE = (
    "web-1 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n"
)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HOME", str(tmp_path))
    return tmp_path


# --- python and libraries -----------------------------------------------------------------------


def test_python() -> None:
    assert check_python((3, 12, 4)) == Check(
        "python", Status.OK, f"Python 3.12.4 ({sys.executable})"
    )
    assert check_python((3, 14, 0)) == Check(
        "python",
        Status.WARN,
        f"Python 3.14.0 ({sys.executable}) is not one sop is tested on (3.11, 3.12, 3.13); "
        "if something breaks, install sop with one of those",
    )


@pytest.mark.parametrize(
    ("version", "spec", "ok"),
    [
        ("3.0.3", ">=2.2,<4", True),
        ("2.2", ">=2.2,<4", True),
        ("2.1.4", ">=2.2,<4", False),
        ("4.0", ">=2.2,<4", False),
        ("8.1.7", "~=8.1", True),
        ("9.0", "~=8.1", False),
        ("6.0.1", "", True),
        ("1.0", "!=1.0", False),
    ],
)
def test_satisfies(version: str, spec: str, ok: bool) -> None:
    assert satisfies(version, spec) is ok


def test_libraries_ok_here() -> None:
    check = check_libraries()
    assert check.status is Status.OK
    assert f"click {metadata.version('click')}" in check.message
    assert f"invoke {metadata.version('invoke')}" in check.message


def fake_distribution(
    site: Path,
    name: str,
    version: str,
    files: dict[str, bytes],
    requires: tuple[str, ...] = (),
    summary: str = "",
) -> None:
    """Install `files` into `site` with the dist-info a wheel install leaves (RECORD hashes)."""
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    lines += [f"Summary: {summary}"] if summary else []
    lines += [f"Requires-Dist: {r}" for r in requires]
    (info / "METADATA").write_text("\n".join(lines) + "\n")
    record = []
    for relative, content in files.items():
        path = site / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        digest = base64.urlsafe_b64encode(hashlib.sha256(content).digest()).rstrip(b"=")
        record.append(f"{relative},sha256={digest.decode()},{len(content)}")
    record.append(f"{info.name}/RECORD,,")
    (info / "RECORD").write_text("\n".join(record) + "\n")


def test_libraries_missing_or_out_of_range(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_distribution(
        tmp_path,
        "sop-fake",
        "1.0",
        {},
        requires=(
            "click>=99",
            "no-such-library-xyz>=1",
            "pyyaml (>=6.0.1,<7)",
            'pytest>=8; extra == "test"',
        ),
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    assert check_libraries("sop-fake") == Check(
        "libraries",
        Status.FAIL,
        f"click {metadata.version('click')} is outside >=99; no-such-library-xyz is missing "
        "(needs >=1): install sop into a fresh environment, which resolves them "
        "(`pipx install --force WHEEL_OR_CLONE`)",
    )


# --- the package's identity ---------------------------------------------------------------------

PGP_FILES = {  # what the Stateless OpenPGP `sop` 0.5.1 wheel installs
    "sop/__init__.py": b'"""Stateless OpenPGP"""\nfrom .__version__ import __version__\n',
    "sop/__main__.py": b"from sop import StatelessOpenPGP\n",
    "sop/__version__.py": b"__version__ = '0.5.1'\n",
    "sop/py.typed": b"",
}
PGP_SUMMARY = "A framework for implementing the Stateless OpenPGP CLI"


def install_sop(site: Path) -> None:
    """sop-runbooks as a wheel would install it: this checkout's package, with its RECORD."""
    files = {
        str(p.relative_to(SOP_PACKAGE.parent)): p.read_bytes()
        for p in sorted(SOP_PACKAGE.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }
    requires = tuple(metadata.requires("sop-runbooks") or ())
    fake_distribution(site, "sop-runbooks", "0.1.0", files, requires)


def identity(site: Path) -> Check:
    return check_package(site / "sop" / "__init__.py", metadata.distributions(path=[str(site)]))


def test_package_ok_when_every_file_is_as_installed(tmp_path: Path) -> None:
    install_sop(tmp_path)
    assert identity(tmp_path) == Check(
        "package", Status.OK, f"sop-runbooks 0.1.0 ({tmp_path / 'sop'})"
    )


def test_package_ok_here() -> None:
    check = check_package(Path(sop.__file__), metadata.distributions())
    assert check == Check("package", Status.OK, f"sop-runbooks {sop.__version__} ({SOP_PACKAGE})")


FIX = (
    "fix: `pip uninstall sop`, then `pip install --force-reinstall --no-deps WHEEL_OR_CLONE` "
    "(the sop-runbooks it came from); or give each its own environment (pipx install, uv tool "
    "install)"
)


def test_package_overwritten_by_stateless_openpgp_fails(tmp_path: Path) -> None:
    install_sop(tmp_path)
    fake_distribution(tmp_path, "sop", "0.5.1", PGP_FILES, summary=PGP_SUMMARY)  # installed after
    assert identity(tmp_path) == Check(
        "package",
        Status.FAIL,
        "2 file(s) of sop-runbooks 0.1.0 were changed or removed after it was installed: "
        f"sop/__init__.py, sop/__main__.py; sop 0.5.1 ({PGP_SUMMARY}) also installs the import "
        f"package sop; {FIX}",
    )


def test_package_that_overwrote_stateless_openpgp_warns(tmp_path: Path) -> None:
    fake_distribution(tmp_path, "sop", "0.5.1", PGP_FILES, summary=PGP_SUMMARY)
    shutil.rmtree(tmp_path / "sop")
    install_sop(tmp_path)  # installed after: sop works, the other one is broken
    assert identity(tmp_path) == Check(
        "package",
        Status.WARN,
        f"sop 0.5.1 ({PGP_SUMMARY}) also installs the import package sop: whichever was "
        f"installed last wins; {FIX}",
    )


def test_package_changed_by_hand_fails_and_names_where_to_reinstall_from(tmp_path: Path) -> None:
    install_sop(tmp_path)
    (next(tmp_path.glob("sop_runbooks-*.dist-info")) / "direct_url.json").write_text(
        json.dumps({"url": "file:///srv/wheels/sop_runbooks-0.1.0-py3-none-any.whl"})
    )
    with (tmp_path / "sop" / "cli" / "setup.py").open("a") as out:
        out.write("# changed\n")
    (tmp_path / "sop" / "errors.py").unlink()
    assert identity(tmp_path) == Check(
        "package",
        Status.FAIL,
        "2 file(s) of sop-runbooks 0.1.0 were changed or removed after it was installed: "
        "sop/cli/setup.py, sop/errors.py; fix: `pip install --force-reinstall --no-deps "
        "/srv/wheels/sop_runbooks-0.1.0-py3-none-any.whl` (the sop-runbooks it came from)",
    )


def test_package_imported_from_elsewhere_fails(tmp_path: Path) -> None:
    install_sop(tmp_path / "site")
    shadow = tmp_path / "shadow" / "sop" / "__init__.py"
    shadow.parent.mkdir(parents=True)
    shadow.write_text("")
    check = check_package(shadow, metadata.distributions(path=[str(tmp_path / "site")]))
    assert check == Check(
        "package",
        Status.FAIL,
        f"sop is imported from {shadow.parent}, not from {tmp_path / 'site' / 'sop'} "
        "where sop-runbooks 0.1.0 is installed; fix: take that folder off the Python path "
        "(PYTHONPATH, or the current folder)",
    )


def test_doctor_of_a_clobbered_installation_names_the_culprit(tmp_path: Path) -> None:
    """The whole command, run by a Python whose `import sop` finds the overwritten package
    first, as after `pip install sop-runbooks sop` into one environment."""
    site = tmp_path / "site"
    install_sop(site)
    fake_distribution(site, "sop", "0.5.1", PGP_FILES, summary=PGP_SUMMARY)
    env = {
        **os.environ,
        "PYTHONPATH": str(site),
        "HOME": str(tmp_path),
        "SOP_STATE_DIR": str(tmp_path / "state"),
        "SOP_AUDIT_KEYS": str(tmp_path / "keys"),
    }
    proc = subprocess.run(
        [sys.executable, "-c", "from sop.cli import main; main()", "doctor", "--format", "json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert proc.returncode == 1, proc.stderr
    checks = {c["check"]: c for c in json.loads(proc.stdout)["checks"]}
    assert checks["package"]["status"] == "fail"
    assert checks["package"]["message"].startswith(
        "2 file(s) of sop-runbooks 0.1.0 were changed or removed after it was installed"
    )
    assert f"sop 0.5.1 ({PGP_SUMMARY})" in checks["package"]["message"]
    assert [c["status"] for c in checks.values()].count("fail") == 1


# --- ssh --------------------------------------------------------------------------------------


def test_ssh_without_known_hosts_warns(home: Path) -> None:
    check = check_ssh(None, home / "known_hosts")
    assert check.status is Status.WARN
    assert check.message.endswith(
        f"no host key known ({home / 'known_hosts'}): sop refuses every host until its key is "
        f"in {home / 'known_hosts'} (`ssh HOST` once, or `ssh-keyscan HOST >> "
        f"{home / 'known_hosts'}` after checking the fingerprint); local steps work"
    )


def test_ssh_ok_names_the_files(home: Path) -> None:
    (home / ".ssh").mkdir()
    (home / ".ssh" / "config").write_text(f"Host *\n  UserKnownHostsFile {home}/hosts\n")
    (home / "hosts").write_text(KEY_LINE)
    check = check_ssh(None, None)
    assert check.status is Status.OK
    assert check.message.startswith(f"ssh config: {home / '.ssh' / 'config'}")
    assert check.message.endswith(f"known_hosts: {home / 'hosts'} (1 key(s))")


def test_ssh_config_that_does_not_parse_fails(home: Path) -> None:
    config = home / "ssh_config"
    config.write_text("Host web-1\n  Port\n")
    assert check_ssh(config, None) == Check(
        "ssh", Status.FAIL, f"cannot read {config}: Unparsable line Port"
    )


def test_ssh_config_folder_is_ignored_and_says_so(home: Path) -> None:
    (home / ".ssh" / "config").mkdir(parents=True)
    assert check_ssh(None, None) == Check(
        "ssh",
        Status.WARN,
        f"{home / '.ssh' / 'config'} is not a file: SSH settings in it are ignored (make it a file)",
    )


def test_known_hosts_folder_fails(home: Path) -> None:
    (home / "known").mkdir()
    assert check_ssh(None, home / "known") == Check(
        "ssh", Status.FAIL, f"cannot read {home / 'known'}: Is a directory"
    )


# --- inventory, state dir, key folder -------------------------------------------------------------


def test_inventory(in_tmp: Path) -> None:
    assert check_inventory(()).status is Status.WARN
    (in_tmp / "runbooks").mkdir()
    (in_tmp / "runbooks" / "inventory.yaml").write_text(
        "hosts: {web-1: {address: web-1.example}}\ngroups: {web: [web-1]}\n"
    )
    assert check_inventory(()) == Check(
        "inventory", Status.OK, "runbooks/inventory.yaml: 1 host(s), 1 group(s)"
    )
    (in_tmp / "runbooks" / "inventory.yaml").write_text("hosts: {web-1: {adress: x}}\n")
    check = check_inventory(())
    assert check.status is Status.FAIL
    assert check.message.startswith("does not load: runbooks/inventory.yaml:1:17: hosts.web-1")


def test_inventories_given_are_merged(in_tmp: Path) -> None:
    (in_tmp / "a.yaml").write_text("hosts: {web-1: {address: web-1.example}}\n")
    (in_tmp / "b.yaml").write_text("hosts: {db-1: {address: db-1.example}}\n")
    check = check_inventory((Path("a.yaml"), Path("b.yaml")))
    assert check.status is Status.OK
    assert check.message.endswith(": 2 host(s), 0 group(s)")


def test_inventory_warns_where_it_looked(in_tmp: Path) -> None:
    assert check_inventory(()) == Check(
        "inventory",
        Status.WARN,
        "no inventory.yaml in runbooks: SOPs can run on `local` only (`sop init` writes an "
        "example; or give --inventory)",
    )


def test_state_dir(tmp_path: Path) -> None:
    state = tmp_path / "state"
    assert check_state_dir(state) == Check(
        "state dir", Status.OK, f"{state} (made by the first run)"
    )
    state.mkdir(mode=0o700)
    assert check_state_dir(state) == Check("state dir", Status.OK, f"{state} (mode 0700)")
    state.chmod(0o777)
    assert check_state_dir(state) == Check(
        "state dir",
        Status.FAIL,
        f"state directory {state} is writable by other users; run `chmod o-w {state}` first",
    )
    state.chmod(0o700)
    (state / "runs").symlink_to(tmp_path)
    assert check_state_dir(state) == Check(
        "state dir",
        Status.FAIL,
        f"runs directory {state / 'runs'} is a symbolic link; sop refuses it (use the folder "
        "itself)",
    )


def test_state_dir_shared_with_a_group(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    state.chmod(0o2770)
    group = grp.getgrgid(state.stat().st_gid).gr_name
    assert check_state_dir(state) == Check(
        "state dir", Status.OK, f"{state} (mode 2770, shared with group {group})"
    )


def test_key_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    keys = tmp_path / "keys"
    monkeypatch.setenv("SOP_AUDIT_KEYS", str(keys))
    assert check_key_dir(None) == Check("audit keys", Status.OK, f"{keys} (made by the first run)")
    keys.mkdir(mode=0o700)
    assert check_key_dir(None) == Check("audit keys", Status.OK, f"{keys} (mode 0700)")
    keys.chmod(0o770)
    group = grp.getgrgid(keys.stat().st_gid).gr_name
    assert check_key_dir(None) == Check(
        "audit keys",
        Status.FAIL,
        f"audit key folder {keys} is writable by group {group} but not set-group-ID, so what "
        f"sop makes in it would not stay the group's: run `chmod g+s {keys}` to share it with "
        f"the members of {group}, or `chmod g-w {keys}` to keep it private",
    )
    keys.chmod(0o700)
    keys.rmdir()
    keys.symlink_to(tmp_path)
    assert check_key_dir(None) == Check(
        "audit keys",
        Status.FAIL,
        f"audit key folder {keys} is a symbolic link; sop refuses it (name the real folder "
        "instead)",
    )


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a folder to another user")
def test_key_dir_of_another_user(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    keys = tmp_path / "keys"
    monkeypatch.setenv("SOP_AUDIT_KEYS", str(keys))
    keys.mkdir(mode=0o700)
    os.chown(keys, 12345, -1)
    check = check_key_dir(None)
    assert check.status is Status.FAIL
    assert check.message.startswith(f"audit key folder {keys} belongs to another user, ")


# --- the command ------------------------------------------------------------------------------


def test_doctor_prints_one_line_per_check_and_fails_on_a_fail(
    in_tmp: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOP_STATE_DIR", str(in_tmp / "state"))
    monkeypatch.setenv("SOP_AUDIT_KEYS", str(in_tmp / "keys"))
    result = CliRunner().invoke(cli, ["doctor"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert [line[:18] for line in lines] == [
        "ok    python      ",
        "ok    package     ",
        "ok    libraries   ",
        "ok    config      ",
        "warn  ssh         ",
        "warn  inventory   ",
        "ok    state dir   ",
        "ok    audit keys  ",
    ]
    assert lines[3] == "ok    config      no configuration file: sop's defaults"
    assert lines[6] == f"ok    state dir   {in_tmp / 'state'} (made by the first run)"
    (in_tmp / "state").mkdir(mode=0o777)
    (in_tmp / "state").chmod(0o777)
    result = CliRunner().invoke(cli, ["doctor", "--format", "json"])
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["ok"] is False
    assert [c["status"] for c in report["checks"]] == [
        "ok",
        "ok",
        "ok",
        "ok",
        "warn",
        "warn",
        "fail",
        "ok",
    ]


def test_doctor_says_where_each_configuration_value_came_from(
    in_tmp: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOP_STATE_DIR", str(in_tmp / "state"))
    (in_tmp / "sop.toml").write_text('preflight = "warn"\nstate_dir = "elsewhere"\n')
    result = CliRunner().invoke(cli, ["doctor"])
    (line,) = [line for line in result.stdout.splitlines() if line.startswith("warn  config")]
    toml = in_tmp / "sop.toml"
    assert line == (
        f"warn  config      project {toml} (not trusted); preflight = warn ({toml}:1:1); "
        f"ignored: {toml}:2:1: state_dir: warning: ignored: sop.toml is a project configuration "
        "you have not trusted, and `state_dir` could make sop run or send something; read the "
        f"file, then `sop config trust {toml}`"
    )
    assert CliRunner().invoke(cli, ["config", "trust", str(toml)]).exit_code == 0
    result = CliRunner().invoke(cli, ["doctor"])
    (line,) = [line for line in result.stdout.splitlines() if " config " in line]
    assert line == (
        f"ok    config      project {toml}; preflight = warn ({toml}:1:1); state_dir = "
        f"{in_tmp / 'elsewhere'} ($SOP_STATE_DIR overrides it)"
    )
