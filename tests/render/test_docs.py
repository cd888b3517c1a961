"""The project's documentation builds with MkDocs, the rendered runbooks included: the recipe
of `make docs`, run on a copy of the repository's docs so that the checkout is left alone."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from tests.render.conftest import REPO

BIN = Path(sys.executable).parent


def docs_recipe() -> list[str]:
    """The command lines of the Makefile's `docs` target."""
    lines = (REPO / "Makefile").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("docs:"))
    recipe = []
    for line in lines[start + 1 :]:
        if not line.startswith("\t"):
            break
        recipe.append(line.strip().replace("$(BIN)", str(BIN)))
    return recipe


def test_make_docs_recipe_renders_runbooks_and_builds_strictly(tmp_path: Path) -> None:
    recipe = docs_recipe()
    assert any("sop render runbooks" in line for line in recipe)
    assert recipe[-1].endswith("mkdocs build --strict")
    shutil.copy(REPO / "mkdocs.yml", tmp_path)
    shutil.copytree(REPO / "runbooks", tmp_path / "runbooks")
    shutil.copytree(REPO / "docs", tmp_path / "docs", ignore=shutil.ignore_patterns("runbooks"))
    for line in recipe:
        result = subprocess.run(
            line, shell=True, cwd=tmp_path, capture_output=True, text=True, timeout=300
        )
        assert result.returncode == 0, f"{line}\n{result.stdout}\n{result.stderr}"
    site = tmp_path / "site"
    assert (site / "render" / "index.html").is_file()
    built = (site / "runbooks" / "disk-full" / "index.html").read_text()
    assert 'id="step-rotate"' in built
    assert "Force a logrotate run" in built
    assert (site / "runbooks" / "index.html").is_file()
    # the checklist's task items are boxes to tick (not disabled), as on a site that
    # `sop render --mkdocs` makes
    assert '<li class="task-list-item"><input type="checkbox"/> Open the disk dashboard' in built


def test_the_docs_site_has_the_extensions_of_a_generated_mkdocs_yml() -> None:
    """`make docs` renders the runbooks into this site: its Markdown extensions are those a
    generated mkdocs.yml turns on where pymdown-extensions is installed (it is for `make docs`)."""
    from sop.render.markdown import mkdocs_config
    from sop.render.pages import build_site

    generated = yaml.safe_load(mkdocs_config(build_site([]), "docs", "pymdownx".__eq__))
    ours = yaml.safe_load((REPO / "mkdocs.yml").read_text())
    assert ours["markdown_extensions"] == generated["markdown_extensions"]
    assert ours["strict"] is True
