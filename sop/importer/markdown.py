"""A Markdown runbook cut into what the importer maps: its title, headings, fenced code blocks
and the prose between them, each with its source line.

The only module of the importer that imports markdown-it-py. Fenced blocks are found at any
depth (a command inside a list item is still a command); the prose around them keeps its source
text, dedented, so that it reads as the author wrote it.
"""

from __future__ import annotations

import re
import textwrap
from enum import StrEnum

from sop.records import dataclass


class Kind(StrEnum):
    PROSE = "prose"
    CODE = "code"
    HEADING = "heading"


@dataclass(frozen=True)
class Block:
    """One piece of the runbook: prose (Markdown source), a fenced code block (its content and
    language) or a heading (its text and level)."""

    kind: Kind
    text: str
    line: int  # 1-based, in the source file
    language: str = ""
    level: int = 0


@dataclass(frozen=True)
class Outline:
    front_title: str  # `title:` of a front matter block, if any
    blocks: tuple[Block, ...]


_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?\n)(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.DOTALL)
_FRONT_TITLE = re.compile(r"^title:[ \t]*(.*?)[ \t]*$", re.MULTILINE)


def read_outline(source: str) -> Outline:
    """The blocks of `source` (line ends already `\\n`), in order."""
    from markdown_it import MarkdownIt

    front_title, skipped = "", 0
    front = _FRONT_MATTER.match(source)
    if front is not None:
        title = _FRONT_TITLE.search(front.group(1))
        front_title = title.group(1).strip("'\"") if title else ""
        skipped = front.group(0).count("\n")
        source = "\n" * skipped + source[front.end() :]  # keep the line numbers
    lines = source.split("\n")
    tokens = MarkdownIt("commonmark").enable("table").parse(source)
    blocks: list[Block] = []
    prose_from = 0  # the first source line (0-based) not yet in a block

    def prose_until(end: int) -> None:
        text = textwrap.dedent("\n".join(lines[prose_from:end])).strip("\n")
        if text.strip():
            first = prose_from + next(
                i for i, line in enumerate(lines[prose_from:end]) if line.strip()
            )
            blocks.append(Block(Kind.PROSE, text.rstrip() + "\n", first + 1))

    for i, token in enumerate(tokens):
        if token.map is None:
            continue
        start, end = token.map
        if token.type == "heading_open" and token.level == 0:
            prose_until(start)
            blocks.append(
                Block(
                    Kind.HEADING, tokens[i + 1].content.strip(), start + 1, level=int(token.tag[1:])
                )
            )
            prose_from = end
        elif token.type == "fence" and token.info.strip() and start >= prose_from:
            prose_until(start)
            language = token.info.split()[0].lower()
            blocks.append(Block(Kind.CODE, token.content, start + 1, language=language))
            prose_from = end
    prose_until(len(lines))
    return Outline(front_title, tuple(blocks))
