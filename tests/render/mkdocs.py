"""Rendered Markdown built as users build it: a real `mkdocs build --strict` (MkDocs and the
Material theme come with the test environment)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

MKDOCS = Path(sys.executable).parent / "mkdocs"


def build_strict(folder: Path, timeout: float = 180) -> Path:
    """`mkdocs build --strict` in `folder` (pages rendered there with `mkdocs=True`); the built
    site's folder. A warning or an error fails the test with mkdocs' own words."""
    result = subprocess.run(
        [str(MKDOCS), "build", "--strict", "--quiet"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, result.stderr
    return folder / "site"
