"""Rendering attacks: text written by SOP authors stays text on the wiki, ids cannot steer
where pages are written, and template overrides cannot read files or escape the sandbox."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .conftest import Attack

XSS = """\
summary: "<script>alert(1)</script>"
context: "<img src=x onerror=alert(2)> [x](javascript:alert(3))"
steps:
  - id: look
    title: "<svg/onload=alert(4)>"
    prose: "<iframe src=javascript:alert(5)></iframe>"
  - id: act
    run: echo '</code><script>alert(6)</script>'
"""


def render(attack: Attack, fmt: str, *more: str) -> tuple[int, str, str]:
    result = attack.sop("render", "attack.yaml", "--format", fmt, "--out", "out", *more)
    attack.assert_nothing_ran()
    return result.returncode, result.stdout, result.stderr


@pytest.mark.parametrize("fmt", ["html", "confluence"])
def test_xss_corpus_is_escaped_in_pages(attack: Attack, fmt: str) -> None:
    attack.write(XSS)
    code, _, stderr = render(attack, fmt)
    assert code == 0, stderr
    ext = "html" if fmt == "html" else "xml"
    page = (attack.path / "out" / f"attack.{ext}").read_text()
    # CDATA (Confluence code blocks) is text, not markup: what matters is what is outside it
    page = re.sub(r"<!\[CDATA\[.*?\]\]>", "", page, flags=re.S)
    for markup in ("<script>alert", "<img src=x", "<svg/onload", "<iframe", 'href="javascript:'):
        assert markup not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_path_traversal_through_an_id_is_refused(attack: Attack) -> None:
    attack.write("steps:\n  - prose: hi\n", sop_id="../../escape")
    code, _, stderr = render(attack, "html")
    assert code == 1
    assert stderr == (
        "attack.yaml:2:5: id: '../../escape': an id uses lowercase letters, digits, '-' and '_'\n"
    )
    assert not (attack.path / "out").exists()
    assert not (attack.path.parent.parent / "escape.html").exists()


def override(attack: Attack, text: str) -> Path:
    """A templates folder whose html/page.html is `text`."""
    folder = attack.path / "templates"
    (folder / "html").mkdir(parents=True)
    (folder / "html" / "page.html").write_text(text)
    attack.write("steps:\n  - prose: hi\n")
    (attack.path.parent / "secret.txt").write_text("TOP-SECRET-FILE-CONTENT\n")
    return folder


@pytest.mark.parametrize(
    "include",
    ["../../secret.txt", "/etc/passwd", "html/../../../secret.txt"],
    ids=["parent", "absolute", "dotdot-inside"],
)
def test_a_template_override_cannot_include_a_file_outside(attack: Attack, include: str) -> None:
    override(attack, f"{{% include '{include}' %}}")
    code, _, stderr = render(attack, "html", "--templates", "templates")
    assert code == 1
    assert stderr == f"sop: error: template not found: {include}\n"
    assert "TOP-SECRET" not in stderr and not (attack.path / "out").exists()


def test_a_symlinked_template_leading_outside_is_refused(attack: Attack) -> None:
    folder = override(attack, "{% include 'html/leak.html' %}")
    (folder / "html" / "leak.html").symlink_to(attack.path.parent / "secret.txt")
    code, _, stderr = render(attack, "html", "--templates", "templates")
    assert code == 1
    assert stderr == "sop: error: template not found: html/leak.html\n"


def test_a_template_override_cannot_escape_the_sandbox(attack: Attack) -> None:
    override(attack, "{{ ''.__class__.__mro__[1].__subclasses__() }}")
    code, _, stderr = render(attack, "html", "--templates", "templates")
    assert code == 1
    assert stderr == (
        "sop: error: template html/page.html: blocked by the template sandbox: access to "
        "attribute '__class__' of 'str' object is unsafe.\n"
    )
