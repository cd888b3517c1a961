"""The guard that keeps a simulated drill off the network and away from local programs: a
Python audit hook installed for the life of the `sop drill` process.

With no tasks imported in a simulated drill, no foreign code runs in it; the guard is the
second wall, against a regression or a library doing what it should not. It is built so that
code inside the process cannot switch it off: the hook closes over its own frozensets (no
module-level state changes what it blocks), it records every hit before raising (so code that
catches the error still fails the drill), and it refuses the modules that do their work without
an audit event (`_posixsubprocess`, `_ctypes`). Audit hooks are not a sandbox (CPython says so);
docs/threat-model.md says what this one does and does not stop.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from sop.errors import FatalRunError

# audit events that start a program, reach the network or ask DNS (CPython 3.11's table)
BLOCKED_EVENTS = frozenset(
    {
        "os.exec",
        "os.fork",
        "os.forkpty",
        "os.posix_spawn",
        "os.spawn",
        "os.system",
        "os.startfile",
        "pty.spawn",
        "subprocess.Popen",
        "socket.__new__",
        "socket.bind",
        "socket.connect",
        "socket.sendmsg",
        "socket.sendto",
        "socket.getaddrinfo",
        "socket.gethostbyname",
        "socket.gethostbyaddr",
        "socket.getnameinfo",
        "fcntl.ioctl",  # TIOCSTI: typing into the responder's terminal
        "gc.get_objects",  # the ways to reach the hook itself
        "gc.get_referrers",
        "gc.get_referents",
        "webbrowser.open",
    }
)
BLOCKED_PREFIXES = ("ctypes.",)  # dlopen, dlsym, call_function: C calls, e.g. libc's system()
# modules whose functions start programs with no audit event of their own
BLOCKED_MODULES = frozenset({"_posixsubprocess", "_ctypes", "ctypes"})


class DrillGuardError(FatalRunError):
    """Something tried to reach the network or run a program during a simulated drill."""


def forbid_side_effects() -> Callable[[], tuple[str, ...]]:
    """From now on this process cannot connect, resolve names or start programs (a Python audit
    hook; it stays for the life of the process, which is what a `sop drill` process wants).
    Returns what the guard has blocked so far: the drill fails when it is not empty, even if
    the code that tried caught the error."""
    loaded = sorted(BLOCKED_MODULES & sys.modules.keys())
    if loaded:
        raise DrillGuardError(
            f"the drill guard must be on before {', '.join(loaded)} is imported; it is not"
        )
    hits: list[str] = []
    # the hook reads only its own closure: no global, no builtin that code could rebind
    events, prefixes, modules = BLOCKED_EVENTS, BLOCKED_PREFIXES, BLOCKED_MODULES
    error, message = DrillGuardError, "a drill must not reach the network or run programs ({})"

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event in events or event.startswith(prefixes):
            reason = event
        elif event == "import" and args[0].rpartition(".")[2] in modules:
            reason = "import " + args[0]
        else:
            return
        hits.append(reason)  # first: a caught error still fails the drill
        raise error(message.format("blocked: " + reason))

    def blocked() -> tuple[str, ...]:
        return tuple(hits)

    sys.addaudithook(hook)
    return blocked
