from __future__ import annotations

from pathlib import Path

import markdown
import pytest
import yaml

from sop.model import Sop
from sop.render import render_files, render_library
from sop.render.markdown import mkdocs_config, yaml_string
from sop.render.pages import build_site
from tests.render.mkdocs import build_strict


def test_page_has_metadata_inputs_checklist_rollback_and_run_commands(
    sample_sops: tuple[Sop, ...],
) -> None:
    page = render_files(sample_sops, "markdown")["restart-api.md"]

    assert page.startswith("# Restart the API safely\n")
    for row in (
        "| Owner | team-api |",
        "| Severity | sev3 |",
        "| Phase | recover |",
        "| Tags | api, restart |",
        "| Alerts | ApiDown, ApiSlow |",
        "| Reviewed | 2026-10-01 |",
        "| Last drilled | — |",
    ):
        assert row in page
    assert "| `host` | string | yes | — | Host to restart. Must match ^\\[a-z0-9.-\\]\\+$ |" in page
    assert "| `token` | string | no | (secret) | API admin token. Read from API\\_TOKEN. |" in page
    # prose as a task-list item, its second paragraph inside the item
    assert "- [ ] Open the dashboard. Is the error rate above 5%?\n\n    If not, stop" in page
    assert "```bash\nsystemctl status api --no-pager\n```" in page
    assert "**On:** `<host>` · **Confirm:** never · **Saves output as:** `status`" in page
    assert "Runs the task `restart_service` with `mode=graceful`, `wait=30`." in page
    assert "> Restart the API with systemd and wait until it answers its health check." in page
    assert "Follow the SOP `disk-full` with `host=<host>`." in page
    assert "## Rollback" in page and "systemctl start api-previous" in page
    run = (
        'sop run restart-api --input host="${SOP_HOST:?}"'
        ' --secret-file password="${SOP_PASSWORD_FILE:?}"'
    )
    assert f"```bash\n{run} --dry-run\n```" in page
    assert f"```bash\n{run}\n```" in page
    assert "```bash\nsop drill restart-api\n```" in page
    # a local path is text, not a link that would break on the wiki
    assert "- Design notes: `./notes.txt`" in page


def test_every_step_has_a_stable_anchor(sample_sops: tuple[Sop, ...]) -> None:
    page = render_files(sample_sops, "markdown")["restart-api.md"]
    sop = sample_sops[0]
    for step in (*sop.steps, *sop.rollback):
        assert f'<a id="step-{step.id}"></a>' in page


def test_index_groups_by_phase_tag_and_owner(runbook_sops: tuple[Sop, ...]) -> None:
    index = render_files(runbook_sops, "markdown")["index.md"]
    by_tag = index.split("## By tag")[1].split("## By owner")[0]
    assert "### demo\n\n- [Demo: a runaway log fills a disk](demo.md)\n\n### disk" in by_tag
    assert "## By phase\n\n### respond\n" in index
    by_owner = index.split("## By owner")[1]
    assert by_owner.index("### team-sre") < by_owner.index("### team-web")


def test_a_link_to_another_sops_file_becomes_a_link_to_its_page(
    runbook_sops: tuple[Sop, ...],
) -> None:
    page = render_files(runbook_sops, "markdown")["demo.md"]
    assert "- [Disk-full SOP \\(the real one\\)](disk-full.md)" in page


def test_python_markdown_reads_pages_as_intended(sample_sops: tuple[Sop, ...]) -> None:
    """MkDocs' Markdown (Python-Markdown) sees the tables, fences and anchors."""
    page = render_files(sample_sops, "markdown")["restart-api.md"]
    html = markdown.markdown(page, extensions=["tables", "fenced_code", "toc"])
    assert "<th>Field</th>" in html
    assert '<code class="language-bash">systemctl status api --no-pager\n</code>' in html
    assert '<a id="step-warm"></a>' in html


def test_mkdocs_builds_the_rendered_runbooks_strictly(
    runbook_sops: tuple[Sop, ...], tmp_path: Path
) -> None:
    written = render_library(runbook_sops, "markdown", tmp_path, mkdocs=True)
    assert tmp_path / "mkdocs.yml" in written
    nav = (tmp_path / "mkdocs.yml").read_text()
    assert '  - "Root filesystem almost full": "disk-full.md"' in nav
    build_strict(tmp_path)
    built = (tmp_path / "site" / "disk-full" / "index.html").read_text()
    assert 'id="step-cleanup-script"' in built
    assert "journalctl --vacuum-size=200M" in built
    # Material (installed for the tests), task items as boxes to tick, headings that link to
    # themselves
    assert 'name="generator" content="mkdocs-1.6.1, mkdocs-material-' in built
    assert '<li class="task-list-item"><input type="checkbox"/> ' in built
    assert '<a class="headerlink" href="#checklist" title="Permanent link">' in built


def test_without_material_or_pymdown_extensions_the_site_builds_with_the_default_theme(
    runbook_sops: tuple[Sop, ...], tmp_path: Path
) -> None:
    render_library(runbook_sops, "markdown", tmp_path, mkdocs=True)
    config = mkdocs_config(build_site(runbook_sops), "docs", installed=lambda module: False)
    assert "theme:\n  name: mkdocs\n" in config
    assert "pymdownx" not in config
    tasklist = mkdocs_config(build_site(runbook_sops), "docs", installed="pymdownx".__eq__)
    assert "theme:\n  name: mkdocs\n" in tasklist
    assert "  - pymdownx.tasklist:\n      clickable_checkbox: true\n" in tasklist
    (tmp_path / "mkdocs.yml").write_text(config)
    build_strict(tmp_path)
    built = (tmp_path / "site" / "disk-full" / "index.html").read_text()
    assert "md-typeset" not in built and 'data-bs-theme="light"' in built  # MkDocs' own theme
    assert "<li>[ ] " in built  # a box drawn as text: still a checklist
    assert '<a class="headerlink" href="#checklist" title="Permanent link">' in built


