"""`sop coverage`: the five phases with their SOPs; exit 1 when a phase has none."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from click.testing import CliRunner

from sop.cli import cli

from ..conftest import MINIMAL, REPO


def test_the_library_covers_every_phase() -> None:
    result = CliRunner().invoke(cli, ["coverage", str(REPO / "runbooks"), "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert [r["phase"] for r in data["phases"]] == [
        "identify",
        "protect",
        "detect",
        "respond",
        "recover",
    ]
    assert data["gaps"] == []
    respond = next(r for r in data["phases"] if r["phase"] == "respond")
    assert {"data-exfiltration", "ransomware", "leaked-cloud-keys"} <= set(respond["sops"])


def test_a_phase_without_sop_is_a_gap(write: Callable[..., Path]) -> None:
    write(MINIMAL.replace("title: Minimal", "title: Minimal\nphase: respond"), "lib/m.yaml")
    write(MINIMAL.replace("id: minimal", "id: nophase"), "lib/n.yaml")
    result = CliRunner().invoke(cli, ["coverage", "lib"])
    assert result.exit_code == 1
    assert result.stdout == (
        "PHASE     STATUS       SOPS\n"
        "identify  GAP: no SOP  -\n"
        "protect   GAP: no SOP  -\n"
        "detect    GAP: no SOP  -\n"
        "respond   covered      minimal\n"
        "recover   GAP: no SOP  -\n"
        "\n"
        "SOPs without a phase: nophase\n"
    )
    assert result.stderr == "no SOP for: identify, protect, detect, recover\n"


def test_an_sop_counts_in_the_phase_of_each_of_its_sections(write: Callable[..., Path]) -> None:
    text = MINIMAL.replace("title: Minimal", "title: Minimal\nphase: detect") + (
        "  - heading: Contain\n    phase: respond\n  - run: 'true'\n"
        "  - heading: Recover\n    phase: recover\n  - run: 'true'\n"
        "  - heading: Recover more\n    phase: recover\n  - run: 'true'\n"
    )
    write(text, "lib/m.yaml")
    result = CliRunner().invoke(cli, ["coverage", "lib"])
    assert result.stdout == (
        "PHASE     STATUS       SOPS\n"
        "identify  GAP: no SOP  -\n"
        "protect   GAP: no SOP  -\n"
        "detect    covered      minimal\n"
        "respond   covered      minimal\n"
        "recover   covered      minimal\n"
    )
