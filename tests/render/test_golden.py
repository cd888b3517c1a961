"""The sample SOP rendered in each format, byte for byte. After an intended change to the
pages, regenerate the files and review the diff:

    SOP_UPDATE_GOLDEN=1 .venv/bin/pytest tests/render/test_golden.py
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sop.model import Sop
from sop.render import FORMATS, render_files

GOLDEN = Path(__file__).resolve().parent / "golden"
UPDATE = os.environ.get("SOP_UPDATE_GOLDEN") == "1"


@pytest.mark.parametrize("fmt", FORMATS)
def test_sample_matches_the_golden_files(fmt: str, sample_sops: tuple[Sop, ...]) -> None:
    files = render_files(sample_sops, fmt)
    folder = GOLDEN / fmt
    if UPDATE:
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.iterdir():
            old.unlink()
        for name, text in files.items():
            (folder / name).write_bytes(text.encode())
    assert sorted(p.name for p in folder.iterdir()) == sorted(files)
    for name, text in files.items():
        assert text == (folder / name).read_text(encoding="utf-8"), f"{fmt}/{name} changed"
