"""`sop render --runs STATE_DIR`: run history from real audit logs, written by `sop run --yes`
with local steps, plus a drill made from a run's log and a log someone edited."""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from sop.audit.history import (
    format_duration,
    format_time,
    summarize,
)
from sop.audit.reader import AuditEntry, CheckedLog, entry, read_entries
from sop.audit.runs import list_runs
from sop.cli import cli
from tests.render.auditlogs import as_drill, tamper
from tests.render.mkdocs import build_strict
from tests.render.test_confluence import parse

SOP_FILE = """\
sop: 1
id: hist-demo
title: History demo
inputs:
  code: {help: Exit code of the last step, default: "0"}
steps:
  - id: first
    run: "true"
  - id: nap
    run: sleep 0.1
  - id: boom
    run: exit {{ code }}
"""


def sop_run(folder: Path, operator: str, *args: str) -> int:
    env = dict(os.environ)
    env.update(
        SOP_STATE_DIR=str(folder / "state"),
        SOP_AUDIT_KEYS=str(folder / "keys"),
        LOGNAME=operator,
        USER=operator,
    )
    result = subprocess.run(
        [sys.executable, "-m", "sop", "run", str(folder / "sops" / "demo.yaml"), "--yes", *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return result.returncode


class Runs:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.state = folder / "state"
        (folder / "sops").mkdir()
        (folder / "sops" / "demo.yaml").write_text(SOP_FILE)
        assert sop_run(folder, "alice", "--input", "code=3", "--incident", "INC-7") == 1
        assert sop_run(folder, "bob") == 0
        self.failed, self.passed = (r.run_id for r in list_runs(self.state))
        self.drill = "20991231T000000-d0d0d0d0"
        as_drill(self.log(self.passed), self.state / "runs" / self.drill)
        assert sop_run(folder, "mallory") == 0
        self.edited = list_runs(self.state)[-1].run_id
        tamper(self.log(self.edited), '"mallory"', '"trusted-admin"')

    def log(self, run_id: str) -> Path:
        return self.state / "runs" / run_id / "audit.jsonl"

    def render(self, fmt: str, *extra: str) -> dict[str, str]:
        out = self.folder / f"out-{fmt}-{len(extra)}"
        shutil.rmtree(out, ignore_errors=True)
        args = ["render", str(self.folder / "sops"), "--format", fmt, "--out", str(out), *extra]
        result = CliRunner().invoke(cli, [*args, "--runs", str(self.state)])
        assert result.exit_code == 0, result.output
        return {
            str(p.relative_to(out)): p.read_text() for p in sorted(out.rglob("*")) if p.is_file()
        }

    def median(self, step: str) -> str:
        """The step's median over the trusted real runs and the drill, from the logs."""
        durations = [
            e.duration_ns
            for run_id in (self.failed, self.passed, self.drill)
            for e in read_entries(self.log(run_id))
            if e.action == "step-finished" and e.step_id == step and e.outcome == "success"
        ]
        return (
            f"{format_duration(round(statistics.median(durations)))} (median of {len(durations)})"
        )


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runs]:
    folder = tmp_path_factory.mktemp("history")
    with pytest.MonkeyPatch.context() as patch:  # the runs' keys, for `sop render` in-process
        patch.setenv("SOP_AUDIT_KEYS", str(folder / "keys"))
        yield Runs(folder)


def test_markdown_shows_the_last_run_drill_failure_and_medians(runs: Runs) -> None:
    page = runs.render("markdown")["hist-demo.md"]
    started = {r.run_id: r.started for r in list_runs(runs.state)}
    assert (
        f"| Last run | {format_time(started[runs.passed])}: success, by bob"
        f" \\(run {runs.passed}\\) |" in page
    )
    assert f"| Last drill | {format_time(started[runs.passed])}: success, by bob" in page
    assert f"\\(run {runs.drill}\\) |" in page
    assert f"| Last drilled | {started[runs.passed][:10]} \\(success\\) |" in page
    failure = next(
        e
        for e in read_entries(runs.log(runs.failed))
        if e.action == "step-finished" and e.ecs_outcome == "failure"
    )
    assert (
        f"| Last failure | {format_time(failure.time)}, step 3 \\(boom\\),"
        f" on local: exit code 3 \\(run {runs.failed}\\) |" in page
    )
    assert "| Counted | 2 runs and 1 drill from audit logs that verify |" in page
    for step in ("first", "nap"):
        assert (
            f"**Median time:** {runs.median(step)}".replace("(", "\\(").replace(")", "\\)") in page
        )
    assert runs.median("first").endswith("(median of 3)")
    assert runs.median("boom").endswith("(median of 2)")  # it failed in alice's run
    nap = float(runs.median("nap").split("s ")[0])
    assert nap >= 0.1


def test_an_edited_log_is_untrusted_and_not_counted(runs: Runs) -> None:
    page = runs.render("markdown")["hist-demo.md"]
    assert (
        f"**Untrusted:** the audit log of run `{runs.edited}` fails verification"
        " (line 1: edited: the record does not match its hash); it is not counted here." in page
    )
    assert "trusted-admin" not in page
    assert "mallory" not in page


def test_html_and_confluence_show_the_same_history(runs: Runs) -> None:
    for fmt, name in (("html", "hist-demo.html"), ("confluence", "hist-demo.xml")):
        page = runs.render(fmt)[name]
        assert "<h2>Run history</h2>" in page
        assert f"success, by bob (run {runs.passed})" in page
        assert f"step 3 (boom), on local: exit code 3 (run {runs.failed})" in page
        assert f"<code>{runs.edited}</code> fails verification" in page
        assert f"Median time:</strong> {runs.median('nap')}" in page or (
            f"<dt>Median time:</dt> <dd>{runs.median('nap')}</dd>" in page
        )
    tree = parse(runs.render("confluence")["hist-demo.xml"])  # well-formed
    assert any(el.text == "Run history" for el in tree.iter("h2"))


def test_a_torn_tail_is_counted_and_noted(runs: Runs, tmp_path: Path) -> None:
    state = tmp_path / "state"
    shutil.copytree(runs.state / "runs" / runs.failed, state / "runs" / runs.failed)
    with (state / "runs" / runs.failed / "audit.jsonl").open("ab") as handle:
        handle.write(b'{"seq": 99, "prev')
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli, ["render", str(runs.folder / "sops"), "--out", str(out), "--runs", str(state)]
    )
    assert result.exit_code == 0, result.output
    page = (out / "hist-demo.md").read_text()
    assert f"run {runs.failed} ends in a torn line" in page
    assert "| Counted | 1 run and 0 drills from audit logs that verify |" in page
    assert "on local: exit code 3" in page


