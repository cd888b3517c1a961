"""The sample SOP with a fixed, synthetic run history (tests/render/auditlogs.py), rendered in
each format, byte for byte. After an intended change, regenerate and review the diff:

    SOP_UPDATE_GOLDEN=1 .venv/bin/pytest tests/render/test_history_golden.py
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sop.model import Sop
from sop.render import FORMATS, read_history, render_files
from tests.render.auditlogs import synthetic_state

GOLDEN = Path(__file__).resolve().parent / "golden-runs"
UPDATE = os.environ.get("SOP_UPDATE_GOLDEN") == "1"
EXTENSION = {"markdown": "md", "html": "html", "confluence": "xml"}


@pytest.mark.parametrize("fmt", FORMATS)
def test_sample_with_run_history_matches_the_golden_file(
    fmt: str, sample_sops: tuple[Sop, ...], tmp_path: Path
) -> None:
    history = read_history(synthetic_state(tmp_path / "state"))
    files = render_files(sample_sops, fmt, history=history)
    name = f"restart-api.{EXTENSION[fmt]}"
    golden = GOLDEN / fmt / name
    if UPDATE:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_bytes(files[name].encode())
    assert files[name] == golden.read_text(encoding="utf-8"), f"{fmt}/{name} changed"
    # the index and the manifest carry no history
    assert {k: v for k, v in files.items() if k != name} == {
        k: v for k, v in render_files(sample_sops, fmt).items() if k != name
    }


def test_the_same_logs_give_the_same_bytes(sample_sops: tuple[Sop, ...], tmp_path: Path) -> None:
    first = render_files(sample_sops, "html", history=read_history(synthetic_state(tmp_path / "a")))
    again = render_files(sample_sops, "html", history=read_history(synthetic_state(tmp_path / "b")))
    assert first == again
