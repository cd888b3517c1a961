"""`sop tabletop` as a facilitator uses it: the real CLI in a pseudo-terminal, driven through
every inject of a library scenario; then the report it wrote."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pexpect

from ..conftest import REPO

SOP_BIN = Path(sys.executable).with_name("sop")
PICK = "Which SOP does the team pick?: "
ACTION = "What action?: "
NOTES = "Notes: "


def test_a_tabletop_through_all_its_injects(tmp_path: Path) -> None:
    env = {**os.environ, "SOP_STATE_DIR": str(tmp_path / "state"), "SOP_PATH": "runbooks"}
    env.pop("NO_COLOR", None)
    child = pexpect.spawn(
        str(SOP_BIN),
        ["tabletop", "exfiltration-friday-night", "--report", str(tmp_path / "report")],
        cwd=str(REPO),
        env=env,
        encoding="utf-8",
        timeout=20,
        dimensions=(50, 200),
    )
    try:
        child.expect_exact("Tabletop: Friday night, the customer database leaves the building")
        child.expect_exact("Phases at stake: detect, respond, recover")
        child.expect_exact("It is 22:40 on a Friday.")

        child.expect_exact("Inject 1 · T+0 min · 0:00 elapsed")
        child.expect_exact("UnusualEgressVolume fires for app-2")
        child.expect_exact(
            "SOPs: aws-iam-credential-compromise, botnet-compromised-server, collect-evidence, "
            "data-exfiltration"
        )
        child.expect_exact(PICK)
        child.sendline("")
        child.expect_exact(ACTION)
        child.sendline("check whether a backup runs")
        child.expect_exact(NOTES)
        child.sendline("")

        child.expect_exact("Inject 2 · T+5 min · ")
        child.expect_exact("large, sustained amount of outbound traffic")
        child.expect_exact(PICK)
        child.sendline("data-exfil")
        child.expect_exact("No SOP 'data-exfil' in the library")
        child.expect_exact(PICK)
        child.sendline("data-exfiltration")
        child.expect_exact(ACTION)
        child.sendline("block 203.0.113.50")
        child.expect_exact(NOTES)
        child.sendline("took a while to agree")

        child.expect_exact("Inject 3 · T+15 min · ")
        child.expect_exact(PICK)
        child.sendline("isolate-host")
        child.expect_exact(ACTION)
        child.sendline("isolate at once")
        child.expect_exact(NOTES)
        child.sendline("forgot the evidence")

        child.expect_exact("Inject 4 · T+30 min · ")
        child.expect_exact(PICK)
        child.sendline("isolate-host")
        child.expect_exact(ACTION)
        child.sendline("")
        child.expect_exact(NOTES)
        child.sendline("")

        child.expect_exact("Inject 5 · T+50 min · ")
        child.expect_exact(PICK)
        child.sendline("")
        child.expect_exact(ACTION)
        child.sendline("ask legal")
        child.expect_exact(NOTES)
        child.sendline("")

        child.expect_exact("Exercise over.")
        child.expect_exact("data-exfiltration: reached at inject 2")
        child.expect_exact("collect-evidence: never reached")
        child.expect_exact("isolate-host: reached at inject 3")
        child.expect_exact(f"report: {tmp_path / 'report'}/report.md")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0

    data = json.loads((tmp_path / "report" / "report.json").read_text())
    assert [(d["inject"], d["sop"], d["verdict"], d["action"]) for d in data["decisions"]] == [
        (1, "", "", "check whether a backup runs"),
        (2, "data-exfiltration", "right", "block 203.0.113.50"),
        (3, "isolate-host", "wrong", "isolate at once"),
        (4, "isolate-host", "right", ""),
        (5, "", "", "ask legal"),
    ]
    assert [(r["sop"], r["inject"], r["expected_from"]) for r in data["reached"]] == [
        ("data-exfiltration", 2, 2),
        ("collect-evidence", None, 3),
        ("isolate-host", 3, 4),
    ]
    assert data["coverage"]["gaps"] == []
    markdown = (tmp_path / "report" / "report.md").read_text()
    assert "| collect-evidence | 3 | **never** | - | - | - |" in markdown
    assert "| 3 | T+15 min |" in markdown and "forgot the evidence |" in markdown
