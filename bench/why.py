"""Why the code looks like this: the speed tricks in sop/ and what they were measured to buy,
kept here so that the code says only the one line of why. `bench.run` appends this list to
bench/RESULTS.md (the numbers are from the commit that made each change, not from this run)."""

from __future__ import annotations

# (where, the trick and what it bought)
WHY: tuple[tuple[str, str], ...] = (
    (
        "`sop/executors/connections.py` `SshFiles`",
        "ssh config and known_hosts are parsed once per run, not once per host: paramiko's "
        "`HostKeys.load` makes a key object and takes its logger's lock for every line, for "
        "every host (64 hosts x 64 lines, contended across the connect threads). "
        "`sop run` / fabric ThreadingGroup went 1.46x -> 1.15x at 64 hosts (1.64x -> 1.46x at "
        "32), client CPU 21 -> 15 ms/host.",
    ),
    (
        "`sop/executors/ssh.py` `ScriptedRemote`",
        "the step's script goes to the remote `/bin/sh -s` in one `sendall`: invoke's "
        "`in_stream` feeds stdin one byte per 10 ms, 2 s for a 200-byte script.",
    ),
    (
        "`sop/executors/connections.py` `_connection_type`",
        "sop's fabric Connection sets its own attributes without invoke's `dir()` per set "
        "(0.63 -> 0.28 ms a connection); it and its Config (`_config_type`) look up a missing "
        "name without building invoke's 40 us error message (six a connection: 0.28 -> 0.05 "
        "ms); paramiko's per-packet MAC comparison is `hmac.compare_digest` (C) instead of a "
        "Python loop (6 us a packet).",
    ),
    (
        "`sop/executors/connections.py` `_dial_early`",
        "the TCP connect to every host happens before the ~0.1 s fabric/paramiko import, so "
        "the hosts' sshd start their side meanwhile (only while no ssh config routes hosts).",
    ),
    (
        "`sop/records.py`",
        "sop's record classes are made by `dataclasses.dataclass` when first used: a run "
        "imports 88 and makes 33; its sop-side imports went 157 -> 116 ms.",
    ),
    (
        "`sop/cli/__init__.py` `_leave`",
        "the process exits (exit handlers run, stdio flushed) without the interpreter's "
        "teardown of ~550 modules: 40 ms off every command.",
    ),
)


def markdown() -> str:
    lines = ["## Why the code looks like this", ""]
    lines += [f"- {where}: {what}" for where, what in WHY]
    return "\n".join(lines) + "\n"
