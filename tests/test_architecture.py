"""The architecture of docs/architecture.md, checked against the code's imports: which wing may
import which, where each third-party library is imported, and that the wings form no cycle."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

from tests.conftest import REPO

PACKAGE = REPO / "sop"
EXAMPLES = PACKAGE / "examples"  # data the package carries (`sop init` copies it), not its code

CORE = frozenset(
    {
        "errors",
        "model",
        "events",
        "redact",
        "templating",
        "text",
        "files",
        "records",
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
    "importer": frozenset(),  # Markdown in, YAML text out: the core only
    "config": frozenset({"audit"}),  # whom files are trusted from (audit/sharing.py)
    "publish": frozenset({"render"}),  # the pages it puts on a wiki
    "cli": frozenset(
        {
            "audit",
            "checks",
            "config",
            "drill",
            "executors",
            "format",
            "importer",
            "publish",
            "render",
            "run",
            "tabletop",
        }
    ),
    "__main__": frozenset({"cli"}),
}

# third-party library -> the only modules that import it
LIBRARIES: dict[str, frozenset[str]] = {
    "click": frozenset(
        {
            "sop.cli",
            "sop.cli.approving",
            "sop.cli.audit",
            "sop.cli.config",
            "sop.cli.importing",
            "sop.cli.library",
            "sop.cli.params",
            "sop.cli.prompter",
            "sop.cli.publish",
            "sop.cli.render",
            "sop.cli.running",
            "sop.cli.setup",
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
    "paramiko": frozenset({"sop.executors.connections", "sop.executors.sshconfig"}),
    "fabric": frozenset({"sop.executors.connections", "sop.executors.ssh"}),
    "invoke": frozenset({"sop.executors.invoking", "sop.executors.local", "sop.executors.tasks"}),
    "markdown_it": frozenset({"sop.render.prose", "sop.importer.markdown"}),
}


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if EXAMPLES in path.parents:
            continue
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
    assert len(CORE) <= 8  # issue 12: a small core; a new concern belongs in a wing


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


def test_no_module_imports_itself_through_others() -> None:
    """Issue 12: no import cycles between modules either (lazy imports inside functions count:
    a circle is a circle whenever it closes). A package's `__init__` is left out: importing
    `sop.run.x` runs it, which is no edge of anyone's making."""
    edges: dict[str, set[str]] = defaultdict(set)
    for module, path in MODULES.items():
        if path.name == "__init__.py":
            continue
        for name in _imports(path):
            if name in MODULES and name != module and MODULES[name].name != "__init__.py":
                edges[module].add(name)
    circles = []
    for start in sorted(edges):
        stack, seen = [(start, (start,))], {start}
        while stack:
            here, trail = stack.pop()
            for nxt in sorted(edges[here]):
                if nxt == start:
                    circles.append(" -> ".join((*trail, start)))
                elif nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, (*trail, nxt)))
    assert circles == []


def _calls(path: Path) -> list[tuple[str, str]]:
    """(enclosing function, dotted name) of every call and raise in a file."""
    out: list[tuple[str, str]] = []

    def visit(node: ast.AST, function: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                visit(child, child.name)
                continue
            if isinstance(child, ast.Call):
                out.append((function, ast.unparse(child.func)))
            if isinstance(child, ast.Raise) and child.exc is not None:
                out.append((function, "raise " + ast.unparse(child.exc).split("(")[0]))
            visit(child, function)

    visit(ast.parse(path.read_text()), "")
    return out


def test_only_the_cli_main_exits_the_process() -> None:
    exits = sorted(
        f"{module}:{function}"
        for module, path in MODULES.items()
        for function, name in _calls(path)
        if name in ("sys.exit", "exit", "quit", "os._exit")
    )
    # main, and _leave (os._exit, skipping the interpreter's teardown), which only main calls
    assert exits == ["sop.cli:_leave", "sop.cli:main"]
    leaving = sorted(
        f"{module}:{function}"
        for module, path in MODULES.items()
        for function, name in _calls(path)
        if name == "_leave"
    )
    assert leaving == ["sop.cli:main"]


def test_no_method_is_left_to_raise_not_implemented() -> None:
    stubs = sorted(
        f"{module}:{function}"
        for module, path in MODULES.items()
        for function, name in _calls(path)
        if name == "raise NotImplementedError"
    )
    assert stubs == []


def _audit_log_mentions(path: Path) -> list[str]:
    """Imports of the log's file name constant and string literals naming the log file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and any(a.name == "AUDIT" for a in node.names):
            found.append(f"imports {node.module}.AUDIT")
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and node.value.endswith("audit.jsonl")
        ):
            found.append(repr(node.value))
    return found


def test_only_the_audit_wing_opens_an_audit_log() -> None:
    """Every other reader goes through sop.audit.reader: no other wing knows the log's file
    name (the terminal UI only prints where the log is, inside a longer text)."""
    named = {
        module: mentions
        for module, path in MODULES.items()
        if _wing(module) != "audit" and (mentions := _audit_log_mentions(path))
    }
    assert named == {}


def test_record_classes_are_made_on_first_use() -> None:
    """Every sop dataclass comes from sop.records (made when first used, not at import: a run
    imports 88 and creates 33); `dataclasses.dataclass` itself is only sop.records'."""
    eager = sorted(
        f"{module}:{node.lineno}"
        for module, path in MODULES.items()
        if module != "sop.records"
        for node in ast.walk(ast.parse(path.read_text()))
        if (
            isinstance(node, ast.ImportFrom)
            and node.module == "dataclasses"
            and any(a.name == "dataclass" for a in node.names)
        )
        or (
            isinstance(node, ast.Attribute)
            and node.attr == "dataclass"
            and isinstance(node.value, ast.Name)
            and node.value.id == "dataclasses"
        )
    )
    assert eager == []