def test_without_runs_there_is_no_history(runs: Runs, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["render", str(runs.folder / "sops"), "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    page = (tmp_path / "hist-demo.md").read_text()
    assert "Run history" not in page
    assert "Median time" not in page
    assert "| Last drilled | — |" in page


def test_an_sop_without_runs_says_so(runs: Runs, tmp_path: Path) -> None:
    (tmp_path / "state" / "runs").mkdir(parents=True)
    out = tmp_path / "out"
    args = [
        "render",
        str(runs.folder / "sops"),
        "--out",
        str(out),
        "--runs",
        str(tmp_path / "state"),
    ]
    assert CliRunner().invoke(cli, args).exit_code == 0
    page = (out / "hist-demo.md").read_text()
    assert "| Last run | none recorded |" in page
    assert "| Counted | 0 runs and 0 drills from audit logs that verify |" in page


def test_a_missing_state_dir_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["render", "--out", str(tmp_path / "o"), "--runs", str(tmp_path / "nope")]
    )
    assert result.exit_code == 2
    assert "does not exist" in result.output


def test_mkdocs_builds_strictly_with_run_history(runs: Runs) -> None:
    files = runs.render("markdown", "--mkdocs")
    assert "Run history" in files["docs/hist-demo.md"]
    site = runs.folder / "out-markdown-1"
    built = (build_strict(site, timeout=300) / "hist-demo" / "index.html").read_text()
    assert "Run history" in built
    assert "Untrusted:" in built


# the pure functions, on records written by hand -----------------------------------------


def plain_entry(kind: str, action: str) -> AuditEntry:
    return entry({"event": {"kind": kind, "action": action}, "sop": {"id": "x"}})


def finished_step(kind: str, step: str, ns: int, called: str = "") -> AuditEntry:
    sop: dict[str, object] = {"id": "x", "step": step, "outcome": "success"}
    if called:
        sop["called_sop"] = called
    return entry({"event": {"kind": kind, "action": "step-finished", "duration": ns}, "sop": sop})


def test_runs_of_another_kind_and_foreign_records_are_not_counted() -> None:
    logs = [
        CheckedLog("r1", (plain_entry("event", "run-started"), finished_step("event", "a", 10))),
        CheckedLog(
            "r2", (plain_entry("tabletop", "run-started"), finished_step("tabletop", "a", 99))
        ),
        CheckedLog("r3", (plain_entry("event", "run-started"), finished_step("drill", "a", 77))),
        CheckedLog("r4", (plain_entry("drill", "run-started"), finished_step("drill", "a", 30))),
    ]
    history = summarize(logs)["x"]
    assert [r.run_id for r in history.runs] == ["r1", "r3"]
    assert [r.run_id for r in history.drills] == ["r4"]
    assert history.runs[0].outcome == "unfinished"
    assert history.step_times["a"].count == 2
    assert history.step_times["a"].median_ns == 20


def test_steps_of_a_called_sop_count_for_that_sop() -> None:
    logs = [
        CheckedLog(
            "r1", (plain_entry("event", "run-started"), finished_step("event", "rotate", 5, "disk"))
        )
    ]
    result = summarize(logs)
    assert "rotate" not in result["x"].step_times
    assert result["disk"].step_times["rotate"].median_ns == 5


def test_durations_read_well() -> None:
    assert format_duration(61_449_148) == "0.06s"
    assert format_duration(4_500_000_000) == "4.5s"
    assert format_duration(31_000_000_000) == "31s"
    assert format_duration(97_500_000_000) == "1m 38s"
    assert format_duration(3_723_000_000_000) == "1h 02m"
    assert format_time("2026-11-28T14:06:12.288Z") == "2026-11-28 14:06 UTC"
