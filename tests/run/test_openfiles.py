"""How a run sizes its limit on open files (`sop/run/openfiles.py`), the process's limits
replaced by a double (tests/integration/test_open_files.py sets real ones, in a child)."""

from __future__ import annotations

import resource

import pytest

from sop import events as ev
from sop.model import LOCAL, Host
from sop.run.openfiles import BASE, PER_HOST, OpenFiles
from sop.run.scope import Stop


class Limits:
    """RLIMIT_NOFILE as the process would hold it; every setrlimit call kept."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, soft: int, hard: int) -> None:
        self.soft, self.hard = soft, hard
        self.set: list[tuple[int, int]] = []
        monkeypatch.setattr(resource, "getrlimit", self.getrlimit)
        monkeypatch.setattr(resource, "setrlimit", self.setrlimit)

    def getrlimit(self, which: int) -> tuple[int, int]:
        assert which == resource.RLIMIT_NOFILE
        return self.soft, self.hard

    def setrlimit(self, which: int, limits: tuple[int, int]) -> None:
        assert which == resource.RLIMIT_NOFILE
        self.set.append(limits)
        self.soft, self.hard = limits


def hosts(count: int, first: int = 1) -> list[Host]:
    return [Host(f"web{n}", f"10.0.0.{n}") for n in range(first, first + count)]


def test_the_soft_limit_is_raised_to_what_every_host_counted_so_far_needs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    limits = Limits(monkeypatch, soft=BASE + PER_HOST * 10, hard=4096)
    files = OpenFiles(connects=True)

    assert files.make_room(hosts(10), 1.0) is None  # fits: left alone
    raised = files.make_room([*hosts(10), *hosts(5, first=11)], 2.0)  # 5 new hosts

    assert raised == ev.LimitRaised(
        2.0, "RLIMIT_NOFILE", BASE + PER_HOST * 10, BASE + PER_HOST * 15, 4096, 15
    )
    assert limits.set == [(BASE + PER_HOST * 15, 4096)]
    assert files.make_room(hosts(15), 3.0) is None  # all counted already
    assert limits.set == [(BASE + PER_HOST * 15, 4096)]


def test_the_responders_machine_holds_no_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    limits = Limits(monkeypatch, soft=BASE + PER_HOST, hard=4096)

    assert OpenFiles(connects=True).make_room([Host(LOCAL, ""), *hosts(1)], 1.0) is None
    assert limits.set == []


def test_an_unlimited_hard_limit_always_fits(monkeypatch: pytest.MonkeyPatch) -> None:
    limits = Limits(monkeypatch, soft=64, hard=resource.RLIM_INFINITY)

    raised = OpenFiles(connects=True).make_room(hosts(300), 1.0)

    assert raised is not None and raised.soft == BASE + PER_HOST * 300
    assert limits.set == [(BASE + PER_HOST * 300, resource.RLIM_INFINITY)]


def test_a_hard_limit_too_low_stops_the_run_and_changes_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    limits = Limits(monkeypatch, soft=256, hard=256)

    with pytest.raises(Stop) as stopped:
        OpenFiles(connects=True).make_room(hosts(100), 1.0)

    assert stopped.value.how == "failure"
    assert stopped.value.reason.startswith(
        f"this run needs {BASE + PER_HOST * 100} open files for its 100 remote host(s) "
        f"({PER_HOST} per host, {BASE} besides), but the limit on open files is 256 and sop may "
        "not raise it further (`ulimit -Hn`): nothing was started on those hosts."
    )
    assert limits.set == []


def test_a_run_that_connects_to_no_host_counts_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    limits = Limits(monkeypatch, soft=16, hard=16)

    assert OpenFiles(connects=False).make_room(hosts(1000), 1.0) is None
    assert limits.set == []
