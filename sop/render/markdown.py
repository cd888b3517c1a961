"""Markdown pages for MkDocs and GitHub wikis: one page per SOP, an index, and optionally a
`mkdocs.yml` with the navigation."""

from __future__ import annotations

import json
from urllib.parse import quote

from sop import templating
from sop.render import prose
from sop.render.pages import Site

_URL_SAFE = "/:?#[]@!$&*+,;=%~-._"


def blockquote(text: str) -> str:
    """Every line of `text` prefixed with `> ` (blank lines with `>`)."""
    return "\n".join(f"> {line}" if line.strip() else ">" for line in text.strip().splitlines())


def url(text: str) -> str:
    """A link destination: anything that could end it or open HTML is percent-encoded."""
    return quote(text, safe=_URL_SAFE)


FILTERS: tuple[tuple[str, templating.Filter], ...] = (
    ("text", prose.escape_inline),
    ("code", prose.code_span),
    ("prose", prose.neutralise),
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


def mkdocs_config(site: Site, docs_dir: str) -> str:
    """A `mkdocs.yml` whose navigation lists the index, then every SOP by title. Written as
    YAML by hand: JSON strings are valid YAML scalars, so every title is quoted safely."""
    lines = [
        f"site_name: {json.dumps(site.index['title'])}",
        f"docs_dir: {json.dumps(docs_dir)}",
        "site_dir: site",
        "nav:",
        f"  - {json.dumps(site.index['title'])}: index.md",
    ]
    lines += [
        f"  - {json.dumps(page['page_title'])}: {json.dumps(page['page'] + '.md')}"
        for page in site.pages
    ]
    return "\n".join(lines) + "\n"
