"""Every public runbook of tests/data/import converts into an SOP that loads and lints without
errors; the only warnings are decisions left to a person (an owner, a review date, a TODO)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from sop.checks.lint import lint_sop
from sop.format.loader import load_sop
from sop.importer import import_file
from tests.conftest import REPO

CORPUS = REPO / "tests" / "data" / "import"
COMMITS = {
    "prometheus-operator-runbooks": (
        "prometheus-operator/runbooks",
        "a685d14cf5128bb30e2bf935c3983decd772d885",
    ),
    "openshift-runbooks": ("openshift/runbooks", "82bd2d9d3789e76f8a8202f8a9ee0f0639cc5b73"),
}
RUNBOOKS = sorted(p for p in CORPUS.rglob("*.md") if p.name != "README.md")
PERSON_DECIDES = {"metadata", "todo"}


def _origin(path: Path) -> str:
    folder, *rest = path.relative_to(CORPUS).parts
    repo, commit = COMMITS[folder]
    return f"https://github.com/{repo}/blob/{commit}/{'/'.join(rest)}"


def test_the_corpus_holds_at_least_20_runbooks_each_listed_with_its_licence() -> None:
    readme = (CORPUS / "README.md").read_text()
    assert len(RUNBOOKS) >= 20
    for path in RUNBOOKS:
        assert f"`{path.relative_to(CORPUS)}`" in readme
    for folder in COMMITS:
        assert "Apache License" in (CORPUS / folder / "LICENSE").read_text()
        assert COMMITS[folder][1] in readme


@pytest.mark.parametrize("path", RUNBOOKS, ids=lambda p: p.stem)
def test_a_public_runbook_imports_lint_clean(path: Path, tmp_path: Path) -> None:
    imported = import_file(path, origin=_origin(path))
    out = tmp_path / f"{imported.sop_id}.yaml"
    out.write_text(imported.text)
    sop = load_sop(out)
    problems = lint_sop(sop, today=dt.date(2026, 12, 1))
    assert [str(p) for p in problems if p.severity == "error"] == []
    assert {p.code for p in problems} <= PERSON_DECIDES
    assert sop.links[0].url == _origin(path)  # the source is named
    assert imported.text.startswith(f"# Imported by `sop import` from {_origin(path)}\n")
    for note in imported.notes:  # every note is in the SOP, where the author sees it
        assert f"sop import: {note.message} (source line {note.line})" in imported.text
    if any("TODO" in note.message or "no procedure" in note.message for note in imported.notes):
        assert any(p.code == "todo" for p in problems)
