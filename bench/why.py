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
)


def markdown() -> str:
    lines = ["## Why the code looks like this", ""]
    lines += [f"- {where}: {what}" for where, what in WHY]
    return "\n".join(lines) + "\n"
