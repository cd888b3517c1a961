"""Scenario files: the format's errors name file:line:col and the key path; lint checks that
every expected SOP exists; the library's own scenarios load."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from sop.checks.lint import lint_paths
from sop.errors import SopFileError
from sop.format.discovery import load_library
from sop.format.scenario import find_scenario, load_scenario, scenario_files

from ..conftest import MINIMAL, REPO

GOOD = """\
tabletop: 1
id: small
title: Small
narrative: Something happens.
phases: [respond]
expected: [minimal]
injects:
  - at: 0m
    text: First.
  - at: 5m
    text: Second.
    expects: minimal
"""


def problems(write: Callable[..., Path], text: str) -> list[str]:
    path = write(text, "scenarios/s.yaml")
    try:
        load_scenario(path)
    except SopFileError as exc:
        return [str(p) for p in exc.problems]
    return []


def test_a_scenario_loads_into_frozen_records(write: Callable[..., Path]) -> None:
    scenario = load_scenario(write(GOOD, "scenarios/s.yaml"))
    assert (scenario.id, scenario.phases, scenario.expected) == (
        "small",
        ("respond",),
        ("minimal",),
    )
    assert [(i.number, i.at, i.expects) for i in scenario.injects] == [
        (1, 0.0, ()),
        (2, 300.0, ("minimal",)),
    ]
    with pytest.raises(AttributeError):
        scenario.id = "other"  # type: ignore[misc]


def test_errors_name_the_place_and_the_key_path(write: Callable[..., Path]) -> None:
    text = GOOD.replace("phases: [respond]", "phases: [respnd]").replace(
        "    text: Second.", "    txt: Second."
    )
    assert problems(write, text) == [
        "scenarios/s.yaml:5:10: phases[0]: expected one of identify, protect, detect, respond, recover; got 'respnd'",
        "scenarios/s.yaml:10:5: injects[1]: missing required key 'text'",
        "scenarios/s.yaml:11:5: injects[1].txt: unknown key; did you mean 'text'?",
    ]


def test_injects_are_in_time_order_and_expect_only_expected_sops(
    write: Callable[..., Path],
) -> None:
    text = (
        GOOD.replace("at: 5m", "at: 0s")
        .replace("at: 0m", "at: 1h")
        .replace("expects: minimal", "expects: [other]")
    )
    assert problems(write, text) == [
        "scenarios/s.yaml:10:5: injects[1].at: injects must be in time order (this one comes before the one above it)",
        "scenarios/s.yaml:12:5: injects[1].expects: 'other' is not in the scenario's `expected` list",
    ]


def test_lint_checks_that_expected_sops_exist(write: Callable[..., Path], in_tmp: Path) -> None:
    write(MINIMAL.replace("title: Minimal", "title: Minimal\nphase: respond"), "lib/minimal.yaml")
    write(GOOD.replace("expected: [minimal]", "expected: [minimal, gone]"), "lib/scenarios/s.yaml")
    report = lint_paths([Path("lib")], today=__import__("datetime").date(2026, 11, 2))
    assert [str(p) for p in report.problems] == [
        "lib/scenarios/s.yaml:6:21: expected[1]: no SOP with id 'gone' in the library"
    ]
    assert report.files == 2  # the SOP and the scenario


def test_a_scenario_named_on_its_own_is_linted_as_a_scenario(
    write: Callable[..., Path], in_tmp: Path
) -> None:
    """As pre-commit or an editor would call it: the expected SOPs are looked up in the
    library the scenarios folder belongs to."""
    write(MINIMAL.replace("title: Minimal", "title: Minimal\nphase: respond"), "lib/minimal.yaml")
    good = write(GOOD, "lib/scenarios/good.yaml")
    bad = write(
        GOOD.replace("expected: [minimal]", "expected: [minimal, gone]"), "lib/scenarios/b.yaml"
    )
    today = __import__("datetime").date(2026, 11, 2)
    report = lint_paths([good], today=today)
    assert (report.problems, report.files) == ((), 1)
    report = lint_paths([bad, good], today=today)
    assert [str(p) for p in report.problems] == [
        "lib/scenarios/b.yaml:6:21: expected[1]: no SOP with id 'gone' in the library"
    ]
    assert report.files == 2


def test_scenarios_are_found_by_id(
    write: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    write(GOOD, "lib/scenarios/other-name.yaml")
    monkeypatch.setenv("SOP_PATH", "lib")
    assert find_scenario("small") == Path("lib/scenarios/other-name.yaml")


def test_the_library_scenarios_load_and_name_existing_sops() -> None:
    files = scenario_files([REPO / "runbooks"])
    assert len(files) >= 3
    known = load_library([REPO / "runbooks"]).by_id()
    for path in files:
        scenario = load_scenario(path)
        assert set(scenario.expected) <= set(known), path
        assert any(i.expects for i in scenario.injects)


def test_the_tabletop_json_schema_accepts_the_library_and_rejects_what_the_loader_rejects() -> None:
    import json

    import jsonschema
    import yaml
    from click.testing import CliRunner

    from sop.cli import cli

    result = CliRunner().invoke(cli, ["schema", "--tabletop"])
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    files = scenario_files([REPO / "runbooks"])
    assert len(files) >= 3
    for path in files:
        assert [e.message for e in validator.iter_errors(yaml.safe_load(path.read_text()))] == []
    good = yaml.safe_load(GOOD)
    assert validator.is_valid(good)
    for bad in (
        {**good, "injects": [{"at": "5m", "txt": "typo"}]},
        {**good, "injects": [{"at": "soon", "text": "x"}]},
        {**good, "phases": ["panic"]},
        {k: v for k, v in good.items() if k != "expected"},
        {**good, "extra": 1},
    ):
        assert not validator.is_valid(bad), bad
