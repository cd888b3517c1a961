"""`--templates DIR` overrides the built-in templates by name, inside a sandbox."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sop.model import Sop
from sop.render import render_files
from sop.templating import TemplateError


def override(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return folder


def test_an_override_replaces_one_template_and_keeps_the_others(
    sample_sops: tuple[Sop, ...], tmp_path: Path
) -> None:
    folder = override(
        tmp_path / "tpl",
        "markdown/page.md",
        "# {{ sop.title | text }}\n"
        "Owner: {{ sop.metadata[0]['values'] | join(', ') }}\n"
        "{% from 'markdown/steps.md' import checklist %}{{ checklist(sop.sections, 2) }}",
    )
    files = render_files(sample_sops, "markdown", [folder])
    page = files["restart-api.md"]
    assert page.startswith("# Restart the API safely\nOwner: team-api\n")
    assert '<a id="step-warm"></a>' in page  # the built-in steps macro, reused
    assert files["index.md"].startswith("# Standard Operating Procedures")  # not overridden


def test_html_overrides_can_extend_the_built_in_base(
    sample_sops: tuple[Sop, ...], tmp_path: Path
) -> None:
    folder = override(
        tmp_path / "tpl",
        "html/page.html",
        '{% extends "html/base.html" %}{% block title %}{{ sop.title }}{% endblock %}'
        "{% block main %}<h1>{{ sop.title }}</h1><p>{{ sop.summary }}</p>{% endblock %}",
    )
    page = render_files(sample_sops, "html", [folder])["restart-api.html"]
    assert "<h1>Restart the API safely</h1><p>Restart the API service" in page
    assert "@media print" in page


@pytest.mark.parametrize(
    "text",
    [
        "{% include '/etc/passwd' %}",
        "{% include '../secret.txt' %}",
        "{% include 'link.txt' %}",  # a symlink to a file outside the folder
    ],
)
def test_overrides_cannot_read_files_outside_the_folder(
    sample_sops: tuple[Sop, ...], tmp_path: Path, text: str
) -> None:
    (tmp_path / "secret.txt").write_text("TOP SECRET")
    folder = override(tmp_path / "tpl", "markdown/index.md", text)
    os.symlink(tmp_path / "secret.txt", folder / "link.txt")
    with pytest.raises(TemplateError, match="template not found"):
        render_files(sample_sops, "markdown", [folder])


@pytest.mark.parametrize(
    "text",
    [
        "{{ sop.__class__.__mro__ }}",
        "{{ ''.__class__.__subclasses__() }}",
        "{{ sop.links.append(1) }}",
    ],
)
def test_overrides_run_in_a_sandbox(
    sample_sops: tuple[Sop, ...], tmp_path: Path, text: str
) -> None:
    folder = override(tmp_path / "tpl", "markdown/page.md", text)
    with pytest.raises(TemplateError, match="sandbox"):
        render_files(sample_sops, "markdown", [folder])


def test_a_broken_override_names_the_file_and_line(
    sample_sops: tuple[Sop, ...], tmp_path: Path
) -> None:
    folder = override(tmp_path / "tpl", "markdown/page.md", "ok\n{% if %}\n")
    with pytest.raises(TemplateError, match=r"page\.md:2: template syntax error"):
        render_files(sample_sops, "markdown", [folder])


def test_an_undefined_name_is_an_error(sample_sops: tuple[Sop, ...], tmp_path: Path) -> None:
    folder = override(tmp_path / "tpl", "markdown/page.md", "{{ sop.no_such_field }}")
    with pytest.raises(TemplateError, match="undefined variable"):
        render_files(sample_sops, "markdown", [folder])


def test_the_page_sandbox_answers_for_a_loop_as_the_immutable_sandbox_does() -> None:
    from jinja2 import StrictUndefined
    from jinja2.runtime import LoopContext
    from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

    from sop.templating import page_sandbox

    loop = LoopContext(iter([1, 2]), undefined=lambda *a, **k: None)
    page = page_sandbox()(undefined=StrictUndefined)
    plain = ImmutableSandboxedEnvironment()
    names = dir(loop)
    assert {"first", "index", "cycle", "__class__", "_iterator"} <= set(names)
    for name in names:
        value = getattr(loop, name)
        assert page.is_safe_attribute(loop, name, value) == plain.is_safe_attribute(
            loop, name, value
        ), name
    rendered = page.from_string("{% for x in xs %}{{ loop.index }}{{ loop.last }};{% endfor %}")
    assert rendered.render(xs=[1, 2]) == "1False;2True;"
    with pytest.raises(SecurityError, match="unsafe"):
        page.from_string("{% for x in xs %}{{ loop._iterator }}{% endfor %}").render(xs=[1])
