"""Blank lines: the built-in templates never make two in a row (so no Markdown page needs the
parse that squeezes them), and code shows its own exactly."""

from __future__ import annotations

from pathlib import Path

import pytest

from sop.model import Sop
from sop.render import FORMATS, read_history, render_files
from sop.render import prose as prose_module
from tests.render.auditlogs import synthetic_state
from tests.render.conftest import RUNBOOKS, load
from tests.render.test_confluence import code_macros, parse

SCRIPT = "echo one\n\n\n\necho two"
SOP_WITH_BLANK_LINES = """\
sop: 1
id: blank-lines
title: Blank lines in code
summary: |
  First paragraph.



  Second paragraph.
steps:
  - id: script
    title: A script with blank lines
    script: "echo one\\n\\n\\n\\necho two"
  - id: look
    title: Look
    prose: |
      Before.

      ```
      inside


      the fence
      ```
"""


@pytest.fixture
def blank_lines_sop(tmp_path: Path) -> Sop:
    path = tmp_path / "blank-lines.yaml"
    path.write_text(SOP_WITH_BLANK_LINES)
    return load(path)[0]


def test_built_in_markdown_templates_need_no_squeeze(
    monkeypatch: pytest.MonkeyPatch, sample_sops: tuple[Sop, ...], tmp_path: Path
) -> None:
    squeeze = prose_module.squeeze_blank_lines

    def no_squeeze(text: str) -> str:
        """Prose with code fences is parsed for them (neutralise): only a squeeze is refused."""
        assert not prose_module._has_two_blank_lines_in_a_row(text), "a page needed a squeeze"
        return squeeze(text)

    monkeypatch.setattr(prose_module, "squeeze_blank_lines", no_squeeze)
    history = read_history(synthetic_state(tmp_path / "state"))
    for sops, runs in ((load(RUNBOOKS), None), (sample_sops, history)):
        for text in render_files(sops, "markdown", history=runs).values():
            assert "\n\n\n" not in text


def test_markdown_keeps_blank_lines_in_code_and_squeezes_the_rest(blank_lines_sop: Sop) -> None:
    page = render_files([blank_lines_sop], "markdown")["blank-lines.md"]
    assert f"```bash\n{SCRIPT}\n```" in page
    assert "    ```\n    inside\n\n\n    the fence\n    ```" in page  # in its list item
    assert "First paragraph.\n\nSecond paragraph." in page


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_shows_a_script_with_its_blank_lines(blank_lines_sop: Sop, fmt: str) -> None:
    files = render_files([blank_lines_sop], fmt)
    page = next(text for name, text in files.items() if name.startswith("blank-lines"))
    if fmt == "confluence":
        assert code_macros(parse(page))[0] == SCRIPT
    else:
        assert SCRIPT in page
