"""The plain table of `sop list` (no rich): columns line up in terminal cells, wide
characters included."""

from __future__ import annotations

from rich.cells import cell_len

from sop.cli.ui import table
from sop.text import cell_width


def test_wide_titles_line_up() -> None:
    rows = [
        ["disk-full", "ディスクが一杯", "respond"],
        ["dns", "DNS down", "detect"],
        ["cafe", "Cafe\u0301 fermé", "recover"],  # a combining accent takes no cell
        ["full", "\uff26\uff35\uff2c\uff2c width", "protect"],
    ]
    assert table(("id", "title", "phase"), rows).splitlines() == [
        "ID         TITLE           PHASE",
        "disk-full  ディスクが一杯  respond",
        "dns        DNS down        detect",
        "cafe       Cafe\u0301 fermé      recover",
        "full       \uff26\uff35\uff2c\uff2c width  protect",
    ]


def test_cell_width_agrees_with_rich() -> None:
    for text in (
        "plain",
        "ディスク",
        "Cafe\u0301",
        "\uff26\uff35\uff2c\uff2c",
        "한국어 제목",
        "emoji 🔥",
        "zero\u200bwidth",
    ):
        assert cell_width(text) == cell_len(text), text
