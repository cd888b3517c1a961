"""The drill guard: code running inside a simulated drill (no SOP code does any more; these
attacks stand in for a regression that would let some) cannot start a program, reach the
network or ask DNS, cannot switch the guard off, and cannot hide a blocked attempt by catching
the error: the drill fails, and its audit log says why."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from .conftest import Attack, records

DRILL_SOP = """\
steps:
  - id: look
    title: Look
    run: uptime
    drill: {stdout: "up\\n"}
"""
BYPASSES = {
    "ctypes system()": (
        "import ctypes\nctypes.CDLL(None).system(b'touch {pwned}')",
        "import ctypes",
    ),
    "_posixsubprocess.fork_exec": (
        "import _posixsubprocess, os\nr, w = os.pipe()\n_posixsubprocess.fork_exec("
        "[b'/bin/sh'], [b'/bin/sh'], True, (), None, [b'-c', b'touch {pwned}'], "
        "-1, -1, -1, -1, -1, -1, r, w, True, False, None, None, None, -1, None, False, None)",
        "import _posixsubprocess",
    ),
    "the extension loaded by path": (
        "import glob, importlib.util, sys\n"
        "so = glob.glob(sys.base_prefix + '/lib/python3*/lib-dynload/_posixsubprocess*')[0]\n"
        "spec = importlib.util.spec_from_file_location('x._posixsubprocess', so)\n"
        "importlib.util.module_from_spec(spec)",
        "import x._posixsubprocess",
    ),
    "subprocess": (
        "import subprocess\nsubprocess.run(['touch', '{pwned}'])",
        "import _posixsubprocess",
    ),
    "os.system": ("import os\nos.system('touch {pwned}')", "os.system"),
    "os.posix_spawn": (
        "import os\nos.posix_spawn('/bin/touch', ['touch', '{pwned}'], {{}})",
        "os.posix_spawn",
    ),
    "UDP sendmsg": (
        "import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
        "s.sendmsg([b'{pwned}'], [], 0, ('127.0.0.1', 9))",
        "socket.__new__",
    ),
    "UDP over a socketpair": (
        "import socket\na, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)\n"
        "a.sendmsg([b'x'], [], 0, '/dev/log')",
        "socket.__new__",
    ),
    "DNS getaddrinfo": (
        "import socket\nsocket.getaddrinfo('pwned.example', 53)",
        "socket.getaddrinfo",
    ),
    "DNS gethostbyname": (
        "import socket\nsocket.gethostbyname('pwned.example')",
        "socket.gethostbyname",
    ),
    "rebinding the guard's lists": (
        "import os, sop.drill.guard as g\n"
        "g.GUARDED = g.BLOCKED_EVENTS = g.BLOCKED_MODULES = frozenset()\n"
        "g.BLOCKED_PREFIXES = ()\ng.DrillGuardError = Warning\n"
        "os.system('touch {pwned}')",
        "os.system",
    ),
    "finding the hook": ("import gc\ngc.get_objects()", "gc.get_objects"),
}
SWALLOWING_EXECUTOR = """\
import sys
from sop.executors.simulated import SimulatedExecutor

real = SimulatedExecutor.execute


def execute(self, job, host, output, on_command):
    try:
{attempt}
    except BaseException:
        pass  # the attacker hides the guard's error
    return real(self, job, host, output, on_command)


SimulatedExecutor.execute = execute
from sop.cli import main

sys.argv = ["sop", "drill", "--yes", "--pace", "0", "attack.yaml"]
main()
"""


@pytest.mark.parametrize("bypass", BYPASSES, ids=list(BYPASSES))
def test_a_bypass_inside_a_simulated_drill_is_blocked_and_fails_the_drill(
    attack: Attack, bypass: str
) -> None:
    code, blocked = BYPASSES[bypass]
    attempt = textwrap.indent(code.format(pwned=attack.pwned), " " * 8)
    attack.write(DRILL_SOP)
    result = subprocess.run(
        [sys.executable, "-c", SWALLOWING_EXECUTOR.format(attempt=attempt)],
        cwd=attack.path,
        env=attack.env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    attack.assert_nothing_ran()
    message = f"the drill guard blocked 1 side effect(s): {blocked}"
    assert (result.returncode, result.stderr) == (1, f"sop: error: {message}: the drill fails\n")
    (note,) = [r for r in records(attack) if r["event"]["action"] == "drill-guard"]
    assert (note["message"], note["sop"]["blocked"]) == (message, [blocked])


def test_the_guard_refuses_to_start_once_the_unaudited_modules_are_loaded() -> None:
    """`_posixsubprocess` and `_ctypes` work without audit events: a guard installed after
    them would be a false promise, so it says so instead."""
    code = (
        "import subprocess\nfrom sop.drill.guard import forbid_side_effects\n"
        "forbid_side_effects()\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        "sop.drill.guard.DrillGuardError: the drill guard must be on before _posixsubprocess "
        "is imported; it is not"
    )


def test_blocked_attempts_are_counted_even_when_caught() -> None:
    code = textwrap.dedent("""\
        import json, os, socket
        from sop.drill.guard import forbid_side_effects
        blocked = forbid_side_effects()
        for attempt in (lambda: os.system("true"), lambda: socket.getaddrinfo("x", 1)):
            try:
                attempt()
            except Exception as exc:
                print(exc)
        print(json.dumps(blocked()))
        """)
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.splitlines() == [
        "a drill must not reach the network or run programs (blocked: os.system)",
        "a drill must not reach the network or run programs (blocked: socket.getaddrinfo)",
        json.dumps(["os.system", "socket.getaddrinfo"]),
    ]