def test_mkdocs_option_needs_markdown(sample_sops: tuple[Sop, ...]) -> None:
    from sop.errors import UsageError

    with pytest.raises(UsageError, match="--mkdocs goes with --format markdown"):
        render_files(sample_sops, "html", mkdocs=True)


@pytest.mark.parametrize(
    "text",
    [
        "Disk 🔥 full on 𝄞 𠜎 hosts 🇳🇴",
        "cafe\u0301 עברית العربية",
        'quote " backslash \\ colon: hash # dash - star * amp & bang !',
        "tab\tnewline\ncarriage\r",
        "NEL\x85 LS\u2028 PS\u2029 BOM\ufeff DEL\x7f C1\x9b ESC\x1b[31m NUL\x00",
    ],
)
def test_yaml_string_reads_back_as_the_same_text(text: str) -> None:
    scalar = yaml_string(text)
    scalar.encode("utf-8")  # no surrogates
    for loader in (yaml.SafeLoader, yaml.CSafeLoader):  # MkDocs reads with the first
        assert yaml.load(f"{scalar}: x", loader) == {text: "x"}


def test_yaml_string_keeps_non_bmp_characters_as_utf8() -> None:
    assert yaml_string("🔥 𝄞") == '"🔥 𝄞"'
    assert yaml_string("\ud83d") == '"\ufffd"'  # a lone surrogate has no UTF-8


def test_techdocs_writes_a_catalog_entity_beside_mkdocs_yml(
    runbook_sops: tuple[Sop, ...], tmp_path: Path
) -> None:
    from click.testing import CliRunner

    from sop.cli import cli

    runbooks = [str(sop.path) for sop in runbook_sops]
    args = ["render", *runbooks, "--out", str(tmp_path), "--mkdocs", "--techdocs", "group:sre"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert yaml.safe_load((tmp_path / "catalog-info.yaml").read_text()) == {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Component",
        "metadata": {
            "name": "standard-operating-procedures",
            "title": "Standard Operating Procedures",
            "annotations": {"backstage.io/techdocs-ref": "dir:."},
        },
        "spec": {"type": "documentation", "lifecycle": "production", "owner": "group:sre"},
    }
    assert (tmp_path / "mkdocs.yml").is_file()
    refused = CliRunner().invoke(cli, [*args[:-3], "--techdocs", "group:sre"])
    assert refused.exit_code != 0
    assert "--techdocs goes with --mkdocs" in refused.output


def test_each_step_shows_its_role_and_who_approves_it(tmp_path: Path) -> None:
    from sop.format.loader import load_sop

    path = tmp_path / "roles.yaml"
    path.write_text(
        "sop: 1\nid: roles\ntitle: Roles\nowner: t\nreviewed: 2026-11-01\n"
        "roles: [account-owner]\nsteps:\n"
        "  - {id: tell, role: comms, prose: Tell the customers.}\n"
        "  - {id: revoke, role: ir-lead, approval: account-owner, run: echo revoke}\n"
        "  - {id: check, approval: required, run: echo check}\n"
    )
    sop = load_sop(path)
    page = render_files((sop,), "markdown")["roles.md"]
    assert "**Role:** comms" in page
    assert "**Role:** ir-lead · **Approval:** by the account-owner · **On:** `local`" in page
    assert "**Approval:** by someone other than the operator · **On:** `local`" in page
    for fmt in ("html", "confluence"):
        (name,) = [n for n in render_files((sop,), fmt) if n.startswith("roles")]
        text = render_files((sop,), fmt)[name]
        assert "comms" in text and "by the account-owner" in text, fmt


def test_a_step_shows_the_lint_warning_it_acknowledges_and_why(tmp_path: Path) -> None:
    from sop.format.loader import load_sop

    path = tmp_path / "ack.yaml"
    path.write_text(
        "sop: 1\nid: ack\ntitle: Ack\nsteps:\n"
        "  - {id: which, prose: Which standby?, ask: {replica: {}}}\n"
        "  - id: check\n    run: uptime\n    on: '{{ replica }}'\n"
        "    acknowledge: {target: the responder names the standby}\n"
    )
    sop = load_sop(path)
    fact = "Acknowledged:** a target built from run data: the responder names the standby"
    assert f"**{fact}" in render_files((sop,), "markdown")["ack.md"]
    html = render_files((sop,), "html")["ack.html"]
    assert (
        "<dt>Acknowledged:</dt> <dd>a target built from run data: the responder names the "
        "standby</dd>"
    ) in html
    (xml,) = [t for n, t in render_files((sop,), "confluence").items() if n.startswith("ack")]
    assert "<strong>Acknowledged:</strong> a target built from run data: the responder" in xml
    from click.testing import CliRunner

    from sop.cli import cli

    shown = CliRunner().invoke(cli, ["show", str(path)])
    assert (
        "  acknowledged: a target built from run data: the responder names the standby\n"
    ) in shown.stdout
