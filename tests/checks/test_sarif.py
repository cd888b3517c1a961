"""`sop lint --format sarif`: SARIF 2.1.0 for code-scanning UIs."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from sop import __version__
from sop.checks.sarif import RULES, SCHEMA
from tests.cli.test_cli import invoke, reviewed_today
from tests.conftest import MINIMAL


def test_lint_as_sarif_has_rules_and_located_results(write: Callable[..., Path]) -> None:
    write(reviewed_today(MINIMAL).replace("echo hello", "echo {{ hots }}"), "my sops/a.yaml")
    write(reviewed_today(MINIMAL).replace("owner: team\n", "").replace("minimal", "b"), "b.yaml")
    code, out, err = invoke("lint", "--format", "sarif", "my sops/a.yaml", "b.yaml")
    assert (code, err) == (1, "")
    log = json.loads(out)
    assert (log["$schema"], log["version"]) == (SCHEMA, "2.1.0")
    (run,) = log["runs"]
    driver = run["tool"]["driver"]
    assert (driver["name"], driver["version"]) == ("sop", __version__)
    rules = [r["id"] for r in driver["rules"]]
    assert set(rules) == set(RULES) and rules == sorted(rules)
    assert all(r["shortDescription"]["text"] for r in driver["rules"])
    assert run["results"] == [
        {
            "ruleId": "metadata",
            "ruleIndex": rules.index("metadata"),
            "level": "warning",
            "message": {"text": "owner: no owner: who keeps this SOP true?"},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": "b.yaml"},
                        "region": {"startLine": 1, "startColumn": 1},
                    }
                }
            ],
        },
        {
            "ruleId": "template",
            "ruleIndex": rules.index("template"),
            "level": "error",
            "message": {
                "text": "steps[0].run: undefined variable 'hots': not an input, an answer or "
                "a capture"
            },
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": "my%20sops/a.yaml"},
                        "region": {"startLine": 8, "startColumn": 5},
                    }
                }
            ],
        },
    ]


def test_a_clean_library_is_an_empty_sarif_run(write: Callable[..., Path]) -> None:
    write(reviewed_today(MINIMAL))
    code, out, _ = invoke("lint", "--format", "sarif", "sop.yaml")
    assert code == 0
    assert json.loads(out)["runs"][0]["results"] == []
