"""A public runbook's interactive step in a real terminal: linux-perf-60s's `top`, the real
top on an sshd fixture host, started with `--start-at top`, then the manual steps after it."""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Callable

from sop.audit.reader import read_run

from ..integration.rundir import REPO, SOP, RunDir
from .session import DONE, Terminal
from .test_interactive_pty import run_dir

PERF = REPO / "runbooks" / "linux-perf-60s.yaml"
BEFORE_TOP = (
    *("sysstat", "install-sysstat", "uptime", "dmesg", "vmstat", "mpstat", "pidstat"),
    *("iostat", "free", "sar-dev", "sar-tcp"),
)
SUSPECTS = "Resources that show errors or saturation (e.g. CPU: r=34 on 32 CPUs): "
CLEARED = 'Resources you checked and exonerated (e.g. "disks, network"): '


def test_linux_perf_60s_hands_the_terminal_to_top_on_a_host_and_takes_it_back(
    rundir: RunDir, terminal: Callable[..., Terminal]
) -> None:
    term = terminal(PERF, "-i", "host=h01", "--start-at", "top=first minute done by hand")
    term.expect("Ctrl-] then d detaches (ends it)")
    term.expect("load average:")  # top's own screen, from the host
    term.expect("Tasks:")
    term.child.send("q")
    term.expect("terminal back to sop (the command exited)")
    term.expect("✔ ok")
    term.answer(DONE, "d")  # exonerated
    term.answer(SUSPECTS, "none")
    term.answer(CLEARED, "cpu, memory, disks, network")
    term.answer(DONE, "d")  # follow-on
    assert term.exit_status() == 0

    folder = run_dir(rundir, term)
    log = read_run(folder)
    finished = {e.step_id: (e.outcome, e.reason) for e in log if e.action == "step-finished"}
    assert finished == {
        **dict.fromkeys(BEFORE_TOP, ("skipped", "first minute done by hand (--start-at top)")),
        "top": ("success", ""),
        "exonerated": ("done", ""),
        "follow-on": ("done", ""),
    }
    answers = {e.answer_name: e.answer_value for e in log if e.action == "answered"}
    assert answers == {"suspects": "none", "cleared": "cpu, memory, disks, network"}
    [session] = [e for e in log if e.action == "interactive-session"]
    assert (session.step_id, session.host, session.session_ended) == ("top", "h01", "exit")
    assert session.recording == "session-12-top-h01.cast"  # step 12, on h01
    cast = folder / session.recording
    assert session.recording_sha256 == hashlib.sha256(cast.read_bytes()).hexdigest()
    assert "load average:" in cast.read_text()
    audit = subprocess.run(
        [str(SOP), "audit", "verify", str(folder)], capture_output=True, text=True, env=rundir.env()
    )
    assert audit.returncode == 0, audit.stdout + audit.stderr
    assert (
        "note: 1 interactive session recording(s) match the SHA-256 the log holds: "
        "session-12-top-h01.cast"
    ) in audit.stderr
