"""Importing an SOP's invoke tasks (`tasks: tasks.py`) to run one: the only place sop runs a
tasks module's code, and only for a real run (`RunOptions.executes`). Everything else (lint,
dry runs, simulated drills, rendering) reads the file with sop/format/taskscan.py."""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from pathlib import Path
from typing import Any

from sop.errors import SopError
from sop.files import TASKS_FILE_BYTES, FileReadError, read_regular_file
from sop.model import same_name


class TaskLoadError(SopError):
    """The tasks file does not import, or does not define the task a step names."""


def load_tasks(path: Path) -> Any:
    """Import the tasks module and return its invoke `Collection`. Importing runs the module's
    top level (as `invoke --list` does) but no task."""
    from invoke.collection import Collection

    name = "sop_tasks_" + hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise TaskLoadError(f"{path}: cannot import tasks from this file")
    try:
        source = read_regular_file(path, TASKS_FILE_BYTES, what="tasks files")
    except FileReadError as exc:
        raise TaskLoadError(str(exc)) from None
    module = importlib.util.module_from_spec(spec)
    try:
        sys.modules[name] = module
        # the bytes read above, not the loader's own read: that one follows a FIFO or
        # /dev/zero put in the file's place
        exec(compile(source, str(path), "exec"), module.__dict__)
        return Collection.from_module(module)
    except Exception as exc:  # any error in the author's module
        sys.modules.pop(name, None)
        raise TaskLoadError(
            f"{path}: importing the tasks failed: {type(exc).__name__}: {exc}"
        ) from None


def find_task(collection: Any, name: str) -> Any | None:
    """The task named `name` (dots for sub-collections; '_' and '-' are the same)."""
    wanted = same_name(name)
    for task_name in collection.task_names:
        if same_name(task_name) == wanted:
            return collection[task_name]
    return None


def task_names(collection: Any) -> list[str]:
    return sorted(collection.task_names)
