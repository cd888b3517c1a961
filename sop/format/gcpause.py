"""Bulk work that makes many objects but next to no reference cycles (loading a library,
linting or rendering it) runs with the cycle collector paused: its passes over everything
already loaded are pure cost there (a sixth of rendering, a tenth of loading 1,000 SOPs).
Objects are still freed by reference counting.

On the way out, what the work left alive is moved to the permanent generation
(`gc.freeze`) before the collector runs again: otherwise its first pass walks every object
made during the pause at once (0.75 s for a million small ones). The cost: a reference cycle
made during the pause and still alive then is never collected; the loaded records, nodes and
pages have none, and sop's commands are short-lived processes."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def cycle_collector_paused() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.freeze()
            gc.enable()
