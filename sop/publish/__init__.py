"""Publishing SOPs to a wiki's API: `sop publish confluence` renders the pages in Confluence's
storage format (as `sop render --format confluence` does) and creates or updates them in a
space, through the Confluence REST API (confluence.py: Cloud's v2, Data Center's v1) over
urllib (http.py). upsert.py decides, page by page, what to create, update or leave alone."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from sop.model import Sop
from sop.publish.confluence import DEPLOYMENTS, PageStore, guess_deployment, open_space
from sop.publish.http import JsonApi, PublishError, authorization
from sop.publish.upsert import Action, PageToPublish, Published, publish_pages
from sop.render import PLACEHOLDERS, SopHistory, render_files
from sop.render.confluence import MANIFEST

__all__ = [
    "DEPLOYMENTS",
    "Action",
    "PublishError",
    "Published",
    "confluence_pages",
    "connect",
    "guess_deployment",
    "publish_pages",
]


def confluence_pages(
    sops: Iterable[Sop],
    template_dirs: Sequence[Path] = (),
    history: Mapping[str, SopHistory] | None = None,
    placeholders: str = PLACEHOLDERS[0],
    task_lists: bool = False,
) -> list[PageToPublish]:
    """The pages `sop render --format confluence` writes, in its manifest's order (the index
    first, then each SOP under it)."""
    files = render_files(
        sops, "confluence", template_dirs, False, history, placeholders, task_lists=task_lists
    )
    manifest = json.loads(files[MANIFEST])["pages"]
    return [PageToPublish(p["title"], p["parent"], files[p["file"]]) for p in manifest]


def connect(
    url: str, space: str, token: str, user: str | None = None, deployment: str | None = None
) -> PageStore:
    """The space `space` on the Confluence site at `url`, with `token` (and `user`: Cloud's
    e-mail and API token; without: a Data Center personal access token). `deployment` is
    `cloud` or `data-center`; None guesses from the address. A Cloud address gets `/wiki`."""
    kind = deployment or guess_deployment(url)
    base = url.rstrip("/")
    if kind == "cloud" and not base.endswith("/wiki"):
        base += "/wiki"
    return open_space(JsonApi(base, authorization(token, user)), space, kind)
