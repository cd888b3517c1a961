"""Text outside the Basic Multilingual Plane (emoji, mathematical letters, rare CJK), combining
marks and right-to-left script in an SOP reach every wiki format as themselves: `mkdocs build
--strict` builds the site, and a browser shows the characters on the page. (json.dumps wrote an
emoji in mkdocs.yml as a pair of `\\u` surrogate escapes, which broke the build.)"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from tests.render import browser
from tests.render.mkdocs import build_strict

from .conftest import Attack

TITLE = "Disk 🔥 full on 𝄞 𠜎 hosts"
HEADING = "Diagnose 🩺 first"
STEP = "Look at 𠀋 the 🇳🇴 flag"
INPUT_HELP = "Host 🖥 to clean at the cafe\u0301 of עברית"  # a combining acute accent
PROSE = "Check the 📈 graph, then call 👩🏽 if it is 🔴."
SHOWN = (TITLE, HEADING, STEP, INPUT_HELP, PROSE)
UNICODE_SOP = f"""\
sop: 1
id: unicode
title: "{TITLE}"
owner: red-team
reviewed: 2026-11-01
inputs:
  host: {{help: "{INPUT_HELP}", default: web-1}}
steps:
  - heading: "{HEADING}"
  - id: look
    title: "{STEP}"
    prose: "{PROSE}"
"""


def render(attack: Attack, *args: str) -> Path:
    (attack.path / "unicode.yaml").write_text(UNICODE_SOP, encoding="utf-8")
    result = attack.sop("render", "unicode.yaml", "--out", "out", *args)
    assert result.returncode == 0, result.stderr
    return attack.path / "out"


def shows_the_text(dom: str) -> None:
    for text in SHOWN:
        assert text in dom, text


def test_an_emoji_title_builds_with_mkdocs_strict_and_shows_in_the_browser(
    attack: Attack,
) -> None:
    out = render(attack, "--mkdocs")
    config = (out / "mkdocs.yml").read_bytes()
    assert f'  - "{TITLE}": "unicode.md"'.encode() in config  # UTF-8, not surrogate escapes
    assert yaml.safe_load(config)["nav"][1] == {TITLE: "unicode.md"}
    build_strict(out)
    page = out / "site" / "unicode" / "index.html"
    shows_the_text(browser.dump_dom(page, attack.path / "profile"))
    index = browser.dump_dom(out / "site" / "index.html", attack.path / "profile")
    assert TITLE in index


def test_non_bmp_text_shows_in_the_html_pages(attack: Attack) -> None:
    out = render(attack, "--format", "html")
    shows_the_text(browser.dump_dom(out / "unicode.html", attack.path / "profile"))
    assert TITLE in browser.dump_dom(out / "index.html", attack.path / "profile")


def test_non_bmp_text_is_utf8_in_the_confluence_pages_and_manifest(attack: Attack) -> None:
    out = render(attack, "--format", "confluence")
    manifest = (out / "manifest.json").read_bytes()
    assert TITLE.encode() in manifest  # as UTF-8, not as escapes an upload tool might mangle
    assert json.loads(manifest)["pages"][1] == {
        "title": TITLE,
        "parent": "Standard Operating Procedures",
        "file": "unicode.xml",
    }
    page = (out / "unicode.xml").read_text(encoding="utf-8")
    for text in (HEADING, STEP, INPUT_HELP, PROSE):  # the title is the manifest's
        assert text in page, text
