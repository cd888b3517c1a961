"""A fire drill in a real terminal: the responder meets an injected failure and retries."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pexpect

from tests.conftest import REPO

SOP = Path(sys.executable).parent / "sop"


def test_an_interactive_drill_through_an_injected_failure(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "SOP_STATE_DIR": str(tmp_path / "state"),
        "SOP_AUDIT_KEYS": str(tmp_path / "keys"),
        "NO_COLOR": "1",
        "COLUMNS": "160",
    }
    child = pexpect.spawn(
        str(SOP),
        [
            "drill",
            str(REPO / "runbooks" / "disk-full.yaml"),
            "--scenario",
            "cleanup-fails",
            "--pace",
            "0",
            "--report",
            str(tmp_path / "report"),
        ],
        env=env,
        encoding="utf-8",
        timeout=30,
        dimensions=(50, 160),
    )
    prompts = {
        r"Done\? \[d\]one": "d",
        r"Mount that is full.*: ": "",
        r"Run on web-1\? \[r\]un": "r",
        r"Type 'web-1' to run on it": "web-1",
        r"The step failed\. What now\? \[r\]etry": "r",
    }
    seen: list[str] = []
    patterns = [*prompts, "FIRE DRILL · scenario cleanup-fails", pexpect.EOF]
    while True:
        index = child.expect(patterns)
        if patterns[index] is pexpect.EOF:
            break
        if index == len(prompts):
            seen.append("banner")
            continue
        pattern = list(prompts)[index]
        seen.append(pattern)
        child.sendline(prompts[pattern])
    child.close()
    assert child.exitstatus == 0
    assert seen[0] == "banner"
    assert seen.count(r"The step failed\. What now\? \[r\]etry") == 1
    assert r"Type 'web-1' to run on it" in seen
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert report["outcome"] == "success" and report["scenario"] == "cleanup-fails"
    (failure,) = report["failures"]
    assert (failure["host"], failure["exit_code"], failure["choice"]) == ("web-1", 1, "retry")
    cleanup = next(s for s in report["steps"] if s["id"] == "cleanup-script")
    assert (cleanup["outcome"], cleanup["attempts"]) == ("success", 2)
