"""The Confluence REST endpoints `sop publish confluence` uses, for the two products teams run.

- **Cloud** (`--deployment cloud`): the REST API v2 (`/wiki/api/v2/pages`, `/spaces`,
  `/pages/{id}/properties`), which replaces the v1 content endpoints Atlassian deprecated on
  Cloud. Labels are added with v1's `POST /wiki/rest/api/content/{id}/label`: v2 only reads
  labels, and that endpoint is not among the deprecated ones.
- **Data Center** (`--deployment data-center`, also Server): the REST API v1
  (`/rest/api/content`, `/space`, `/content/{id}/property`, `/content/{id}/label`), the only
  one it has.

Both store what sop published in a content property of the page (`sop-publish`), so that an
unchanged page is not written again."""

from __future__ import annotations

from typing import Any, Protocol

from sop.publish.http import JsonApi, PublishError
from sop.records import dataclass

MARK_KEY = "sop-publish"
VERSION_MESSAGE = "Published by sop"
DEPLOYMENTS = ("cloud", "data-center")


@dataclass(frozen=True)
class RemotePage:
    id: str
    title: str
    version: int


@dataclass(frozen=True)
class Mark:
    """The `sop-publish` property: what sop last published on the page (`value`), and the
    property's own id and version, which an update of it needs."""

    value: dict[str, Any]
    ref: str
    version: int


class PageStore(Protocol):
    """What publishing needs of a Confluence space."""

    space: str

    def check_space(self) -> None: ...
    def page_by_id(self, page_id: str) -> RemotePage | None: ...
    def page_by_title(self, title: str) -> RemotePage | None: ...
    def create(self, title: str, parent_id: str | None, body: str) -> RemotePage: ...
    def update(self, page: RemotePage, parent_id: str | None, body: str) -> RemotePage: ...
    def mark(self, page_id: str) -> Mark | None: ...
    def set_mark(self, page_id: str, old: Mark | None, value: dict[str, Any]) -> None: ...
    def add_labels(self, page_id: str, labels: tuple[str, ...]) -> None: ...


def _storage(body: str) -> dict[str, str]:
    return {"representation": "storage", "value": body}


def _labels(labels: tuple[str, ...]) -> list[dict[str, str]]:
    return [{"prefix": "global", "name": label} for label in labels]


def _page(data: Any) -> RemotePage:
    return RemotePage(str(data["id"]), str(data["title"]), int(data["version"]["number"]))


def _mark(data: Any, ref: str) -> Mark:
    value = data.get("value")
    return Mark(value if isinstance(value, dict) else {}, ref, int(data["version"]["number"]))


class CloudSpace:
    """Confluence Cloud: `base_url` is the site's address with `/wiki`."""

    def __init__(self, api: JsonApi, space: str) -> None:
        self.api = api
        self.space = space
        self._space_id: str | None = None

    def check_space(self) -> None:
        found = self.api.call("GET", "/api/v2/spaces", {"keys": self.space})
        results = found.get("results") if isinstance(found, dict) else None
        if not results:
            raise PublishError(
                f"no space with the key {self.space} on {self.api.host} (or the "
                "user may not see it)"
            )
        self._space_id = str(results[0]["id"])

    @property
    def space_id(self) -> str:
        if self._space_id is None:
            self.check_space()
        assert self._space_id is not None
        return self._space_id

    def page_by_id(self, page_id: str) -> RemotePage | None:
        data = self.api.call("GET", f"/api/v2/pages/{page_id}", missing_ok=True)
        if data is None:
            return None
        if str(data.get("spaceId")) != self.space_id:
            raise PublishError(f"page {page_id} is not in the space {self.space}")
        return _page(data)

    def page_by_title(self, title: str) -> RemotePage | None:
        query = {"space-id": self.space_id, "title": title, "status": "current"}
        results = self.api.call("GET", "/api/v2/pages", query)["results"]
        return _page(results[0]) if results else None

    def create(self, title: str, parent_id: str | None, body: str) -> RemotePage:
        data: dict[str, Any] = {
            "spaceId": self.space_id,
            "status": "current",
            "title": title,
            "body": _storage(body),
        }
        if parent_id is not None:
            data["parentId"] = parent_id
        return _page(self.api.call("POST", "/api/v2/pages", body=data))

    def update(self, page: RemotePage, parent_id: str | None, body: str) -> RemotePage:
        data: dict[str, Any] = {
            "id": page.id,
            "status": "current",
            "title": page.title,
            "body": _storage(body),
            "version": {"number": page.version + 1, "message": VERSION_MESSAGE},
        }
        if parent_id is not None:
            data["parentId"] = parent_id
        return _page(self.api.call("PUT", f"/api/v2/pages/{page.id}", body=data))

    def mark(self, page_id: str) -> Mark | None:
        found = self.api.call("GET", f"/api/v2/pages/{page_id}/properties", {"key": MARK_KEY})
        results = found.get("results") or []
        return _mark(results[0], str(results[0]["id"])) if results else None

    def set_mark(self, page_id: str, old: Mark | None, value: dict[str, Any]) -> None:
        path = f"/api/v2/pages/{page_id}/properties"
        if old is None:
            self.api.call("POST", path, body={"key": MARK_KEY, "value": value})
            return
        data = {"key": MARK_KEY, "value": value, "version": {"number": old.version + 1}}
        self.api.call("PUT", f"{path}/{old.ref}", body=data)

    def add_labels(self, page_id: str, labels: tuple[str, ...]) -> None:
        self.api.call("POST", f"/rest/api/content/{page_id}/label", body=_labels(labels))


