"""Docstrings of invoke tasks, read from the tasks file's syntax tree. The file is parsed with
`ast`, never imported: rendering a page runs none of the author's code."""

from __future__ import annotations

import ast
import functools
from pathlib import Path


def _is_task_decorator(node: ast.expr) -> bool:
    target = node.func if isinstance(node, ast.Call) else node
    if isinstance(target, ast.Name):
        return target.id == "task"
    return isinstance(target, ast.Attribute) and target.attr == "task"


def _normal(name: str) -> str:
    return name.replace("_", "-")


@functools.cache
def _read(path: Path, _stamp: int) -> dict[str, str]:
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except (OSError, UnicodeDecodeError, SyntaxError, ValueError):
        return {}
    docs: dict[str, str] = {}
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        if not any(_is_task_decorator(d) for d in node.decorator_list):
            continue
        docs[_normal(node.name)] = ast.get_docstring(node) or ""
    return docs


def task_docstring(tasks_file: Path | None, name: str) -> str:
    """The docstring of the task `name` ('_' and '-' alike), or "" when it cannot be found."""
    if tasks_file is None:
        return ""
    path = tasks_file.resolve()
    try:
        stamp = path.stat().st_mtime_ns
    except OSError:
        return ""
    return _read(path, stamp).get(_normal(name), "")
