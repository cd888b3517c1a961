from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from sop.model import Sop
from sop.render import render_files

AC = "http://atlassian.com/content"
RI = "http://atlassian.com/resource/identifier"


def parse(fragment: str) -> ET.Element:
    """A storage-format page is an XHTML fragment using the ac: and ri: prefixes."""
    return ET.fromstring(f'<page xmlns:ac="{AC}" xmlns:ri="{RI}">{fragment}</page>')


def code_macros(root: ET.Element) -> list[str]:
    macros = [m for m in root.iter(f"{{{AC}}}structured-macro") if m.get(f"{{{AC}}}name") == "code"]
    for macro in macros:
        language = macro.find(f"{{{AC}}}parameter")
        assert language is not None and language.text == "bash"
    return [m.findtext(f"{{{AC}}}plain-text-body") or "" for m in macros]


def test_every_page_is_well_formed_with_code_macros_and_task_lists(
    runbook_sops: tuple[Sop, ...], sample_sops: tuple[Sop, ...]
) -> None:
    for sops in (runbook_sops, sample_sops):
        # the commands as written (test_placeholders.py checks the other styles)
        files = render_files(sops, "confluence", placeholders="jinja")
        for sop in sops:
            root = parse(files[f"{sop.id}.xml"])
            bodies = code_macros(root)
            commands = [
                s.body.rstrip("\n")
                for s in (*sop.steps, *sop.rollback)
                if s.kind in ("run", "script")
            ]
            assert bodies[: len(commands)] == commands
            assert bodies[-1] == f"sop drill {sop.id}"
            tasks = list(root.iter(f"{{{AC}}}task"))
            prose = [s for s in (*sop.steps, *sop.rollback) if s.kind == "prose"]
            assert [t.findtext(f"{{{AC}}}task-body") for t in tasks] == [s.label for s in prose]
            assert all(t.findtext(f"{{{AC}}}task-status") == "incomplete" for t in tasks)
            ids = [t.findtext(f"{{{AC}}}task-id") for t in tasks]
            assert len(set(ids)) == len(ids)
        parse(files["index.xml"])


def test_calls_and_links_to_other_sops_are_page_links(runbook_sops: tuple[Sop, ...]) -> None:
    root = parse(render_files(runbook_sops, "confluence")["demo.xml"])
    pages = [p.get(f"{{{RI}}}content-title") for p in root.iter(f"{{{RI}}}page")]
    assert pages == ["Root filesystem almost full"]


def test_manifest_lists_every_page_under_the_index(runbook_sops: tuple[Sop, ...]) -> None:
    files = render_files(runbook_sops, "confluence")
    manifest = json.loads(files["manifest.json"])
    assert manifest == {
        "pages": [
            {"title": "Standard Operating Procedures", "parent": None, "file": "index.xml"},
            {
                "title": "Demo: a runaway log fills a disk",
                "parent": "Standard Operating Procedures",
                "file": "demo.xml",
            },
            {
                "title": "Root filesystem almost full",
                "parent": "Standard Operating Procedures",
                "file": "disk-full.xml",
            },
        ]
    }
    assert set(files) == {"manifest.json", "index.xml", "demo.xml", "disk-full.xml"}


def test_cdata_end_marker_in_a_command_survives(sample_sops: tuple[Sop, ...]) -> None:
    sop = sample_sops[0]
    tricky = sop.steps[1]._replace(body="echo ']]>' && echo '<b>'")
    page = render_files([sop._replace(steps=(sop.steps[0], tricky))], "confluence")
    assert code_macros(parse(page["restart-api.xml"]))[0] == "echo ']]>' && echo '<b>'"


def test_plain_lists_replace_the_task_lists_and_change_nothing_else(
    runbook_sops: tuple[Sop, ...],
) -> None:
    tasks = render_files(runbook_sops, "confluence")
    plain = render_files(runbook_sops, "confluence", task_lists=False)
    assert plain["index.xml"] == tasks["index.xml"]
    assert plain["manifest.json"] == tasks["manifest.json"]
    for sop in runbook_sops:
        root = parse(plain[f"{sop.id}.xml"])
        assert list(root.iter(f"{{{AC}}}task-list")) == []
        prose = [s.label for s in (*sop.steps, *sop.rollback) if s.kind == "prose"]
        items = [f"<ul>\n<li>{label}</li>\n</ul>" for label in prose]
        page = plain[f"{sop.id}.xml"]
        assert all(item in page for item in items)
        # the same page with each task list put back where its plain list is
        for label in prose:
            task = tasks[f"{sop.id}.xml"]
            start = task.index("<ac:task-list>")
            end = task.index("</ac:task-list>") + len("</ac:task-list>")
            tasks[f"{sop.id}.xml"] = task[:start] + f"<ul>\n<li>{label}</li>\n</ul>" + task[end:]
        assert page == tasks[f"{sop.id}.xml"]


def test_plain_lists_are_for_confluence_only(sample_sops: tuple[Sop, ...]) -> None:
    from sop.errors import UsageError

    with pytest.raises(UsageError, match=r"^--plain-lists goes with --format confluence$"):
        render_files(sample_sops, "html", task_lists=False)
