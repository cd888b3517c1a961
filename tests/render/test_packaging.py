from __future__ import annotations

import subprocess
import sys
import zipfile

import pytest

from sop.checks.doctor import SUPPORTED_PYTHONS
from tests.render.conftest import REPO

TEMPLATES = REPO / "sop" / "render" / "templates"
EXAMPLE = REPO / "sop" / "examples" / "library"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    out = tmp_path_factory.mktemp("wheel")
    pip = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation"]
    subprocess.run(
        [*pip, "-w", str(out), str(REPO)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (path,) = out.glob("*.whl")
    return zipfile.ZipFile(path)


def test_the_wheel_ships_every_default_template(wheel: zipfile.ZipFile) -> None:
    shipped = set(wheel.namelist())
    expected = {
        f"sop/render/templates/{p.relative_to(TEMPLATES).as_posix()}"
        for p in TEMPLATES.rglob("*")
        if p.is_file()
    }
    assert len(expected) >= 10
    assert expected <= shipped


def test_the_wheel_ships_the_example_library_and_the_license(wheel: zipfile.ZipFile) -> None:
    """`sop init` copies the example library from the installed package: the demo is the
    repository's runbooks/demo.yaml (a link in the source tree, a file in the wheel)."""
    example = {
        f"sop/examples/library/{p.relative_to(EXAMPLE).as_posix()}": p
        for p in EXAMPLE.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    assert "sop/examples/library/runbooks/demo.yaml" in example
    assert "sop/examples/library/.pre-commit-config.yaml" in example
    for name, source in example.items():
        assert wheel.read(name) == source.read_bytes(), name
    (metadata,) = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
    info = wheel.read(metadata).decode()
    assert "License-Expression: MIT\n" in info
    assert (
        wheel.read(metadata.replace("METADATA", "licenses/LICENSE"))
        == (REPO / "LICENSE").read_bytes()
    )
    declared = [
        line.removeprefix("Classifier: Programming Language :: Python :: ")
        for line in info.splitlines()
        if line.startswith("Classifier: Programming Language :: Python :: 3.")
    ]
    assert declared == [f"{a}.{b}" for a, b in SUPPORTED_PYTHONS]