class DataCenterSpace:
    """Confluence Data Center or Server: `base_url` is the site's address (with its context
    path, such as `/confluence`, if it has one)."""

    def __init__(self, api: JsonApi, space: str) -> None:
        self.api = api
        self.space = space

    def check_space(self) -> None:
        if self.api.call("GET", f"/rest/api/space/{self.space}", missing_ok=True) is None:
            raise PublishError(
                f"no space with the key {self.space} on {self.api.host} (or the "
                "user may not see it)"
            )

    def page_by_id(self, page_id: str) -> RemotePage | None:
        query = {"expand": "version,space"}
        data = self.api.call("GET", f"/rest/api/content/{page_id}", query, missing_ok=True)
        if data is None or data.get("type") != "page":
            return None
        if data.get("space", {}).get("key") != self.space:
            raise PublishError(f"page {page_id} is not in the space {self.space}")
        return _page(data)

    def page_by_title(self, title: str) -> RemotePage | None:
        query = {
            "spaceKey": self.space,
            "title": title,
            "type": "page",
            "status": "current",
            "expand": "version",
        }
        results = self.api.call("GET", "/rest/api/content", query)["results"]
        return _page(results[0]) if results else None

    def _content(self, title: str, parent_id: str | None, body: str) -> dict[str, Any]:
        data: dict[str, Any] = {
            "type": "page",
            "title": title,
            "space": {"key": self.space},
            "body": {"storage": _storage(body)},
        }
        if parent_id is not None:
            data["ancestors"] = [{"id": parent_id}]
        return data

    def create(self, title: str, parent_id: str | None, body: str) -> RemotePage:
        data = self._content(title, parent_id, body)
        return _page(self.api.call("POST", "/rest/api/content", body=data))

    def update(self, page: RemotePage, parent_id: str | None, body: str) -> RemotePage:
        data = self._content(page.title, parent_id, body)
        data["version"] = {"number": page.version + 1, "message": VERSION_MESSAGE}
        return _page(self.api.call("PUT", f"/rest/api/content/{page.id}", body=data))

    def mark(self, page_id: str) -> Mark | None:
        path = f"/rest/api/content/{page_id}/property/{MARK_KEY}"
        data = self.api.call("GET", path, missing_ok=True)
        return None if data is None else _mark(data, MARK_KEY)

    def set_mark(self, page_id: str, old: Mark | None, value: dict[str, Any]) -> None:
        path = f"/rest/api/content/{page_id}/property"
        if old is None:
            self.api.call("POST", path, body={"key": MARK_KEY, "value": value})
            return
        data = {"key": MARK_KEY, "value": value, "version": {"number": old.version + 1}}
        self.api.call("PUT", f"{path}/{MARK_KEY}", body=data)

    def add_labels(self, page_id: str, labels: tuple[str, ...]) -> None:
        self.api.call("POST", f"/rest/api/content/{page_id}/label", body=_labels(labels))


def guess_deployment(url: str) -> str:
    """Cloud for an `*.atlassian.net` site, else Data Center (`--deployment` says otherwise)."""
    from urllib.parse import urlsplit

    host = urlsplit(url).hostname or ""
    return "cloud" if host.endswith(".atlassian.net") else "data-center"


def open_space(api: JsonApi, space: str, deployment: str) -> PageStore:
    if deployment == "cloud":
        return CloudSpace(api, space)
    return DataCenterSpace(api, space)
