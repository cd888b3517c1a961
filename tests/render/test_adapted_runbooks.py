"""The runbooks adapted from public sources (runbooks/README.md): every scenario drills green
along its branch, and the pages keep the originals' queries, notes and lists and build with
mkdocs --strict."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sop.render import render_files, render_library
from tests.render.conftest import RUNBOOKS, load
from tests.render.mkdocs import build_strict

SOP = Path(sys.executable).parent / "sop"
ADAPTED = {
    "kube-pod-crash-looping": ["", "never-started"],
    "node-clock-not-synchronising": ["", "chronyd-stopped", "no-chronyd"],
    "aws-iam-credential-compromise": [
        "",
        "exposed-console-password",
        "legitimate-after-all",
        "unclear-then-cirt",
        "second-key",
        "preparation",
    ],
}
CASES = [(sop_id, scenario) for sop_id, scenarios in ADAPTED.items() for scenario in scenarios]


def test_every_scenario_of_the_adapted_runbooks_is_listed_here() -> None:
    for sop_id, scenarios in ADAPTED.items():
        (sop,) = load(RUNBOOKS / f"{sop_id}.yaml")
        assert sorted(sop.scenarios) == sorted(s for s in scenarios if s)


@pytest.mark.parametrize(("sop_id", "scenario"), CASES)
def test_each_branch_drills_green(sop_id: str, scenario: str, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "SOP_STATE_DIR": str(tmp_path / "s"),
        "SOP_AUDIT_KEYS": str(tmp_path / "k"),
    }
    args = ["--scenario", scenario] if scenario else []
    proc = subprocess.run(
        [
            str(SOP),
            "drill",
            "--yes",
            "--pace",
            "0",
            str(RUNBOOKS / f"{sop_id}.yaml"),
            *args,
            "--report",
            str(tmp_path / "r"),
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    assert report["outcome"] == "success" and report["failures"] == []


def decided(state: Path) -> list[str]:
    (run,) = (state / "runs").iterdir()
    records = [json.loads(line) for line in (run / "audit.jsonl").read_text().splitlines()]
    return [r["sop"]["choice"] for r in records if r["event"]["action"] == "decided"]


def test_the_second_key_scenario_goes_back_to_containment_and_to_eradication(
    tmp_path: Path,
) -> None:
    env = {
        **os.environ,
        "SOP_STATE_DIR": str(tmp_path / "s"),
        "SOP_AUDIT_KEYS": str(tmp_path / "k"),
    }
    path = RUNBOOKS / "aws-iam-credential-compromise.yaml"
    proc = subprocess.run(
        [str(SOP), "drill", "--yes", "--pace", "0", str(path), "--scenario", "second-key"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
    assert decided(tmp_path / "s") == [
        "an incident: go straight to triage",
        "yes: run the Athena queries",
        "yes: confirmed unauthorized use from unfamiliar source",
        "a long-term IAM user access key",
        "yes: document containment and go on to eradication",
        "yes: return to Part 3 (Contain) and deactivate them before continuing",
        "a long-term IAM user access key",
        "yes: document containment and go on to eradication",
        "no: validate eradication",
        "no: back to 4.2",
        "no: validate eradication",
        "yes: recover",
    ]


def test_the_pages_keep_the_originals_queries_notes_and_lists() -> None:
    sops = load(*(RUNBOOKS / f"{sop_id}.yaml" for sop_id in ADAPTED))
    pages = render_files(sops, "markdown")
    aws = pages["aws-iam-credential-compromise.md"]
    assert "'CreateFunction', 'UpdateFunctionCode', 'AddPermission'," in aws  # query 3
    assert "--query-string file:///dev/stdin" in aws
    assert "There is no &quot;deactivate&quot; for console passwords" in aws or (
        'There is no "deactivate" for console passwords' in aws
    )
    clock = pages["node-clock-not-synchronising.md"]
    assert "System clock was stepped by 16422.107473 seconds" in clock  # a heading note
    assert "min_over_time(node_timex_sync_status{instance=" in clock  # the query, on stdin
    crash = pages["kube-pod-crash-looping.md"]
    assert "    - pod priority\n" in crash  # a prose step that starts with a list
    html = render_files(sops, "html")["kube-pod-crash-looping.html"]
    assert "lack of special container capabilities (securityContext)" in html


def test_mkdocs_builds_the_adapted_runbooks_strictly(tmp_path: Path) -> None:
    sops = load(*(RUNBOOKS / f"{sop_id}.yaml" for sop_id in ADAPTED))
    render_library(sops, "markdown", tmp_path, mkdocs=True)
    build_strict(tmp_path)
    built = (tmp_path / "site" / "aws-iam-credential-compromise" / "index.html").read_text()
    assert '<code class="language-mermaid">flowchart TD' in built
    assert '<a href="#section-contain">3.2 Containment actions</a>' in built
