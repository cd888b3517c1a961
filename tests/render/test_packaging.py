from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from tests.render.conftest import REPO

TEMPLATES = REPO / "sop" / "render" / "templates"


def test_the_wheel_ships_every_default_template(tmp_path: Path) -> None:
    pip = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation"]
    subprocess.run(
        [*pip, "-w", str(tmp_path), str(REPO)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("*.whl")
    shipped = set(zipfile.ZipFile(wheel).namelist())
    expected = {
        f"sop/render/templates/{p.relative_to(TEMPLATES).as_posix()}"
        for p in TEMPLATES.rglob("*")
        if p.is_file()
    }
    assert len(expected) >= 10
    assert expected <= shipped
