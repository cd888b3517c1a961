"""Fixtures for tests against real servers (see sshd.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from .sshd import SilentListener, SshdHosts, start_hosts

DEFAULT_HOSTS = 4


@pytest.fixture(scope="session")
def sshd_factory(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[[int], SshdHosts]]:
    """`sshd_factory(count)` -> running `SshdHosts` for `count` hosts (one set per count).

    Every server is stopped at the end of the session. A server that cannot start raises.
    """
    started: dict[int, SshdHosts] = {}

    def factory(count: int) -> SshdHosts:
        if count not in started:
            started[count] = start_hosts(count, tmp_path_factory.mktemp(f"sshd{count}"))
        return started[count]

    yield factory
    for hosts in started.values():
        hosts.close()


@pytest.fixture(scope="session")
def sshd_hosts(sshd_factory: Callable[[int], SshdHosts]) -> SshdHosts:
    """A few hosts (h1..h4 on 127.0.0.2..5) served by a real sshd."""
    return sshd_factory(DEFAULT_HOSTS)


@pytest.fixture
def silent_listener() -> Iterator[SilentListener]:
    """A TCP listener on loopback that accepts connections and never speaks SSH."""
    with SilentListener() as listener:
        yield listener
