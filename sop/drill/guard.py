"""The guard that keeps a simulated drill off the network and away from local programs: a
Python audit hook installed for the life of the `sop drill` process."""

from __future__ import annotations

import sys
from typing import Any

from sop.errors import SopError

GUARDED = (
    "socket.connect",
    "socket.sendto",
    "subprocess.Popen",
    "os.system",
    "os.exec",
    "os.posix_spawn",
    "os.spawn",
    "os.fork",
    "os.forkpty",
    "pty.spawn",
)


class DrillGuardError(SopError):
    """Something tried to reach the network or run a program during a simulated drill."""


_guard_on = False


def forbid_side_effects() -> None:
    """From now on this process cannot connect or start programs (a Python audit hook; it stays
    for the life of the process, which is what a `sop drill` process wants)."""
    global _guard_on
    if _guard_on:
        return

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event in GUARDED:
            raise DrillGuardError(
                f"a drill must not reach the network or run programs (blocked: {event})"
            )

    sys.addaudithook(hook)
    _guard_on = True
