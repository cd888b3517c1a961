"""Bulk work that makes many objects but next to no reference cycles (loading a library,
rendering it) runs with the cycle collector paused: its passes over everything already
loaded are pure cost there (a sixth of rendering, a tenth of loading 1,000 SOPs). Objects
are still freed by reference counting; the collector runs again afterwards."""

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
            gc.enable()
