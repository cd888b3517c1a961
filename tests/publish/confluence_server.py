"""A Confluence site on 127.0.0.1 for the publish tests: the subset of the REST API that
`sop publish confluence` uses, in both products, and a referee that checks every request against
Atlassian's documented API before answering it.

- Cloud, REST API v2 (developer.atlassian.com/cloud/confluence/rest/v2): `GET /wiki/api/v2/spaces?
  keys=`, `GET /wiki/api/v2/pages?space-id=&title=&status=`, `GET|PUT /wiki/api/v2/pages/{id}`,
  `POST /wiki/api/v2/pages`, `GET|POST /wiki/api/v2/pages/{id}/properties`,
  `PUT /wiki/api/v2/pages/{id}/properties/{property-id}`, and v1's
  `POST /wiki/rest/api/content/{id}/label` (v2 has no label writes).
- Data Center, REST API v1 (docs.atlassian.com/ConfluenceServer/rest/): `GET /rest/api/space/{key}`,
  `GET|POST /rest/api/content`, `GET|PUT /rest/api/content/{id}`,
  `GET|PUT /rest/api/content/{id}/property/{key}`, `POST /rest/api/content/{id}/property`,
  `POST /rest/api/content/{id}/label`; served under a context path (`/confluence`).

What the referee checks: the method and path exist, the query holds only documented parameters
and the required ones, an `Authorization` header is there (a wrong one gets 401), a body is JSON
with the documented required fields, the page body is in the `storage` representation, and an
update's version number is the current one + 1 (else 409, as Confluence answers). A request
that breaks a rule is answered 400 and listed in `violations`."""

from __future__ import annotations

import itertools
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

SPACE_ID = "98304"


@dataclass
class Page:
    id: str
    title: str
    parent_id: str | None
    body: str
    version: int = 1
    labels: set[str] = field(default_factory=set)
    properties: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any


class Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class FakeConfluence:
    def __init__(self, deployment: str, authorization: str, space: str = "OPS") -> None:
        self.deployment = deployment
        self.authorization = authorization
        self.space = space
        self.pages: dict[str, Page] = {}
        self.requests: list[Seen] = []
        self.violations: list[str] = []
        self.race: set[str] = set()  # titles someone saves just before sop's next update
        self._ids = itertools.count(65537)
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def prefix(self) -> str:
        return "/wiki" if self.deployment == "cloud" else "/confluence"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}{self.prefix}"

    def __enter__(self) -> FakeConfluence:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    # what a test sets up or looks at

    def add_page(self, title: str, parent_id: str | None = None, body: str = "<p>hi</p>") -> Page:
        page = Page(str(next(self._ids)), title, parent_id, body)
        self.pages[page.id] = page
        return page

    def by_title(self, title: str) -> Page:
        (page,) = (p for p in self.pages.values() if p.title == title)
        return page

    def edit(self, title: str) -> None:
        """Someone saves the page in Confluence's editor."""
        page = self.by_title(title)
        page.body += "<p>edited by hand</p>"
        page.version += 1

    def writes(self) -> list[Seen]:
        return [r for r in self.requests if r.method != "GET"]

    # the referee and the API

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        site = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                self._answer("GET")

            def do_POST(self) -> None:
                self._answer("POST")

            def do_PUT(self) -> None:
                self._answer("PUT")

            def _answer(self, method: str) -> None:
                status, data = site.handle(method, self.path, self.headers, self._body())
                raw = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def _body(self) -> bytes:
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        return Handler

    def handle(self, method: str, target: str, headers: Any, raw: bytes) -> tuple[int, Any]:
        parts = urlsplit(target)
        query = parse_qs(parts.query, keep_blank_values=True)
        with self._lock:
            body: Any = None
            try:
                if raw:
                    if headers.get("Content-Type") != "application/json":
                        raise Refused(415, "a body must be sent as application/json")
                    body = json.loads(raw)
                self.requests.append(Seen(method, parts.path, query, body))
                if not headers.get("Authorization"):
                    raise Refused(400, "no Authorization header")
                if headers.get("Authorization") != self.authorization:
                    return 401, {"message": "Client must be authenticated to access this resource."}
                if not parts.path.startswith(self.prefix + "/"):
                    raise Refused(404, f"not under {self.prefix}: {parts.path}")
                path = parts.path[len(self.prefix) :]
                routes = CLOUD if self.deployment == "cloud" else DATA_CENTER
                for (verb, pattern), (allowed, required, action) in routes.items():
                    match = re.fullmatch(pattern, path)
                    if verb == method and match:
                        _check_query(query, allowed, required)
                        return action(self, *match.groups(), query=query, body=body)
                raise Refused(404, f"no such endpoint: {method} {path}")
            except Refused as exc:
                if exc.status in (400, 404, 415):
                    self.violations.append(f"{method} {target}: {exc}")
                return exc.status, {"message": str(exc)}

    # shared by both APIs

    def _page(self, page_id: str) -> Page:
        page = self.pages.get(page_id)
        if page is None:
            raise Refused(404, f"no page {page_id}")
        return page

    def _create(self, title: Any, parent_id: Any, body: str) -> Page:
        _need(isinstance(title, str) and title, "title must be a non-empty string")
        if any(p.title == title for p in self.pages.values()):
            raise Refused(400, f"a page with this title already exists: {title}")
        if parent_id is not None:
            self._page(str(parent_id))
        return self.add_page(title, None if parent_id is None else str(parent_id), body)

    def _update(self, page: Page, version: Any, title: Any, parent_id: Any, body: str) -> Page:
        _need(isinstance(version, dict) and isinstance(version.get("number"), int), "version")
        if page.title in self.race:
            self.race.discard(page.title)
            self.edit(page.title)
        if version["number"] != page.version + 1:
            raise Refused(
                409, f"Version must be incremented on update. Current version is: {page.version}"
            )
        _need(title == page.title, "title")
        page.version += 1
        page.body = body
        if parent_id is not None:
            page.parent_id = str(self._page(str(parent_id)).id)
        return page

    def _property(self, page: Page, body: Any) -> dict[str, Any]:
        _need(isinstance(body, dict) and isinstance(body.get("key"), str), "key")
        _need("value" in body, "value")
        return body

    def _labels(self, page_id: str, body: Any, **_: Any) -> tuple[int, Any]:
        page = self._page(page_id)
        _need(isinstance(body, list) and body, "a list of labels")
        for label in body:
            _need(set(label) == {"prefix", "name"}, "label fields")
            _need(label["prefix"] in ("global", "my", "team"), "label prefix")
            page.labels.add(label["name"])
        results = [{"prefix": "global", "name": n} for n in sorted(page.labels)]
        return 200, {"results": results, "size": len(results)}

    # Cloud, v2

    def _v2_page(self, page: Page) -> dict[str, Any]:
        return {
            "id": page.id,
            "status": "current",
            "title": page.title,
            "spaceId": SPACE_ID,
            "parentId": page.parent_id,
            "version": {"number": page.version},
        }

    def _v2_spaces(self, query: Any, **_: Any) -> tuple[int, Any]:
        keys = query["keys"][0].split(",")
        found = [{"id": SPACE_ID, "key": self.space}] if self.space in keys else []
        return 200, {"results": found, "_links": {}}

    def _v2_pages(self, query: Any, **_: Any) -> tuple[int, Any]:
        _need(query["space-id"] == [SPACE_ID], "space-id")
        titles = query["title"]
        found = [self._v2_page(p) for p in self.pages.values() if p.title in titles]
        return 200, {"results": found, "_links": {}}

    def _v2_get(self, page_id: str, **_: Any) -> tuple[int, Any]:
        return 200, self._v2_page(self._page(page_id))

    def _v2_create(self, body: Any, **_: Any) -> tuple[int, Any]:
        _need(isinstance(body, dict) and body.get("spaceId") == SPACE_ID, "spaceId")
        _need(body.get("status", "current") in ("current", "draft"), "status")
        page = self._create(body.get("title"), body.get("parentId"), _v2_storage(body))
        return 200, self._v2_page(page)

    def _v2_update(self, page_id: str, body: Any, **_: Any) -> tuple[int, Any]:
        page = self._page(page_id)
        _need(isinstance(body, dict), "a JSON object")
        for key in ("id", "status", "title", "body", "version"):
            _need(key in body, f"{key} is required")
        _need(body["id"] == page_id, "id")
        _need(body["status"] in ("current", "draft"), "status")
        text = _v2_storage(body)
        page = self._update(page, body["version"], body["title"], body.get("parentId"), text)
        return 200, self._v2_page(page)

    def _v2_properties(self, page_id: str, query: Any, **_: Any) -> tuple[int, Any]:
        page = self._page(page_id)
        keys = query.get("key")
        found = [p for k, p in page.properties.items() if keys is None or k in keys]
        return 200, {"results": found, "_links": {}}

    def _v2_add_property(self, page_id: str, body: Any, **_: Any) -> tuple[int, Any]:
        page = self._page(page_id)
        data = self._property(page, body)
        if data["key"] in page.properties:
            raise Refused(409, "a property with this key exists")
        made = {"id": str(next(self._ids)), "key": data["key"], "value": data["value"]}
        made["version"] = {"number": 1}
        page.properties[data["key"]] = made
        return 200, made

    def _v2_put_property(self, page_id: str, property_id: str, body: Any, **_: Any) -> Any:
        page = self._page(page_id)
        data = self._property(page, body)
        (old,) = [p for p in page.properties.values() if p["id"] == property_id] or [None]
        if old is None:
            raise Refused(404, f"no property {property_id}")
        return 200, self._put_property(page, old, data)

    def _put_property(self, page: Page, old: dict[str, Any], data: dict[str, Any]) -> Any:
        _need(data["key"] == old["key"], "key")
        version = data.get("version")
        _need(isinstance(version, dict) and isinstance(version.get("number"), int), "version")
        if version["number"] != old["version"]["number"] + 1:
            raise Refused(409, "property version must be incremented")
        old["value"] = data["value"]
        old["version"] = {"number": version["number"]}
        return old

    # Data Center, v1

    def _v1_page(self, page: Page) -> dict[str, Any]:
        ancestors = [] if page.parent_id is None else [{"id": page.parent_id}]
        return {
            "id": page.id,
            "type": "page",
            "status": "current",
            "title": page.title,
            "space": {"key": self.space},
            "version": {"number": page.version},
            "ancestors": ancestors,
        }

    def _v1_space(self, key: str, **_: Any) -> tuple[int, Any]:
        if key != self.space:
            return 404, {"message": f"No space with key : {key}"}
        return 200, {"key": key, "name": "Operations", "type": "global"}

    def _v1_search(self, query: Any, **_: Any) -> tuple[int, Any]:
        _need("spaceKey" in query, "title needs spaceKey")
        _need(query.get("type", ["page"]) == ["page"], "type")
        if query["spaceKey"] != [self.space]:
            return 200, {"results": [], "size": 0}
        titles = query["title"]
        found = [self._v1_page(p) for p in self.pages.values() if p.title in titles]
        return 200, {"results": found, "size": len(found)}

    def _v1_get(self, page_id: str, **_: Any) -> tuple[int, Any]:
        return 200, self._v1_page(self._page(page_id))

    def _v1_fields(self, body: Any) -> tuple[str | None, str]:
        _need(isinstance(body, dict) and body.get("type") == "page", "type: page")
        _need(body.get("space") == {"key": self.space}, "space.key")
        storage = (body.get("body") or {}).get("storage") or {}
        _need(storage.get("representation") == "storage", "body.storage.representation")
        _need(isinstance(storage.get("value"), str), "body.storage.value")
        ancestors = body.get("ancestors")
        if ancestors is None:
            return None, storage["value"]
        _need(isinstance(ancestors, list) and len(ancestors) == 1, "one ancestor: the parent")
        return str(ancestors[0]["id"]), storage["value"]

    def _v1_create(self, body: Any, **_: Any) -> tuple[int, Any]:
        parent_id, text = self._v1_fields(body)
        return 200, self._v1_page(self._create(body.get("title"), parent_id, text))

    def _v1_update(self, page_id: str, body: Any, **_: Any) -> tuple[int, Any]:
        page = self._page(page_id)
        parent_id, text = self._v1_fields(body)
        page = self._update(page, body.get("version"), body.get("title"), parent_id, text)
        return 200, self._v1_page(page)

    def _v1_property(self, page_id: str, key: str, **_: Any) -> tuple[int, Any]:
        found = self._page(page_id).properties.get(key)
        return (200, found) if found else (404, {"message": f"no property {key}"})

    def _v1_add_property(self, page_id: str, body: Any, **_: Any) -> tuple[int, Any]:
        return self._v2_add_property(page_id, body)

    def _v1_put_property(self, page_id: str, key: str, body: Any, **_: Any) -> Any:
        page = self._page(page_id)
        data = self._property(page, body)
        old = page.properties.get(key)
        if old is None:
            raise Refused(404, f"no property {key}")
        return 200, self._put_property(page, old, data)


