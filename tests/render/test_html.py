from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

from sop.model import Sop
from sop.render import render_files, render_library
from tests.render import browser


class Outline(HTMLParser):
    """Headings, ids and tags of a page, as a browser-independent check."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.ids: set[str] = set()
        self.headings: list[int] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.ids.update(v for k, v in attrs if k == "id" and v)
        if len(tag) == 2 and tag[0] == "h" and tag[1].isdigit():
            self.headings.append(int(tag[1]))


def outline(text: str) -> Outline:
    parser = Outline()
    parser.feed(text)
    return parser


def test_pages_are_standalone_with_phone_and_print_styles(sample_sops: tuple[Sop, ...]) -> None:
    page = render_files(sample_sops, "html")["restart-api.html"]
    assert page.startswith('<!DOCTYPE html>\n<html lang="en">')
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert "@media print" in page
    parsed = outline(page)
    assert "script" not in parsed.tags and "link" not in parsed.tags
    # headings start at h1 and never skip a level
    assert parsed.headings[0] == 1
    assert all(b - a <= 1 for a, b in zip(parsed.headings, parsed.headings[1:], strict=False))
    assert {"step-check", "step-status", "step-restart", "step-warm", "step-disk", "step-undo"} <= (
        parsed.ids
    )


def test_chromium_shows_every_step_of_the_index_and_a_page(
    runbook_sops: tuple[Sop, ...], tmp_path: Path
) -> None:
    out = tmp_path / "site"
    render_library(runbook_sops, "html", out)
    profile = tmp_path / "profile"

    index = browser.dump_dom(out / "index.html", profile)
    for sop in runbook_sops:
        assert f'<a href="{sop.id}.html">' in index

    dom = browser.dump_dom(out / "disk-full.html", profile)
    disk_full = next(s for s in runbook_sops if s.id == "disk-full")
    for step in (*disk_full.steps, *disk_full.rollback):
        assert f'id="step-{step.id}"' in dom
        assert f"{step.number}. " in dom
    assert "journalctl --vacuum-size=200M" in dom
    assert "Force a logrotate run" in dom  # the task's docstring


def test_chromium_screenshots_are_not_blank(runbook_sops: tuple[Sop, ...], tmp_path: Path) -> None:
    out = tmp_path / "site"
    render_library(runbook_sops, "html", out)
    for name in ("index.html", "demo.html"):
        png = browser.screenshot(out / name, tmp_path / "profile", tmp_path / f"{name}.png")
        width, height, _rows = browser.png_pixels(png)
        assert (width, height) == (412, 900)
        assert len(browser.colours(png)) > 20, f"{name} looks blank"


def test_png_decoder_sees_a_blank_page_as_blank(tmp_path: Path) -> None:
    blank = tmp_path / "blank.html"
    blank.write_text("<!DOCTYPE html><html><body style='background:#fff'></body></html>")
    png = browser.screenshot(blank, tmp_path / "profile", tmp_path / "blank.png", "200,200")
    assert browser.colours(png) == {b"\xff\xff\xff"}
