"""Loading an SOP's invoke tasks (`tasks: tasks.py`). The only module that imports invoke's
task machinery; imported lazily, by lint and by the task executor."""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from pathlib import Path
from typing import Any

from sop.errors import SopError


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
    module = importlib.util.module_from_spec(spec)
    try:
        sys.modules[name] = module
        spec.loader.exec_module(module)
        return Collection.from_module(module)
    except Exception as exc:  # any error in the author's module
        sys.modules.pop(name, None)
        raise TaskLoadError(
            f"{path}: importing the tasks failed: {type(exc).__name__}: {exc}"
        ) from None


def _normal(name: str) -> str:
    return name.replace("_", "-")


def find_task(collection: Any, name: str) -> Any | None:
    """The task named `name` (dots for sub-collections; '_' and '-' are the same)."""
    wanted = _normal(name)
    for task_name in collection.task_names:
        if _normal(task_name) == wanted:
            return collection[task_name]
    return None


def task_names(collection: Any) -> list[str]:
    return sorted(collection.task_names)
