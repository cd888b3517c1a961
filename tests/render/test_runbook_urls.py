"""`sop alerts runbook-urls`: a Prometheus rule file with runbook_url annotations that lead to the
rendered page (and step) of the SOP answering each alert; the rest of the file as it was."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from click.testing import CliRunner

from sop.cli import cli
from sop.format.loader import load_sop
from sop.model import Sop
from sop.render import render_files
from sop.render.runbookurls import add_runbook_urls
from sop.run.testing import write_sop

DISK = """\
sop: 1
id: disk_full
title: Disk full
alerts: [NodeFilesystem*]
steps:
  - id: look
    prose: Look.
  - id: clean
    alerts: [nodefilesystemalmostoutofspace]
    run: echo clean
"""
API = """\
sop: 1
id: api-down
title: API down
alerts: [ApiDown, Twice]
steps:
  - prose: Look.
"""
OTHER = """\
sop: 1
id: other
title: Other
alerts: [twice]
steps:
  - prose: Look.
"""

RULES = """\
# rules kept by the platform team
groups:
  - name: node   # comment stays
    rules:
      - alert: NodeFilesystemAlmostOutOfSpace
        expr: node_filesystem_avail_bytes < 1e9
        annotations:
          summary: "Disk {{ $labels.mountpoint }} almost full"  # templated
          runbook_url: https://old.example/x   # outdated
      - alert: NodeFilesystemFilesFillingUp
        expr: x > 1
        annotations:
          summary: inodes
      - record: job:up:sum
        expr: sum(up) by (job)
      - alert: ApiDown
        expr: up{job="api"} == 0
        for: 5m
      - alert: ApiDown
        annotations: {summary: flow}
      - {alert: ApiDown, expr: flow}
      - alert: Twice
      - alert: NobodyKnows
"""
BASE = "https://wiki.example/sops/"


@pytest.fixture
def sops(tmp_path: Path) -> tuple[Sop, ...]:
    return tuple(
        load_sop(write_sop(tmp_path, text, name))
        for text, name in ((DISK, "disk.yaml"), (API, "api.yaml"), (OTHER, "other.yaml"))
    )


def test_each_alert_gets_its_sops_page_and_the_rest_of_the_file_stays(
    sops: tuple[Sop, ...],
) -> None:
    result = add_runbook_urls(RULES, "rules.yaml", sops, BASE)
    page = '"https://wiki.example/sops/disk_full.html'
    assert result.text == RULES.replace(
        "runbook_url: https://old.example/x   # outdated",
        f'runbook_url: {page}#step-clean"   # outdated',
    ).replace(
        "          summary: inodes\n",
        f'          runbook_url: {page}"\n          summary: inodes\n',
    ).replace(
        '      - alert: ApiDown\n        expr: up{job="api"} == 0\n',
        '      - annotations:\n          runbook_url: "https://wiki.example/sops/api-down.html"\n'
        '        alert: ApiDown\n        expr: up{job="api"} == 0\n',
    ).replace(
        "annotations: {summary: flow}",
        'annotations: {runbook_url: "https://wiki.example/sops/api-down.html", summary: flow}',
    ).replace(
        "{alert: ApiDown, expr: flow}",
        '{annotations: {runbook_url: "https://wiki.example/sops/api-down.html"}, alert: ApiDown,'
        " expr: flow}",
    )
    assert result.notes == (
        "rules.yaml:22:16: alert Twice: SOPs api-down, other all answer it; left as it is",
        "rules.yaml:23:16: alert NobodyKnows: no SOP answers it; left as it is",
    )
    rules = yaml.safe_load(result.text)["groups"][0]["rules"]
    assert [r.get("annotations", {}).get("runbook_url") for r in rules] == [
        "https://wiki.example/sops/disk_full.html#step-clean",
        "https://wiki.example/sops/disk_full.html",
        None,
        "https://wiki.example/sops/api-down.html",
        "https://wiki.example/sops/api-down.html",
        "https://wiki.example/sops/api-down.html",
        None,
        None,
    ]


@pytest.mark.parametrize(("fmt", "suffix"), [("html", ".html"), ("markdown", ".md")])
def test_every_url_leads_to_a_rendered_page_and_its_anchor(
    sops: tuple[Sop, ...], fmt: str, suffix: str
) -> None:
    files = render_files(sops, fmt)
    text = add_runbook_urls(RULES, "rules.yaml", sops, BASE, suffix).text
    urls = {
        r["annotations"]["runbook_url"]
        for r in yaml.safe_load(text)["groups"][0]["rules"]
        if "runbook_url" in r.get("annotations", {})
    }
    assert sorted(urlsplit(url)[2:5:2] for url in urls) == [
        ("/sops/api-down" + suffix, ""),
        ("/sops/disk_full" + suffix, ""),
        ("/sops/disk_full" + suffix, "step-clean"),
    ]
    for url in urls:
        parts = urlsplit(url)
        page = files[parts.path.removeprefix("/sops/")]
        assert f'id="{parts.fragment}"' in page if parts.fragment else page


def test_a_prometheus_rule_resource_and_a_block_scalar_value(sops: tuple[Sop, ...]) -> None:
    text = (
        "apiVersion: monitoring.coreos.com/v1\nkind: PrometheusRule\nspec:\n  groups:\n"
        "  - name: g\n    rules:\n    - alert: ApiDown\n      annotations:\n"
        "        runbook_url: |\n          https://old\n        summary: s\n"
    )
    result = add_runbook_urls(text, "r.yaml", sops, "https://w.example")
    assert result.text == text.replace(
        "|\n          https://old\n", '"https://w.example/api-down.html"\n'
    )


def test_the_command_prints_the_file_and_lists_what_it_left(
    tmp_path: Path, sops: tuple[Sop, ...]
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    args = ["alerts", "runbook-urls", str(rules), *(str(s.path) for s in sops)]
    result = CliRunner().invoke(cli, [*args, "--base-url", BASE])
    assert result.exit_code == 0, result.output
    assert result.stdout == add_runbook_urls(RULES, str(rules), sops, BASE).text
    assert "alert NobodyKnows: no SOP answers it; left as it is\n" in result.stderr

    out = tmp_path / "out.yaml"
    result = CliRunner().invoke(cli, [*args, "--base-url", BASE, "--suffix", "/", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "https://wiki.example/sops/api-down/" in out.read_text()

    result = CliRunner().invoke(cli, [*args, "--base-url", "javascript:alert(1)//"])
    assert result.exit_code == 2
    assert (
        "--base-url 'javascript:alert(1)//': expected an http:// or https:// URL" in result.output
    )

    (tmp_path / "list.yaml").write_text("- a\n")
    result = CliRunner().invoke(
        cli,
        [
            "alerts",
            "runbook-urls",
            str(tmp_path / "list.yaml"),
            str(sops[0].path),
            "--base-url",
            BASE,
        ],
    )
    assert "not a Prometheus rule file: expected `groups:`" in result.output
