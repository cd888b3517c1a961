"""Create or update each page in a Confluence space, in order (a parent before its children).

A page is found by its title in the space (Confluence keeps titles unique in a space). What sop
published is recorded in the page's `sop-publish` property: the SHA-256 of the title, parent and
body, the labels sop added and the page version sop wrote. A page whose digest is the same is
not written again; a changed one is updated to its version + 1, and a conflict (someone saved
that version first) stops the publish with a clear error. A page of that title that sop did not
publish is not overwritten unless the caller adopts it."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from enum import StrEnum

from sop.publish.confluence import Mark, PageStore, RemotePage
from sop.publish.http import ConflictError, PublishError
from sop.records import dataclass

GENERATOR = "sop"


class Action(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    WOULD_CREATE = "would create"
    WOULD_UPDATE = "would update"


@dataclass(frozen=True)
class PageToPublish:
    title: str
    parent: str | None  # the title of another page of this publish; None: under --parent
    body: str  # storage format


@dataclass(frozen=True)
class Published:
    title: str
    action: Action
    page_id: str | None  # None: a page a dry run would create
    version: int | None
    note: str = ""


def digest(title: str, parent_id: str | None, body: str) -> str:
    text = json.dumps({"title": title, "parent": parent_id, "body": body}, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def find_parent(store: PageStore, parent: str) -> str:
    """The id of `--parent`: a page id (all digits) or a title in the space."""
    page = store.page_by_id(parent) if parent.isdigit() else store.page_by_title(parent)
    if page is None:
        raise PublishError(f"no page '{parent}' in the space {store.space} for --parent")
    return page.id


def publish_pages(
    store: PageStore,
    pages: Sequence[PageToPublish],
    parent: str | None = None,
    labels: tuple[str, ...] = (),
    *,
    dry_run: bool = False,
    adopt: bool = False,
) -> list[Published]:
    """Upsert `pages` in order under `parent` (an id or title; None: the space's top level)."""
    store.check_space()
    root = find_parent(store, parent) if parent is not None else None
    ids: dict[str, str | None] = {}
    done: list[Published] = []
    for page in pages:
        parent_id = root if page.parent is None else ids[page.parent]
        try:
            result = _publish_one(store, page, parent_id, labels, dry_run, adopt)
        except ConflictError as exc:
            raise PublishError(_conflict(page, done, str(exc))) from None
        ids[page.title] = result.page_id
        done.append(result)
    return done


def _publish_one(
    store: PageStore,
    page: PageToPublish,
    parent_id: str | None,
    labels: tuple[str, ...],
    dry_run: bool,
    adopt: bool,
) -> Published:
    wanted = digest(page.title, parent_id, page.body)
    found = store.page_by_title(page.title)
    if found is None:
        if dry_run:
            return Published(page.title, Action.WOULD_CREATE, None, None)
        created = store.create(page.title, parent_id, page.body)
        _record(store, created.id, created.version, None, wanted, labels, ())
        return Published(page.title, Action.CREATED, created.id, created.version)
    mark = store.mark(found.id)
    if mark is None or mark.value.get("generator") != GENERATOR:
        if not adopt:
            raise PublishError(
                f"a page titled '{page.title}' (id {found.id}) is already in the space "
                f"{store.space}, and sop did not publish it: rename or move it, or pass "
                "--adopt to let sop replace its content"
            )
        mark = None
    before = mark.value if mark is not None else {}
    edited = _edited_note(found, before)
    new_labels = tuple(label for label in labels if label not in before.get("labels", ()))
    if before.get("sha256") == wanted:
        if new_labels and not dry_run:
            kept = tuple(before.get("labels", ()))
            _record(store, found.id, before.get("pageVersion"), mark, wanted, new_labels, kept)
        note = f"{edited}; left as it is (edit the SOP, not the page)" if edited else ""
        return Published(page.title, Action.UNCHANGED, found.id, found.version, note)
    note = f"{edited}; replaced" if edited else ""
    if dry_run:
        return Published(page.title, Action.WOULD_UPDATE, found.id, found.version, note)
    updated = store.update(found, parent_id, page.body)
    kept = tuple(before.get("labels", ()))
    _record(store, updated.id, updated.version, mark, wanted, new_labels, kept)
    return Published(page.title, Action.UPDATED, updated.id, updated.version, note)


def _record(
    store: PageStore,
    page_id: str,
    page_version: object,
    mark: Mark | None,
    wanted: str,
    new_labels: tuple[str, ...],
    kept: tuple[str, ...],
) -> None:
    """Add the new labels, then record what the page now holds: its `page_version` is the
    version sop wrote."""
    if new_labels:
        store.add_labels(page_id, new_labels)
    value = {
        "generator": GENERATOR,
        "sha256": wanted,
        "labels": sorted({*kept, *new_labels}),
        "pageVersion": page_version,
    }
    store.set_mark(page_id, mark, value)


def _edited_note(found: RemotePage, before: dict[str, object]) -> str:
    """Whether someone saved the page after sop (a tick in a task list counts)."""
    published = before.get("pageVersion")
    if not isinstance(published, int) or found.version == published:
        return ""
    return f"changed in Confluence since sop published version {published} (now {found.version})"


def _conflict(page: PageToPublish, done: list[Published], detail: str) -> str:
    before = f"; the {len(done)} page(s) before it are published" if done else ""
    return (
        f"'{page.title}' was changed in Confluence while sop was publishing it ({detail}): "
        f"nothing of it was overwritten{before}; publish again to update it"
    )
