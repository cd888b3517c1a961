"""Executors run a job on one host. The registry picks one per host: `local` for the
responder's machine, `ssh` for inventory hosts; drills replace both with a simulated one.
Each is created on first use, so a run that never reaches a host never imports fabric."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from sop.events import HostReached, Reach
from sop.executors.base import Connecting, Executor
from sop.model import Host

Factory = Callable[[], Executor]
# the libraries that speak to hosts log what hosts say (paramiko: a server's banner lines, and
# a traceback when its thread fails); with no handler, Python prints warnings raw on stderr
_LIBRARY_LOGGERS = ("paramiko", "fabric", "invoke")


def quiet_library_loggers() -> None:
    """Nothing a library logs reaches the terminal; sop reports failures itself, filtered."""
    for name in _LIBRARY_LOGGERS:
        logger = logging.getLogger(name)
        if not logger.handlers:
            logger.addHandler(logging.NullHandler())
        logger.propagate = False


def local_executor() -> Executor:
    from sop.executors.local import LocalExecutor

    return LocalExecutor()


def ssh_executor(
    known_hosts: Path | None = None, ssh_config: Path | None = None, connect_timeout: float = 10
) -> Factory:
    def make() -> Executor:
        from sop.executors.ssh import SshExecutor

        return SshExecutor.create(
            known_hosts=known_hosts, ssh_config=ssh_config, connect_timeout=connect_timeout
        )

    return make


class Executors:
    """The executors of one run, by name, created on demand."""

    def __init__(self, factories: dict[str, Factory]) -> None:
        quiet_library_loggers()
        self._factories = factories
        self._made: dict[str, Executor] = {}
        self._lock = (
            threading.Lock()
        )  # host threads ask at once: one executor each, not one per thread

    def for_host(self, host: Host) -> Executor:
        name = "local" if host.is_local else "ssh"
        with self._lock:
            if name not in self._made:
                self._made[name] = self._factories[name]()
            return self._made[name]

    def check(self, host: Host) -> HostReached:
        """Open what running on `host` needs, now (the pre-flight). An executor that opens
        nothing before it runs (the responder's machine) is always ready."""
        executor = self.for_host(host)
        if isinstance(executor, Connecting):
            return executor.check(host)
        return HostReached(host.name, host.address, Reach.OK)

    def interrupt(self) -> None:
        for executor in list(self._made.values()):
            executor.interrupt()

    def kill(self) -> None:
        for executor in list(self._made.values()):
            executor.kill()

    def close(self) -> None:
        for executor in self._made.values():
            executor.close()
        self._made.clear()
