from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from sop.format.discovery import load_library
from sop.model import Sop

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
SAMPLE = HERE / "sample"
RUNBOOKS = REPO / "runbooks"
# two SOPs of the library that these tests know by heart (the library itself grows)
TWO_RUNBOOKS = (RUNBOOKS / "demo.yaml", RUNBOOKS / "disk-full.yaml")


def load(*paths: Path) -> tuple[Sop, ...]:
    library = load_library(list(paths))
    assert not library.problems, [str(p) for p in library.problems]
    return library.sops


@pytest.fixture(scope="session")
def sample_sops() -> tuple[Sop, ...]:
    return load(SAMPLE)


@pytest.fixture(scope="session")
def runbook_sops() -> tuple[Sop, ...]:
    return load(*TWO_RUNBOOKS)


@pytest.fixture
def sample_copy(tmp_path: Path) -> Path:
    """A writable copy of the sample folder."""
    return Path(shutil.copytree(SAMPLE, tmp_path / "sample"))