def _need(ok: object, what: str) -> None:
    if not ok:
        raise Refused(400, f"invalid request: {what}")


def _v2_storage(body: dict[str, Any]) -> str:
    storage = body.get("body")
    _need(isinstance(storage, dict) and storage.get("representation") == "storage", "storage")
    _need(isinstance(storage.get("value"), str), "body.value")
    return str(storage["value"])


def _check_query(query: dict[str, list[str]], allowed: set[str], required: set[str]) -> None:
    _need(set(query) <= allowed, f"undocumented query parameters {sorted(set(query) - allowed)}")
    _need(required <= set(query), f"missing query parameters {sorted(required - set(query))}")
    _need(all(len(v) == 1 for v in query.values()), "a query parameter given twice")


ID = r"(\d+)"
V2_PAGES = {"space-id", "title", "status", "body-format", "sort", "cursor", "limit"}
CLOUD: dict[tuple[str, str], tuple[set[str], set[str], Any]] = {
    ("GET", "/api/v2/spaces"): (
        {"ids", "keys", "type", "status", "labels", "sort", "cursor", "limit"},
        {"keys"},
        FakeConfluence._v2_spaces,
    ),
    ("GET", "/api/v2/pages"): (V2_PAGES, {"space-id", "title"}, FakeConfluence._v2_pages),
    ("GET", f"/api/v2/pages/{ID}"): (
        {"body-format", "get-draft", "version", "include-labels", "include-properties"},
        set(),
        FakeConfluence._v2_get,
    ),
    ("POST", "/api/v2/pages"): (
        {"embedded", "private", "root-level"},
        set(),
        FakeConfluence._v2_create,
    ),
    ("PUT", f"/api/v2/pages/{ID}"): (set(), set(), FakeConfluence._v2_update),
    ("GET", f"/api/v2/pages/{ID}/properties"): (
        {"key", "sort", "cursor", "limit"},
        set(),
        FakeConfluence._v2_properties,
    ),
    ("POST", f"/api/v2/pages/{ID}/properties"): (set(), set(), FakeConfluence._v2_add_property),
    ("PUT", f"/api/v2/pages/{ID}/properties/{ID}"): (
        set(),
        set(),
        FakeConfluence._v2_put_property,
    ),
    ("POST", f"/rest/api/content/{ID}/label"): (set(), set(), FakeConfluence._labels),
}
V1_CONTENT = {"type", "spaceKey", "title", "status", "postingDay", "expand", "start", "limit"}
KEY = r"([^/]+)"
DATA_CENTER: dict[tuple[str, str], tuple[set[str], set[str], Any]] = {
    ("GET", f"/rest/api/space/{KEY}"): ({"expand"}, set(), FakeConfluence._v1_space),
    ("GET", "/rest/api/content"): (V1_CONTENT, {"title"}, FakeConfluence._v1_search),
    ("GET", f"/rest/api/content/{ID}"): (
        {"status", "version", "expand"},
        set(),
        FakeConfluence._v1_get,
    ),
    ("POST", "/rest/api/content"): ({"status", "expand"}, set(), FakeConfluence._v1_create),
    ("PUT", f"/rest/api/content/{ID}"): ({"status", "expand"}, set(), FakeConfluence._v1_update),
    ("GET", f"/rest/api/content/{ID}/property/{KEY}"): (
        {"expand"},
        set(),
        FakeConfluence._v1_property,
    ),
    ("POST", f"/rest/api/content/{ID}/property"): (set(), set(), FakeConfluence._v1_add_property),
    ("PUT", f"/rest/api/content/{ID}/property/{KEY}"): (
        set(),
        set(),
        FakeConfluence._v1_put_property,
    ),
    ("POST", f"/rest/api/content/{ID}/label"): (set(), set(), FakeConfluence._labels),
}
