"""JSON over HTTPS for a wiki's REST API, with the standard library's urllib (imported only when a
request is made: `sop --help` never loads it).

The token goes in an `Authorization` header that is never sent on to another address: a
redirect is not followed but reported (an SSO login page, http to https, a moved site), so the
user fixes `--url`. No error message holds the token or the header; the CLI also teaches the
token to the process's redactor, which masks every error before it is printed."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

from sop import __version__
from sop.errors import SopError, UsageError

if TYPE_CHECKING:
    import urllib.request

TIMEOUT = 30.0  # seconds for one request
ANSWER_BYTES = 8 * 1024 * 1024  # of one answer read at most
DETAIL_CHARS = 300  # of the server's own error message quoted in ours
LOOPBACK = ("localhost", "127.0.0.1", "::1")


class PublishError(SopError):
    """Publishing failed: the server refused a request, could not be reached, or said no."""


class ConflictError(PublishError):
    """HTTP 409: the page changed (or appeared) since it was read."""


def check_url(url: str) -> str:
    """The base URL without a trailing slash; only https sends a token, except to this machine."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise UsageError(f"--url must be an https:// address, not '{url}'")
    if parts.scheme == "http" and parts.hostname not in LOOPBACK:
        raise UsageError(
            f"refusing to send the token over plain http to {parts.hostname}: use https"
        )
    if parts.query or parts.fragment or parts.username or parts.password:
        raise UsageError("--url takes no query, fragment or user name: the site's address only")
    return url.rstrip("/")


def authorization(token: str, user: str | None) -> str:
    """`Basic` with a user (Confluence Cloud: e-mail and API token), else `Bearer` (Data Center:
    a personal access token)."""
    if any(c in token for c in "\r\n\0"):
        raise UsageError("the token holds a line break or NUL: not a token")
    if user is None:
        return f"Bearer {token}"
    return "Basic " + base64.b64encode(f"{user}:{token}".encode()).decode("ascii")


class JsonApi:
    """Requests to one site: `call` sends JSON and returns the JSON answer."""

    def __init__(self, base_url: str, authorization: str, timeout: float = TIMEOUT) -> None:
        self.base_url = check_url(base_url)
        self._authorization = authorization
        self._timeout = timeout
        self._opener: urllib.request.OpenerDirector | None = None

    @property
    def host(self) -> str:
        return urlsplit(self.base_url).netloc

    def call(
        self,
        method: str,
        path: str,
        query: Mapping[str, str] | None = None,
        body: object = None,
        *,
        missing_ok: bool = False,
    ) -> Any:
        """The decoded answer of `method` on base URL + `path`; None for a 404 when `missing_ok`.
        Raises `PublishError` (`ConflictError` for 409) naming the request, never the token."""
        import urllib.error
        import urllib.request

        url = self.base_url + path + ("?" + urlencode(query) if query else "")
        data = None if body is None else json.dumps(body).encode("utf-8")
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Accept", "application/json")
        request.add_header("User-Agent", f"sop/{__version__}")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        request.add_unredirected_header("Authorization", self._authorization)
        what = f"{method} {urlsplit(url).path}"
        try:
            with self._open(request) as response:
                return _decode(response.read(ANSWER_BYTES + 1), what)
        except urllib.error.HTTPError as exc:
            if exc.code == 404 and missing_ok:
                return None
            raise _http_error(exc, what, self.host) from None
        except urllib.error.URLError as exc:
            raise PublishError(f"cannot reach {self.host}: {exc.reason}") from None
        except TimeoutError:
            raise PublishError(
                f"{what}: no answer from {self.host} within {self._timeout:g} s"
            ) from None
        except OSError as exc:
            raise PublishError(f"{what}: {exc.strerror or exc}") from None

    def _open(self, request: urllib.request.Request) -> Any:
        import urllib.request

        if self._opener is None:
            self._opener = urllib.request.build_opener(_no_redirects())
        return self._opener.open(request, timeout=self._timeout)


def _no_redirects() -> urllib.request.HTTPRedirectHandler:
    import urllib.request

    class Refuse(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None  # the 3xx answer becomes an HTTPError: reported, not followed

    return Refuse()


def _decode(raw: bytes, what: str) -> Any:
    if len(raw) > ANSWER_BYTES:
        raise PublishError(f"{what}: the answer is larger than {ANSWER_BYTES // 2**20} MiB")
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        raise PublishError(
            f"{what}: the answer is not JSON: is --url the Confluence site's address?"
        ) from None


def _http_error(exc: Any, what: str, host: str) -> PublishError:
    code = int(exc.code)
    if 300 <= code < 400:
        target = urlsplit(exc.headers.get("Location") or "").netloc or "another address"
        return PublishError(
            f"{what}: {host} redirects to {target} (HTTP {code}); sop does not follow "
            "redirects with the token: give the address it redirects to as --url"
        )
    if code == 401:
        return PublishError(
            f"{host} refused the credentials (HTTP 401 Unauthorized): check the token, and the "
            "user (--user: Cloud's API tokens go with the account's e-mail; Data Center's "
            "personal access tokens with no --user)"
        )
    detail = _detail(exc)
    text = f"{what}: HTTP {code} {exc.reason}" + (f": {detail}" if detail else "")
    if code == 409:
        return ConflictError(text)
    if code == 403:
        text += " (the user may lack permission for this space or page)"
    return PublishError(text)


def _detail(exc: Any) -> str:
    """The server's own message: v1 says `message`, v2 `errors[].title`."""
    try:
        data = json.loads(exc.read(64 * 1024) or b"null")
    except (ValueError, OSError):
        return ""
    message: object = None
    if isinstance(data, dict):
        message = data.get("message")
        errors = data.get("errors")
        if not message and isinstance(errors, list) and errors and isinstance(errors[0], dict):
            message = errors[0].get("title") or errors[0].get("detail")
    return " ".join(str(message).split())[:DETAIL_CHARS] if message else ""
