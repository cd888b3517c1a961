"""The Markdown pages are MDX too (Docusaurus reads .md as MDX): compiled for real by the MDX
compiler that scripts/system-deps installs from tests/render/mdx/package-lock.json."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from sop.render import render_library
from tests.render.conftest import HERE, RUNBOOKS, SAMPLE, load

MDX = HERE / "mdx"


def compile_mdx(pages: list[Path]) -> subprocess.CompletedProcess[str]:
    node = shutil.which("node")
    assert node, "node is not installed; run `make system-deps` (make test does)"
    assert (MDX / "node_modules" / "@mdx-js" / "mdx").is_dir(), (
        "the MDX compiler is not installed; run `make system-deps` (make test does)"
    )
    return subprocess.run(
        [node, str(MDX / "compile.mjs"), *map(str, pages)],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_every_page_of_the_runbooks_compiles_as_mdx(tmp_path: Path) -> None:
    written = render_library(load(RUNBOOKS, SAMPLE), "markdown", tmp_path)
    pages = sorted(path for path in written if path.suffix == ".md")
    result = compile_mdx(pages)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.endswith(f"{len(pages)} compiled, 0 failed\n")


def test_the_compiler_refuses_what_the_pages_avoid(tmp_path: Path) -> None:
    """The check can fail: a placeholder, a tag and an autolink as they were written."""
    pages = []
    for name, text in (
        ("brace", "Check {{ host }}.\n"),
        ("tag", "a <= b\n"),
        ("autolink", "See <https://x.example>.\n"),
    ):
        pages.append(tmp_path / f"{name}.md")
        pages[-1].write_text(text)
    result = compile_mdx(pages)
    assert result.returncode == 1
    assert result.stdout.endswith("0 compiled, 3 failed\n")
