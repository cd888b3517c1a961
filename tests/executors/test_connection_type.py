"""sop's fabric Connection (`connections._connection_type`) is fabric's, cheaper to build and
to ask: twins made by fabric's own class and by sop's hold the same state and answer the same
names, and paramiko's MAC comparison is the standard library's constant-time one."""

from __future__ import annotations

import hmac
import os
from typing import Any

import pytest
from fabric import Config, Connection
from invoke.config import DataProxy
from paramiko import util

from sop.executors.connections import SshFiles, _connection_type


def _twins(**kwargs: Any) -> tuple[Any, Any]:
    config = Config(lazy=True)
    return (
        Connection("127.0.0.9", config=config, **kwargs),
        _connection_type()("127.0.0.9", config=config, **kwargs),
    )


def _state(conn: Any) -> dict[str, Any]:
    return {k: v for k, v in vars(conn).items() if k not in ("client", "_config")}


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"user": "ops", "port": 2222, "connect_timeout": 7},
        {"connect_kwargs": {"key_filename": ["/k"]}, "forward_agent": True},
    ],
    ids=["defaults", "user-port-timeout", "keys-agent"],
)
def test_sops_connection_holds_what_fabrics_holds(kwargs: dict[str, Any]) -> None:
    theirs, ours = _twins(**kwargs)
    assert isinstance(ours, Connection)
    # fabric writes inline_ssh_env into the config; sop keeps it on the connection (the pool's
    # config is shared, read only), where fabric reads it as `self.inline_ssh_env`
    assert ours.inline_ssh_env == theirs.inline_ssh_env
    assert {**_state(ours), "inline_ssh_env": None} == {**_state(theirs), "inline_ssh_env": None}
    assert (ours.user, ours.port, ours.host) == (theirs.user, theirs.port, theirs.host)


def test_a_name_that_is_no_attribute_is_looked_up_in_the_config_as_fabric_does() -> None:
    theirs, ours = _twins()
    assert ours.timeouts.connect == theirs.timeouts.connect  # a config key, not an attribute
    assert ours.runners == theirs.runners
    assert hasattr(ours, "no_such_name") is hasattr(theirs, "no_such_name") is False
    with pytest.raises(AttributeError, match="no_such_name"):
        ours.no_such_name  # noqa: B018
    assert getattr(ours, "no_such_name", "default") == "default"


def test_setting_a_config_key_on_the_connection_keeps_fabrics_meaning() -> None:
    """A name that is neither Connection's nor already set goes to the config, as in fabric
    (a task step's runner class is set so, on a copy of the pool's config)."""
    theirs, ours = _twins()
    ours.config = ours.config.clone()
    theirs.config = theirs.config.clone()
    ours.runners = {"remote": object}
    theirs.runners = {"remote": object}
    assert ours.config.runners.remote is theirs.config.runners.remote is object


def test_paramikos_mac_comparison_is_the_constant_time_one_of_the_standard_library() -> None:
    _connection_type()
    assert util.constant_time_bytes_eq is hmac.compare_digest
    mac = os.urandom(32)
    assert util.constant_time_bytes_eq(mac, bytes(mac))
    assert not util.constant_time_bytes_eq(mac, mac[:-1] + bytes([mac[-1] ^ 1]))
    assert not util.constant_time_bytes_eq(mac, mac[:-1])


def test_the_pools_config_answers_as_fabrics_and_copies_as_itself() -> None:
    ours = SshFiles().fabric_config(None)
    theirs = Config(lazy=True, ssh_config=ours.base_ssh_config)
    assert isinstance(ours, Config)
    assert ours.connect_kwargs == theirs.connect_kwargs  # a nested value: a proxy of its own
    assert ours.timeouts.connect == theirs.timeouts.connect
    assert hasattr(ours, "_keypath") is hasattr(theirs, "_keypath") is False
    with pytest.raises(AttributeError, match="no_such_key"):
        ours.no_such_key  # noqa: B018
    copy = ours.clone()  # a task step's own copy
    assert type(copy) is type(ours) and copy.connect_kwargs == ours.connect_kwargs


def test_making_a_connection_builds_no_error_message(monkeypatch: pytest.MonkeyPatch) -> None:
    """invoke builds a 40 us message (dir() of the class, the sorted keys) for every name its
    DataProxy lacks; fabric asks six a connection. sop's connection and config answer those
    themselves: DataProxy's own lookup is never left to fail."""
    missed: list[str] = []
    lookup = DataProxy.__getattr__

    def counting(self: Any, key: str) -> Any:
        try:
            return lookup(self, key)
        except AttributeError:
            missed.append(key)
            raise

    monkeypatch.setattr(DataProxy, "__getattr__", counting)
    config = SshFiles().fabric_config(None)
    _connection_type()("127.0.0.9", config=config, connect_kwargs={"key_filename": ["/k"]})
    assert missed == []
    Connection("127.0.0.9", config=Config(lazy=True))  # fabric's own: the check can fail
    assert missed
