"""Markdown pages for MkDocs and GitHub wikis: one page per SOP, an index, and optionally a
`mkdocs.yml` with the navigation."""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Callable
from urllib.parse import quote

from sop import templating
from sop.render import prose
from sop.render.pages import Site


def blockquote(text: str) -> str:
    """Every line of `text` prefixed with `> ` (blank lines with `>`)."""
    return "\n".join(f"> {line}" if line.strip() else ">" for line in text.strip().splitlines())


def url(text: str) -> str:
    """A link destination: anything that could end it or open HTML is percent-encoded."""
    return quote(text, safe=prose.URL_SAFE)


FILTERS: tuple[tuple[str, templating.Filter], ...] = (
    ("text", prose.escape_inline),
    ("code", prose.code_span),
    ("prose", prose.neutralise),
    ("opens_with_paragraph", prose.opens_with_paragraph),
    ("top_level_prose", prose.neutralise_top_level),
    ("fence", prose.fence),
    ("blockquote", blockquote),
    ("url", url),
)


def _tidy(text: str) -> str:
    return prose.squeeze_blank_lines(text).strip() + "\n"


def render_pages(site: Site, template_dirs: tuple[str, ...]) -> dict[str, str]:
    env = templating.page_environment(template_dirs, "sop.render", False, FILTERS)
    files = {
        f"{page['page']}.md": _tidy(templating.render_page(env, "markdown/page.md", {"sop": page}))
        for page in site.pages
    }
    files["index.md"] = _tidy(
        templating.render_page(env, "markdown/index.md", {"index": site.index})
    )
    return files


# what a YAML reader accepts raw inside a double-quoted scalar and keeps as it is: printable
# characters other than the quote, the backslash, YAML 1.1's extra line breaks (NEL, LS, PS:
# they would fold the line) and the byte order mark; non-BMP characters stay as they are
_YAML_ESCAPE = re.compile(
    '[^\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]|["\\\\]'
)
_YAML_SHORT = {'"': '\\"', "\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _yaml_escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _YAML_SHORT:
        return _YAML_SHORT[char]
    if "\ud800" <= char <= "\udfff":  # a lone surrogate cannot be written as UTF-8
        return "\ufffd"
    return f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"


def yaml_string(text: str) -> str:
    """`text` as a double-quoted YAML scalar in UTF-8: emoji, accents, combining marks and
    right-to-left text as themselves; controls, line breaks and the rest escaped. (JSON
    strings are YAML too, but json.dumps writes an emoji as a UTF-16 surrogate pair of `\\u`
    escapes, which a YAML reader turns into two unpaired surrogates.)"""
    return '"' + _YAML_ESCAPE.sub(_yaml_escape, text) + '"'


def catalog_info(site: Site, owner: str) -> str:
    """A Backstage `catalog-info.yaml` beside `mkdocs.yml`: a documentation Component whose
    TechDocs are built from this folder (`dir:.`)."""
    lines = [
        "apiVersion: backstage.io/v1alpha1",
        "kind: Component",
        "metadata:",
        "  name: standard-operating-procedures",
        f"  title: {yaml_string(site.index['title'])}",
        "  annotations:",
        '    backstage.io/techdocs-ref: "dir:."',
        "spec:",
        "  type: documentation",
        "  lifecycle: production",
        f"  owner: {yaml_string(owner)}",
    ]
    return "\n".join(lines) + "\n"


def is_installed(module: str) -> bool:
    """Whether `module` can be imported here (found, not imported)."""
    return importlib.util.find_spec(module) is not None


def mkdocs_config(
    site: Site, docs_dir: str, installed: Callable[[str], bool] = is_installed
) -> str:
    """A `mkdocs.yml` whose navigation lists the index, then every SOP by title, with the
    Markdown extensions the pages need: `toc` with permalinks (each heading links to itself),
    `attr_list`, and `pymdownx.tasklist` for the `- [ ]` items (boxes a reader can tick) when
    pymdown-extensions is installed. The theme is Material when it is installed, else MkDocs' own. Written as YAML
    by hand, every string double-quoted by `yaml_string`."""
    title = yaml_string(site.index["title"])
    material = installed("material")
    lines = [
        f"site_name: {title}",
        f"docs_dir: {yaml_string(docs_dir)}",
        "site_dir: site",
        "theme:",
        f"  name: {'material' if material else 'mkdocs'}",
        "markdown_extensions:",
        "  - attr_list",
        "  - toc:",
        "      permalink: true",
    ]
    if material or installed("pymdownx"):  # Material needs pymdown-extensions
        lines += ["  - pymdownx.tasklist:", "      clickable_checkbox: true"]
    lines += ["nav:", f"  - {title}: index.md"]
    lines += [
        f"  - {yaml_string(page['page_title'])}: {yaml_string(page['page'] + '.md')}"
        for page in site.pages
    ]
    return "\n".join(lines) + "\n"
