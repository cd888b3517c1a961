"""`sop audit verify --format json`: the result as one JSON object, the exit code unchanged."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.audit.test_trail import MARKERS, env, only_run, run, sop_file

__all__ = ["env"]  # the fixture


def test_verify_as_json_for_a_sealed_and_a_tampered_log(
    tmp_path: Path, env: dict[str, str]
) -> None:
    path = sop_file(tmp_path, MARKERS.format(d=tmp_path))
    assert run(["run", "--yes", str(path)], env).returncode == 0
    run_dir = only_run(env)
    log = run_dir / "audit.jsonl"
    verified = run(["audit", "verify", "--format", "json", run_dir.name], env)
    assert (verified.returncode, verified.stderr) == (0, "")
    result = json.loads(verified.stdout)
    records = len(log.read_text().splitlines())
    assert result == {
        "log": str(log),
        "status": "verified",
        "records": records,
        "head": result["head"],
        "seals_verified": result["seals_verified"],
        "keyed": True,
        "unsealed_records": 0,
        "findings": [],
        "notes": [],
    }
    assert re.fullmatch(r"[0-9]+:[0-9a-f]{64}", result["head"]) and result["seals_verified"] >= 1
    lines = log.read_text().splitlines(keepends=True)
    lines[4] = lines[4].replace("touch", "tuch")
    log.write_text("".join(lines))
    failed = run(["audit", "verify", "--format", "json", str(log)], env)
    assert failed.returncode == 1
    result = json.loads(failed.stdout)
    assert result["status"] == "failed"
    assert result["findings"][0] == {
        "line": 5,
        "kind": "edited",
        "message": "the record does not match its hash",
    }
