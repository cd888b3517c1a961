"""What an SOP's tasks file defines, read from its syntax tree: the names invoke would give its
tasks, and their docstrings. The file is parsed with `ast`, never imported, so lint, a dry run,
a simulated drill and rendering run none of the author's code (an SOP folder may come from a
pull request). Only a real run imports the module (sop/executors/tasks.py).

The scan follows what `Collection.from_module` does: a module-level `ns` or `namespace`
collection wins; otherwise every module-level task counts. It understands `@task`,
`@task(...)`, `@invoke.task`, `@Task`, aliases (`from invoke import task as t`), `x = task(f)`,
`Collection(...)` with names and sub-collections, `ns.add_task(f, name=...)` and
`ns.add_collection(...)`. Where the module decides its tasks at run time (`exec`, `globals()`,
a star import, a decorator or import it cannot follow), the scan says so, and lint warns
rather than guessing.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Mapping
from dataclasses import field
from pathlib import Path

from sop.files import TASKS_FILE_BYTES, FileReadError, read_regular_file
from sop.model import same_name
from sop.records import dataclass

INVOKE_MODULES = frozenset({"invoke", "fabric"})
# calls that can change a module's namespace in ways a syntax tree does not show
NAMESPACE_WRITERS = frozenset({"exec", "eval", "compile", "globals", "vars", "locals", "setattr"})
# expressions whose value the scan cannot know, and which may be a task
RUN_TIME_VALUES = (ast.Call, ast.Attribute, ast.Subscript, ast.Name, ast.IfExp, ast.BoolOp)


def invoke_name(name: str) -> str:
    """The name invoke gives a task or collection: underscores inside become dashes."""
    if len(name) < 3:
        return name
    inner = "".join(
        "-" if c == "_" and name[i] != "." and name[i + 2] != "." else c
        for i, c in enumerate(name[1:-1])
    )
    return name[0] + inner + name[-1]


@dataclass(frozen=True)
class ScannedTask:
    name: str  # as invoke names it; dots for sub-collections
    doc: str
    line: int


@dataclass(frozen=True)
class TaskScan:
    """The tasks a file defines, as far as its syntax tree tells."""

    path: Path
    tasks: Mapping[str, ScannedTask] = field(default_factory=dict)  # by `same_name`
    unsure: Mapping[str, str] = field(default_factory=dict)  # `same_name` -> why it may be one
    dynamic: tuple[str, ...] = ()  # why any name may be a task
    error: str = ""  # the file cannot be read or parsed

    def find(self, name: str) -> ScannedTask | None:
        return self.tasks.get(same_name(name))

    def doubt(self, name: str) -> str:
        """Why `name`, not found, may still be a task at run time ("" when it cannot be)."""
        reasons = [self.unsure[key]] if (key := same_name(name)) in self.unsure else []
        return "; ".join(reasons + list(self.dynamic))

    def names(self) -> list[str]:
        return sorted(t.name for t in self.tasks.values())


@dataclass
class _Collection:
    name: str | None = None
    tasks: dict[str, ScannedTask] = field(default_factory=dict)
    subs: dict[str, _Collection] = field(default_factory=dict)
    dynamic: list[str] = field(default_factory=list)

    def add_task(self, task: ScannedTask, name: str | None) -> None:
        named = ScannedTask(invoke_name(name or task.name), task.doc, task.line)
        self.tasks[same_name(named.name)] = named

    def flat(self) -> tuple[dict[str, ScannedTask], list[str]]:
        tasks = dict(self.tasks)
        dynamic = list(self.dynamic)
        for sub_name, sub in self.subs.items():
            sub_tasks, sub_dynamic = sub.flat()
            for task in sub_tasks.values():
                dotted = ScannedTask(f"{sub_name}.{task.name}", task.doc, task.line)
                tasks[same_name(dotted.name)] = dotted
            dynamic += sub_dynamic
        return tasks, dynamic


# what a module-level name is bound to, as far as the scan can tell
_INVOKE, _DECORATOR, _TASK_CLASS, _COLLECTION_CLASS = "invoke", "task", "Task", "Collection"
INVOKE_NAMES = {"task": _DECORATOR, "Task": _TASK_CLASS, "Collection": _COLLECTION_CLASS}
_Value = str | ScannedTask | _Collection | ast.FunctionDef | ast.AsyncFunctionDef | None


class _Scanner:
    def __init__(self) -> None:
        self.names: dict[str, _Value] = {}
        self.unsure: dict[str, str] = {}
        self.dynamic: list[str] = []
        self.handled: set[int] = set()  # exec("...") calls whose text was scanned

    # -- what an expression is -----------------------------------------------------------------

    def value(self, node: ast.expr) -> _Value:
        if isinstance(node, ast.Name):
            # never bound here: invoke's name, or the import fails (`@task` in a snippet)
            return self.names.get(node.id, INVOKE_NAMES.get(node.id))
        if isinstance(node, ast.Attribute) and self.value(node.value) == _INVOKE:
            return INVOKE_NAMES.get(node.attr, _INVOKE)
        if isinstance(node, ast.Call):
            return self.call(node)
        return None

    def call(self, node: ast.Call) -> _Value:
        func = self.value(node.func)
        if func in (_DECORATOR, _TASK_CLASS) or (
            isinstance(node.func, ast.Call) and self.value(node.func.func) == _DECORATOR
        ):
            # task(f, name=...), Task(f), task(name=...)(f)
            outer = node.func if isinstance(node.func, ast.Call) else node
            body = self.value(node.args[0]) if node.args else None
            if isinstance(body, ScannedTask):
                return body
            if isinstance(body, ast.FunctionDef | ast.AsyncFunctionDef):
                return self.task_of(body, outer)
            return None
        if func == _COLLECTION_CLASS:
            return self.collection(node)
        if (
            isinstance(node.func, ast.Attribute)
            and node.func.attr == "from_module"
            and self.value(node.func.value) == _COLLECTION_CLASS
        ):
            return _Collection(dynamic=[f"line {node.lineno}: Collection.from_module"])
        return None

    def task_of(
        self, function: ast.FunctionDef | ast.AsyncFunctionDef, decorator: ast.expr
    ) -> ScannedTask | None:
        name = function.name
        if isinstance(decorator, ast.Call):
            for keyword in decorator.keywords:
                if keyword.arg == "name":
                    given = _text(keyword.value)
                    if given is None:
                        return None
                    name = given
        return ScannedTask(name, ast.get_docstring(function) or "", function.lineno)

    def is_task_decorator(self, node: ast.expr) -> bool:
        target = node.func if isinstance(node, ast.Call) else node
        return self.value(target) in (_DECORATOR, _TASK_CLASS)

    def collection(self, node: ast.Call) -> _Collection:
        made = _Collection()
        args = list(node.args)
        if args and (name := _text(args[0])) is not None:
            made.name = invoke_name(name)
            args.pop(0)
        for arg in args:
            self.add(made, arg, None, node.lineno)
        for keyword in node.keywords:
            self.add(made, keyword.value, keyword.arg, node.lineno)
        return made

    def add(self, into: _Collection, node: ast.expr, name: str | None, line: int) -> None:
        """What `into.add_task` / `add_collection` / `Collection(...)` do with `node`."""
        found = self.value(node)
        if isinstance(found, ScannedTask):
            into.add_task(found, name)
        elif isinstance(found, _Collection) and (name or found.name):
            into.subs[invoke_name(name or found.name or "")] = found
        else:
            into.dynamic.append(f"line {line}: a collection gets {ast.unparse(node)}")

    # -- statements ----------------------------------------------------------------------------

    def statements(self, body: list[ast.stmt]) -> None:
        for node in body:
            self.statement(node)

    def statement(self, node: ast.stmt) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                top = alias.name.partition(".")[0]
                bound = alias.asname or top
                self.names[bound] = _INVOKE if top in INVOKE_MODULES else None
        elif isinstance(node, ast.ImportFrom):
            self.import_from(node)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            self.function(node)
        elif isinstance(node, ast.ClassDef):
            self.names[node.name] = None
        elif isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            value = self.value(node.value)
            for target in targets:
                self.bind(target, value, node.value)
        elif isinstance(node, ast.Delete):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    self.names.pop(target.id, None)
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
            self.expression_call(node.value)
        elif isinstance(node, ast.If | ast.Try | ast.With):
            for part in ("body", "orelse", "finalbody"):
                self.statements(getattr(node, part, []))
            for handler in getattr(node, "handlers", []):
                self.statements(handler.body)
        elif isinstance(node, ast.For | ast.While | ast.AsyncFor | ast.Match):
            self.dynamic.append(f"line {node.lineno}: module-level {type(node).__name__.lower()}")

    def import_from(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        invoke = module.partition(".")[0] in INVOKE_MODULES and not node.level
        for alias in node.names:
            if alias.name == "*":
                if not invoke:
                    self.dynamic.append(f"line {node.lineno}: from {module} import *")
                for name, kind in INVOKE_NAMES.items():
                    self.names[name] = kind if invoke else None
                continue
            bound = alias.asname or alias.name
            if invoke:
                submodule = _INVOKE if alias.name in ("tasks", "collection") else None
                self.names[bound] = INVOKE_NAMES.get(alias.name, submodule)
            else:
                self.names[bound] = None
                why = f"line {node.lineno}: imported from {'.' * node.level}{module}"
                for name in (alias.name, bound):
                    self.unsure[same_name(name)] = why

    def function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        decorators = node.decorator_list
        if node.name == "__getattr__":
            self.dynamic.append(f"line {node.lineno}: a module __getattr__")
        if not decorators:
            self.names[node.name] = node
            return
        self.names[node.name] = None
        outer = decorators[0]
        task = self.task_of(node, outer) if self.is_task_decorator(outer) else None
        if task is not None:
            self.names[node.name] = task
            return
        shown = ", ".join("@" + ast.unparse(d) for d in decorators)
        why = f"line {node.lineno}: {node.name} is decorated with {shown}, which sop cannot follow"
        self.unsure[same_name(node.name)] = why

    def bind(self, target: ast.expr, value: _Value, source: ast.expr) -> None:
        if isinstance(target, ast.Name):
            self.names[target.id] = value
            if value is None and isinstance(source, RUN_TIME_VALUES):
                why = f"line {source.lineno}: {target.id} is made at run time"
                self.unsure[same_name(target.id)] = why
                if target.id in ("ns", "namespace"):
                    self.dynamic.append(why)
        elif isinstance(target, ast.Tuple | ast.List):
            for element in target.elts:
                self.bind(element, None, source)

    def expression_call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Name) and func.id == "exec" and node.args:
            code = _text(node.args[0])
            if code is not None and len(node.args) == 1:
                try:
                    tree = ast.parse(code)
                except (SyntaxError, ValueError):
                    return
                self.handled.add(id(node))
                self.dynamic += _dynamic_code(tree, set())
                self.statements(tree.body)
            return
        if not isinstance(func, ast.Attribute):
            return
        into = self.value(func.value)
        if not isinstance(into, _Collection):
            return
        if func.attr in ("add_task", "add_collection") and node.args:
            self.add(into, node.args[0], self.given_name(node, into), node.lineno)

    def given_name(self, node: ast.Call, into: _Collection) -> str | None:
        """The name given to `add_task` / `add_collection` (second argument or `name=`)."""
        given = node.args[1] if len(node.args) > 1 else None
        for keyword in node.keywords:
            if keyword.arg == "name":
                given = keyword.value
        if given is None or (name := _text(given)) is not None:
            return None if given is None else name
        into.dynamic.append(f"line {node.lineno}: a task's name is {ast.unparse(given)}")
        return None

    # -- the answer ----------------------------------------------------------------------------

    def result(self, path: Path, tree: ast.Module) -> TaskScan:
        dynamic = _dynamic_code(tree, self.handled) + self.dynamic
        for name in ("ns", "namespace"):
            found = self.names.get(name)
            if isinstance(found, _Collection) and (found.tasks or found.subs or found.dynamic):
                tasks, more = found.flat()
                return TaskScan(path, tasks, self.unsure, tuple(dynamic + more))
        module = _Collection()
        for value in self.names.values():
            if isinstance(value, ScannedTask):
                module.add_task(value, None)
        return TaskScan(path, module.tasks, self.unsure, tuple(dynamic))


def _text(node: ast.expr) -> str | None:
    """The string a literal is, or None for any other expression."""
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _dynamic_code(tree: ast.AST, handled: set[int]) -> list[str]:
    """Where the module may write its own namespace: exec, globals(), sys.modules, __dict__."""
    found = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in NAMESPACE_WRITERS
            and id(node) not in handled
        ):
            found.append(f"line {node.lineno}: {node.func.id}()")
        elif isinstance(node, ast.Attribute) and (
            node.attr == "__dict__"
            or (
                node.attr == "modules"
                and isinstance(node.value, ast.Name)
                and node.value.id == "sys"
            )
        ):
            found.append(f"line {node.lineno}: {ast.unparse(node)}")
    return found


@functools.cache
def _scan(path: Path, _stamp: int) -> TaskScan:
    try:
        text = read_regular_file(path, TASKS_FILE_BYTES, what="tasks files").decode("utf-8")
        tree = ast.parse(text, filename=str(path))
    except FileReadError as exc:
        return TaskScan(path, error=f"{exc.where}: cannot read the tasks: {exc.reason}")
    except (UnicodeDecodeError, ValueError) as exc:
        return TaskScan(path, error=f"{path}: cannot read the tasks: {exc}")
    except SyntaxError as exc:
        return TaskScan(path, error=f"{path}:{exc.lineno}: the tasks do not parse: {exc.msg}")
    scanner = _Scanner()
    scanner.statements(tree.body)
    return scanner.result(path, tree)


def scan_tasks(path: Path) -> TaskScan:
    """The tasks `path` defines, from its syntax tree (cached while the file is unchanged)."""
    resolved = path.resolve()
    try:
        stamp = resolved.stat().st_mtime_ns
    except OSError as exc:
        return TaskScan(path, error=f"{path}: cannot read the tasks: {exc.strerror}")
    return _scan(resolved, stamp)
