"""Decisions, conditional and repeating sections on a wiki page: a Mermaid flowchart in
Markdown, the answers as a list linking to their sections in every format, and each section's
condition in plain words."""

from __future__ import annotations

from pathlib import Path

from sop.model import Sop
from sop.render import render_files, render_library
from tests.render.conftest import RUNBOOKS, load
from tests.render.mkdocs import build_strict

BRANCHING = """\
sop: 1
id: branching
title: Branching
steps:
  - heading: Diagnosis
    id: diagnose
  - id: quorum
    decide: Does a majority answer?
    options:
      "yes": replace
      "no": [restore]
    else: escalate
  - heading: Replace
    id: replace
  - run: echo replace
  - heading: Restore
    id: restore
  - run: echo restore
  - heading: Escalate
    id: escalate
    when: "sop_id == 'branching'"
  - prose: Page someone.
  - heading: Verify
    id: verify
    repeat: {until: "ok", max: 3}
  - run: echo ok
    capture: ok
  - id: clean
    title: Clean?
    decide: Is the cluster clean?
    options:
      "no": replace
      "yes": close
    max: 2
  - heading: Close
    id: close
  - prose: Done.
"""


def branching(tmp_path: Path) -> Sop:
    path = tmp_path / "branching.yaml"
    path.write_text(BRANCHING)
    return load(path)[0]


def test_markdown_draws_the_flow_and_lists_the_answers(tmp_path: Path) -> None:
    page = render_files([branching(tmp_path)], "markdown")["branching.md"]
    flow = page[page.index("## Flow") : page.index("## Checklist")]
    assert flow == (
        "## Flow\n\n```mermaid\nflowchart TD\n"
        '  s0["Diagnosis"]\n'
        '  s1["Replace<br/><i>Only when the answer to step 1 is “yes”</i>"]\n'
        '  s2["Restore<br/><i>Only when the answer to step 1 is “no”</i>"]\n'
        '  s3["Escalate<br/><i>Only when step 1 gets another answer; only when '
        "sop_id == 'branching'</i>\"]\n"
        '  s4["Verify<br/><i>Repeats until ok (at most 3 passes)</i>"]\n'
        '  s5["Close<br/><i>Only when the answer to step 6 is “yes”</i>"]\n'
        '  d1{"1. Does a majority answer?"}\n'
        "  s0 --> d1\n"
        '  d1 -->|"yes"| s1\n'
        '  d1 -->|"no"| s2\n'
        '  d1 -->|"else"| s3\n'
        "  s1 --> s4\n"
        "  s2 --> s4\n"
        "  s3 --> s4\n"
        '  d6{"6. Is the cluster clean?"}\n'
        "  s4 --> d6\n"
        '  d6 -.->|"no"| s1\n'
        '  d6 -->|"yes"| s5\n'
        '  s4 -->|"again until ok"| s4\n'
        "```\n\n"
    )
    assert (
        '<a id="step-quorum"></a>\n\n#### 1. Does a majority answer?\n\n'
        "- **yes** → [Replace](#section-replace)\n"
        "- **no** → [Restore](#section-restore)\n"
        "- **else** → [Escalate](#section-escalate)\n\n"
    ) in page
    assert (
        "#### 6. Clean?\n\nIs the cluster clean?\n\n"
        "- **no** → back to [Replace](#section-replace) (at most 2 times)\n"
        "- **yes** → [Close](#section-close)\n\n"
    ) in page
    assert (
        '<a id="section-escalate"></a>\n\n### Escalate\n\n'
        "*Only when step 1 gets another answer; only when sop\\_id == 'branching'*\n\n"
    ) in page


def test_html_and_confluence_list_the_answers_with_links(tmp_path: Path) -> None:
    sop = branching(tmp_path)
    html = render_files([sop], "html")["branching.html"]
    assert (
        "<ul>\n"
        '<li><strong>no</strong> → back to <a href="#section-replace">Replace</a> (at most 2 times)</li>\n'
        '<li><strong>yes</strong> → <a href="#section-close">Close</a></li>\n'
        "</ul>"
    ) in html
    assert '<h3 id="section-verify">' not in html  # no answer names it: no anchor
    assert (
        '<h3 id="section-close">Close</h3>\n'
        '<p class="condition"><em>Only when the answer to step 6 is “yes”</em></p>'
    ) in html
    page = render_files([sop], "confluence")["branching.xml"]
    assert (
        '<li><strong>yes</strong> → <ac:link ac:anchor="section-close"><ac:plain-text-link-body>'
        "<![CDATA[Close]]></ac:plain-text-link-body></ac:link></li>"
    ) in page
    assert "<p><em>Repeats until ok (at most 3 passes)</em></p>" in page


def test_an_sop_that_runs_in_order_has_no_flow(tmp_path: Path) -> None:
    page = render_files(load(RUNBOOKS / "disk-full.yaml"), "markdown")["disk-full.md"]
    assert "## Flow" not in page and "mermaid" not in page


def test_mkdocs_builds_the_etcd_runbook_strictly(tmp_path: Path) -> None:
    render_library(
        load(RUNBOOKS / "etcd-insufficient-members.yaml"), "markdown", tmp_path, mkdocs=True
    )
    build_strict(tmp_path)
    built = (tmp_path / "site" / "etcd-insufficient-members" / "index.html").read_text()
    assert '<code class="language-mermaid">flowchart TD' in built
    assert '<a id="section-restore"></a>' in built
    assert '<a href="#section-restore">Restore from a snapshot</a>' in built


def test_an_answer_that_names_no_section_goes_on_in_the_flow_and_the_lists(
    tmp_path: Path,
) -> None:
    from tests.run.test_decisions import NONE_APPLY

    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "findings.yaml").write_text(NONE_APPLY)
    (sop,) = load(tmp_path / "a" / "findings.yaml")
    page = render_files([sop], "markdown")["findings.md"]
    flow = page[page.index("```mermaid") : page.index("## Checklist")]
    assert '  d1 -->|"none of these"| s3\n' in flow and "done" not in flow  # on to Close
    assert "- **none of these** → on, no section\n- **disk** → [Disk](#section-disk)\n" in page
    html = render_files([sop], "html")["findings.html"]
    assert "<li><strong>none of these</strong> → on, no section</li>" in html
    xml = render_files([sop], "confluence")["findings.xml"]
    assert "<li><strong>none of these</strong> → on, no section</li>" in xml
    # with nothing after the branches, the answer leads to the end
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "findings.yaml").write_text(NONE_APPLY.split("  - heading: Close")[0])
    (last,) = load(tmp_path / "b" / "findings.yaml")
    page = render_files([last], "markdown")["findings.md"]
    assert '  d1 -->|"none of these"| done\n' in page
    assert '  done(["end"])\n```' in page
