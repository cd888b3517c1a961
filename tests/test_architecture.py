"""The architecture of docs/architecture.md, checked against the code's imports: which wing may
import which, where each third-party library is imported, and that the wings form no cycle."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

from tests.conftest import REPO

PACKAGE = REPO / "sop"

CORE = frozenset(
    {
        "errors",
        "model",
        "events",
        "outcomes",
        "clock",
        "redact",
        "templating",
        "text",
        "files",
    }
)

# wing -> the wings (besides the core) it may import; the core imports only the core
ALLOWED: dict[str, frozenset[str]] = {
    "executors": frozenset(),
    "format": frozenset(),
    "audit": frozenset(),
    "drill": frozenset({"audit", "run"}),  # a drill is a run with simulated results
    "render": frozenset({"audit", "format"}),  # task docstrings read statically; gc pause
    "checks": frozenset({"audit", "executors", "format"}),
    "run": frozenset({"audit", "checks", "executors", "format"}),
    "tabletop": frozenset({"checks", "format"}),
    "testing": frozenset({"run", "executors", "format"}),
    "cli": frozenset(
        {"audit", "checks", "drill", "executors", "format", "render", "run", "tabletop"}
    ),
    "__main__": frozenset({"cli"}),
}

# third-party library -> the only modules that import it
LIBRARIES: dict[str, frozenset[str]] = {
    "click": frozenset(
        {
            "sop.cli",
            "sop.cli.audit",
            "sop.cli.library",
            "sop.cli.params",
            "sop.cli.render",
            "sop.cli.running",
            "sop.cli.tabletop",
            "sop.cli.ui",
            "sop.tabletop.terminal",
        }
    ),
    "rich": frozenset({"sop.cli.ui"}),
    "pygments": frozenset({"sop.cli.ui"}),
    "yaml": frozenset({"sop.format.yamlnodes"}),
    "jinja2": frozenset({"sop.templating"}),
    "markupsafe": frozenset({"sop.templating"}),
    "paramiko": frozenset({"sop.executors.connections"}),
    "fabric": frozenset({"sop.executors.connections", "sop.executors.ssh"}),
    "invoke": frozenset({"sop.executors.invoking", "sop.executors.local", "sop.executors.tasks"}),
    "markdown_it": frozenset({"sop.render.prose"}),
}


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(REPO).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def _imports(path: Path) -> set[str]:
    """Every module name an import statement in the file names (at any depth: lazy imports
    inside functions count too)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _wing(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


MODULES = _modules()


def test_the_core_and_the_wings_are_what_the_package_holds() -> None:
    top = {_wing(m) for m in MODULES} - {"__init__"}
    assert top - CORE - set(ALLOWED) == set()  # a new module: give it a place in this file
    assert set(ALLOWED) - top == set()


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_point_one_way(module: str) -> None:
    wing = _wing(module)
    allowed = CORE | {"__init__", "__version__"}
    if wing not in CORE | {"__init__"}:
        allowed = allowed | ALLOWED[wing] | {wing}
    elif module == "sop.model":
        allowed = frozenset({"errors"})
    wrong = sorted(
        name
        for name in _imports(MODULES[module])
        if name.split(".")[0] == "sop" and _wing(name) not in allowed
    )
    assert wrong == [], f"{module} ({wing}) imports {wrong}"


@pytest.mark.parametrize("library", sorted(LIBRARIES))
def test_each_library_is_imported_in_one_place(library: str) -> None:
    importers = {
        module
        for module, path in MODULES.items()
        if any(name.split(".")[0] == library for name in _imports(path))
    }
    assert importers <= LIBRARIES[library], sorted(importers - LIBRARIES[library])


def test_the_wings_form_no_cycle() -> None:
    edges: dict[str, set[str]] = defaultdict(set)
    for module, path in MODULES.items():
        for name in _imports(path):
            if name.split(".")[0] == "sop" and _wing(name) != _wing(module):
                edges[_wing(module)].add(_wing(name))

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for nxt in edges[start]:
            if nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})):
                return True
        return False

    cycles = sorted(wing for wing in list(edges) if reaches(wing, wing, {wing}))
    assert cycles == []
