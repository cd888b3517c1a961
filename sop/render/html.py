"""Standalone HTML pages and an index: no JavaScript, readable on a phone and on paper."""

from __future__ import annotations

from sop import templating
from sop.render import prose
from sop.render.pages import Site

FILTERS: tuple[tuple[str, templating.Filter], ...] = (("prose", templating.trusted(prose.to_html)),)


def render_pages(site: Site, template_dirs: tuple[str, ...]) -> dict[str, str]:
    env = templating.page_environment(template_dirs, "sop.render", True, FILTERS)
    files = {
        f"{page['page']}.html": templating.render_page(env, "html/page.html", {"sop": page})
        for page in site.pages
    }
    files["index.html"] = templating.render_page(env, "html/index.html", {"index": site.index})
    return files
