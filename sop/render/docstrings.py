"""Docstrings of invoke tasks, for the wiki page: read from the tasks file's syntax tree
(sop/format/taskscan.py), never imported, so rendering a page runs none of the author's
code."""

from __future__ import annotations

from pathlib import Path

from sop.format.taskscan import scan_tasks


def task_docstring(tasks_file: Path | None, name: str) -> str:
    """The docstring of the task `name` ('_' and '-' alike), or "" when it cannot be found."""
    if tasks_file is None:
        return ""
    task = scan_tasks(tasks_file).find(name)
    return task.doc if task is not None else ""
