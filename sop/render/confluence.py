"""Confluence storage format: one XHTML fragment per page (code macros, task lists or plain
lists, page links by title) and a `manifest.json` (title, parent, file) that upload tools read."""

from __future__ import annotations

import json
import re

from sop import templating
from sop.render import prose
from sop.render.pages import Site

MANIFEST = "manifest.json"
# characters XML 1.0 does not allow, even as character references
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def xml_text(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def cdata(text: str) -> str:
    """Text as CDATA sections; `]]>` inside it is split across two sections."""
    return "<![CDATA[" + xml_text(text).replace("]]>", "]]]]><![CDATA[>") + "]]>"


FILTERS: tuple[tuple[str, templating.Filter], ...] = (
    ("prose", templating.trusted(prose.to_html)),
    ("cdata", templating.trusted(cdata)),
)


def _page(text: str) -> str:
    return xml_text(text.strip() + "\n")


def render_pages(
    site: Site, template_dirs: tuple[str, ...], task_lists: bool = True
) -> dict[str, str]:
    """Every page and the manifest. `task_lists` False: prose steps as plain list items."""
    env = templating.page_environment(template_dirs, "sop.render", True, FILTERS)
    index_title = site.index["title"]
    files = {
        "index.xml": _page(
            templating.render_page(env, "confluence/index.xml", {"index": site.index})
        )
    }
    manifest = [{"title": index_title, "parent": None, "file": "index.xml"}]
    for page in site.pages:
        name = f"{page['page']}.xml"
        files[name] = _page(
            templating.render_page(
                env, "confluence/page.xml", {"sop": page, "task_lists": task_lists}
            )
        )
        manifest.append({"title": page["page_title"], "parent": index_title, "file": name})
    files[MANIFEST] = json.dumps({"pages": manifest}, indent=2, ensure_ascii=False) + "\n"
    return files
