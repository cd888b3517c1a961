"""`script` steps fail fast over SSH as they do locally: `sop run --yes` (the real CLI) against
the sshd fixture and on this machine."""

from __future__ import annotations

from pathlib import Path

import pytest

from .rundir import RunDir
from .sshd import SshdHosts
from .test_run_ssh import sop_yaml


@pytest.fixture
def rundir(tmp_path: Path, sshd_hosts: SshdHosts) -> RunDir:
    return RunDir.create(tmp_path / "runbooks", sshd_hosts)


def script_sop(rundir: RunDir, target: str, script: str, **extra: object) -> Path:
    step = {"id": "three-lines", "on": target, "script": script, **extra}
    after = {"id": "after", "run": "@MARK@ after"}
    return rundir.write_sop(sop_yaml("scripted", steps=[step, after]))


@pytest.mark.parametrize("target", ["h01", "local"])
def test_a_script_stops_at_its_failing_middle_command_and_the_step_fails(
    rundir: RunDir, target: str
) -> None:
    sop = script_sop(rundir, target, "@MARK@ one\nfalse\n@MARK@ three\n")

    proc = rundir.run(sop, "--yes")

    assert proc.returncode == 1
    assert rundir.marks() == [f"{target} one"]
    assert f"step 1 (three-lines) failed: {target}: exit 1" in proc.stdout


@pytest.mark.parametrize("target", ["h01", "local"])
def test_an_unset_variable_fails_the_script_naming_the_step_and_its_line(
    rundir: RunDir, target: str
) -> None:
    sop = script_sop(rundir, target, '@MARK@ one\n@MARK@ "$SOP_NOT_SET"\n@MARK@ three\n')

    proc = rundir.run(sop, "--yes")

    assert proc.returncode == 1
    assert rundir.marks() == [f"{target} one"]
    assert "three-lines: 2: /dev/fd/3: SOP_NOT_SET: parameter not set" in proc.stdout
    assert f"step 1 (three-lines) failed: {target}: exit 2" in proc.stdout


@pytest.mark.parametrize("target", ["h01", "local"])
def test_a_script_that_opts_out_runs_every_line(rundir: RunDir, target: str) -> None:
    sop = script_sop(rundir, target, "@MARK@ one\nfalse\n@MARK@ three\n", strict=False)

    proc = rundir.run(sop, "--yes")

    assert proc.returncode == 0, proc.stdout
    assert rundir.marks() == [f"{target} one", f"{target} three", "local after"]
