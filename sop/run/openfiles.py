"""The files a run holds open for its SSH connections, and the soft limit raised to fit them.

A run keeps one SSH connection per remote host until it ends (`executors/connections.py`'s
pool): measured at 250 hosts (bench/RESULTS.md), that is one socket per host and about five
other files, so a common soft limit of 1024 (`ulimit -n`) runs out near a thousand hosts, and
a lower one much sooner, each host then failing on its own with "Too many open files".

Before the run connects to hosts it has not counted yet (the pre-flight: every host the
run's steps target; a step: hosts known only later), it counts what all of them need, `BASE`
plus `PER_HOST` per host, and raises the soft RLIMIT_NOFILE to that if it is lower: only as
far as needed, never above the hard limit, never down. (The higher soft limit is what the
process is allowed, not what it uses; the files are opened as before.) When even the hard
limit is too low, the run fails there, before it contacts any of those hosts, saying what it
needs and how to get it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from sop import events as ev
from sop.model import Host
from sop.run.scope import Stop

# the standard streams, the audit log, its lock and folder, a file being read, a local
# command's pipes, an interactive session's pty, a notification's socket: at most 6 measured
BASE = 32
# a connection's socket (1 measured), with room for what an ssh config may put in front of it:
# a ProxyJump host's own connection (one more socket) or a ProxyCommand's three pipes
PER_HOST = 3


class OpenFiles:
    """The remote hosts a run has counted (each once) and the soft limit they need. A run that
    connects to no host (`connects` false: a dry run, a simulated drill) counts nothing."""

    def __init__(self, connects: bool) -> None:
        self._connects = connects
        self._hosts: set[str] = set()
        self._lock = threading.Lock()

    def make_room(self, hosts: Iterable[Host], at: float) -> ev.LimitRaised | None:
        """Count `hosts` (the responder's machine holds no connection) and raise the soft
        limit to what every host counted so far needs. Returns the event saying so when it
        raised it; raises Stop("failure") when the hard limit is too low."""
        if not self._connects:
            return None
        import resource  # the only user: a run on remote hosts

        with self._lock:
            names = self._hosts | {h.name for h in hosts if not h.is_local}
            if names == self._hosts:
                return None
            need = BASE + PER_HOST * len(names)
            soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
            if _fits(need, soft):
                self._hosts = names
                return None
            if not _fits(need, hard):
                raise Stop("failure", too_few(need, len(names), hard))
            try:
                resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))
            except (OSError, ValueError) as exc:  # a kernel ceiling (fs.nr_open) below `hard`
                raise Stop("failure", f"{too_few(need, len(names), soft)} ({exc})") from None
            self._hosts = names
            return ev.LimitRaised(at, "RLIMIT_NOFILE", soft, need, hard, len(names))


def _fits(need: int, limit: int) -> bool:
    import resource

    return limit == resource.RLIM_INFINITY or need <= limit


def too_few(need: int, hosts: int, limit: int) -> str:
    return (
        f"this run needs {need} open files for its {hosts} remote host(s) ({PER_HOST} per "
        f"host, {BASE} besides), but the limit on open files is {limit} and sop may not raise "
        "it further (`ulimit -Hn`): nothing was started on those hosts. Raise the hard limit "
        "(`nofile` in /etc/security/limits.conf, `LimitNOFILE=` for a systemd unit), or run "
        "on fewer hosts (--on)"
    )
