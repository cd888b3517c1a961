"""`sop run --inputs FILE` and `--alert PAYLOAD`: input values from a file or an alert, validated
like `-i`, shell-quoted as usual; the SOP found by the alert it answers."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from sop.cli import cli
from sop.format.alerts import alert_matches, read_alert_payload

DATA = Path(__file__).resolve().parents[1] / "data" / "alerts"

CRASHLOOP = """\
sop: 1
id: crashloop
title: Pod crash looping
owner: team
reviewed: 2026-11-01
alerts: [KubePod*]
inputs:
  namespace: {required: true, pattern: '[a-z0-9-]+'}
  pod: {required: true}
  why: {from_alert: annotations.description}
  where: {from_alert: commonLabels.cluster}
steps:
  - id: record
    run: printf '%s\\0' {{ namespace }} {{ pod }} {{ why }} {{ where }} > args
"""


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout + result.stderr


def args_received(folder: Path) -> list[str]:
    return (folder / "args").read_bytes().decode().split("\0")[:-1]


@pytest.fixture
def library(write: Callable[..., Path], in_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    write(CRASHLOOP, "runbooks/crashloop.yaml")
    monkeypatch.setenv("SOP_STATE_DIR", str(in_tmp / "state"))
    monkeypatch.setenv("SOP_NO_CACHE", "1")
    shutil.copy(DATA / "alertmanager-v4.json", in_tmp / "am.json")
    return in_tmp


def test_alert_names_match_ignoring_case_with_globs() -> None:
    assert alert_matches("KubePodCrashLooping", "kubepod*")
    assert alert_matches("diskfull", "DiskFull")
    assert not alert_matches("KubeNodeDown", "KubePod*")


def test_alertmanager_payload_firing_alerts_first_with_their_labels() -> None:
    alerts = read_alert_payload(DATA / "alertmanager-v4.json")
    assert [(a.name, a.firing) for a in alerts] == [
        ("KubePodCrashLooping", True),
        ("KubePodCrashLooping", False),
    ]
    assert alerts[0].fields["labels.pod"] == "api-7f9c$(touch /tmp/pwned)"
    assert alerts[0].fields["commonLabels.cluster"] == "prod-eu"
    assert alerts[0].fields["groupLabels.alertname"] == "KubePodCrashLooping"
    assert alerts[0].fields["status"] == "firing"


def test_pagerduty_v3_incident_from_the_documented_sample() -> None:
    (alert,) = read_alert_payload(DATA / "pagerduty-v3-incident.json")
    assert alert.name == "A little bump in the road"
    assert alert.firing
    assert {k: alert.fields[k] for k in ("labels.service", "labels.urgency", "labels.number")} == {
        "labels.service": "API Service",
        "labels.urgency": "high",
        "labels.number": "2",
    }
    assert alert.fields["labels.priority"] == "P1"


def test_run_by_alert_finds_the_sop_and_fills_inputs_with_exact_bytes(library: Path) -> None:
    code, out = invoke("run", "--alert", "am.json", "--yes")

    assert code == 0, out
    assert args_received(library) == [
        "payments",
        "api-7f9c$(touch /tmp/pwned)",
        "it's '; rm -rf / #\nsecond line",
        "prod-eu",
    ]
    assert not Path("/tmp/pwned").exists()


def test_dash_i_wins_over_the_inputs_file_which_wins_over_the_alert(
    library: Path, write: Callable[..., Path]
) -> None:
    write("namespace: from-file\npod: 42\n", "inputs.yaml")

    code, out = invoke(
        "run",
        "crashloop",
        "--alert",
        "am.json",
        "--inputs",
        "inputs.yaml",
        "-i",
        "pod=cli",
        "--yes",
    )
    assert code == 0, out
    assert args_received(library)[:2] == ["from-file", "cli"]


def test_a_value_from_an_alert_is_validated_and_the_error_names_its_source(
    library: Path,
) -> None:
    text = (library / "am.json").read_text().replace('"payments"', '"Pay Ments"')
    (library / "am.json").write_text(text)

    code, out = invoke("run", "--alert", "am.json", "--yes")

    assert code != 0
    assert (
        "input 'namespace': 'Pay Ments' does not match [a-z0-9-]+ (from am.json: labels.namespace)"
        in out
    )
    assert not (library / "args").exists()


def test_an_inputs_file_error_names_file_line_and_column(
    library: Path, write: Callable[..., Path]
) -> None:
    write('{"namespace": "ok", "pod": ["a"]}', "inputs.json")
    code, out = invoke("run", "crashloop", "--inputs", "inputs.json", "--yes")
    assert code != 0
    assert "inputs.json:1:28: input 'pod' needs a text, number or boolean value" in out

    write("nope: 1\n", "inputs.yaml")
    code, out = invoke("run", "crashloop", "--inputs", "inputs.yaml", "--yes")
    assert code != 0
    assert (
        "inputs.yaml:1:1: 'crashloop' has no input 'nope' (it has: namespace, pod, why, where)"
        in out
    )


def test_a_secret_input_is_refused_from_an_inputs_file(
    library: Path, write: Callable[..., Path]
) -> None:
    text = CRASHLOOP.replace("inputs:\n", "inputs:\n  token: {secret: true}\n")
    write(text, "runbooks/crashloop.yaml")
    write("token: hunter2-hunter2\n", "inputs.yaml")

    code, out = invoke("run", "crashloop", "--inputs", "inputs.yaml", "--yes")

    assert code != 0
    assert (
        "inputs.yaml:1:1: secret input 'token' cannot come from an inputs file (files are kept "
        "and passed around); use --secret-file token=PATH, or answer the prompt"
    ) in out


def test_ambiguous_or_unanswered_alerts_stop_and_say_which(
    library: Path, write: Callable[..., Path]
) -> None:
    write(CRASHLOOP.replace("id: crashloop", "id: other"), "runbooks/other.yaml")
    code, out = invoke("run", "--alert", "am.json", "--yes")
    assert code != 0
    assert (
        "the firing alerts lead to 2 SOPs (KubePodCrashLooping -> crashloop, other); give the "
        "one to run: sop run SOP --alert am.json"
    ) in out

    shutil.copy(DATA / "pagerduty-v3-incident.json", library / "pd.json")
    code, out = invoke("run", "--alert", "pd.json", "--yes")
    assert code != 0
    assert "answers the firing alert(s) A little bump in the road;" in out
    assert not (library / "args").exists()


def test_from_alert_is_checked_by_the_schema(problems_of: Callable[..., list[str]]) -> None:
    text = CRASHLOOP.replace("annotations.description", "labelz.x").replace(
        "  pod: {required: true}",
        "  pod: {required: true}\n  key: {secret: true, from_alert: labels.k}",
    )
    assert problems_of(text) == [
        "sop.yaml:10:23: inputs.key.from_alert: a secret input cannot come from an alert (its "
        "payload is shown and logged)",
        "sop.yaml:11:21: inputs.why.from_alert: 'labelz.x': expected labels.NAME, annotations.NAME, "
        "commonLabels.NAME, commonAnnotations.NAME, groupLabels.NAME, name or status",
    ]


def test_sop_list_matches_alerts_ignoring_case_and_globs(library: Path) -> None:
    for asked in ("kubepodcrashlooping", "KubePodNotReady", "KubePod*"):
        code, out = invoke("list", "--alert", asked)
        assert code == 0
        assert "crashloop" in out, asked
    code, out = invoke("list", "--alert", "KubeNodeDown")
    assert "crashloop" not in out
