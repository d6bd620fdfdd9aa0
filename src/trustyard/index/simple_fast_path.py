"""Cached project pages answered before routing (issue 19: ``/simple/<p>/`` at ≥ ½ nginx).

A profile of ``/simple/bigproj/`` at c=16 showed the page itself (a dict lookup) cost nothing:
the time went to the layers around it (Starlette's router walking the surfaces' mounts, two
exception middlewares, the read gate, a :class:`~starlette.requests.Request`, and five
wrappers of ``send``); a second profile (session 9) showed the security layer's per-response
header work and its wrappers of ``receive`` and ``send`` as the next cost. This layer sits
outside :class:`~trustyard.index.security.SecurityMiddleware` and sends a head built once per
page, variant and scheme: the route's headers, then the ones the security layer adds
(:func:`~trustyard.index.security.security_headers`, the layer's own function). It answers a
request itself only when the answer is certainly the one the route would give:

- a request that announces no body (``Content-Length`` other than 0, or ``Transfer-Encoding``,
  go through the security layer, whose limits and ``Connection: close`` apply to bodies);
- ``GET``/``HEAD`` of exactly ``/simple/<name>/`` (a name that is not normalized misses the
  cache, which holds normalized names only, and goes on to the route's 301);
- a public index, and a request with neither ``Authorization`` nor a cookie: the read gate
  would find the anonymous reader, and the answer is the public one (a reader with
  credentials gets ``Cache-Control: private`` from the gate: the route answers them);
- a page of a local project that is not private (a private project's page goes to the route,
  which checks the reader's right first: issue 20), held by
  :class:`~trustyard.index.services.simple_pages.SimplePages` and certainly current without
  asking the database (:meth:`~trustyard.index.services.simple_pages.SimplePages.cached`:
  SQLite's change counter, or PostgreSQL's notifications).

Anything else (an upstream page, whose listing changes with the clock under a cooldown; a
page not cached yet; a changed catalogue) goes through routing as before. The headers are the
route's, built by :mod:`trustyard.index.simple_answer`, plus the ``Authorization`` the read
gate adds to ``Vary``, then the security layer's; tests compare both answers header for header.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from trustyard.index import simple_answer
from trustyard.index.negotiation import choose_simple_format
from trustyard.index.origin import scope_origin
from trustyard.index.security import SecurityMiddleware, security_headers
from trustyard.index.services.simple_pages import Page, SimplePages

PREFIX = "/simple/"
_SKIP = frozenset({b"authorization", b"cookie", b"transfer-encoding"})
Head = tuple[tuple[bytes, bytes], ...]


def secured_head(page: Page, media: str, *, gzipped: bool, not_modified: bool, tls: bool) -> Head:
    """The whole head of this answer as the route and the security layer together send it to
    an anonymous reader, built once per page, variant and scheme and kept on the page."""
    key = ("secured", media, gzipped, not_modified, tls)
    built = page.heads.get(key)
    if built is None:
        route = simple_answer.head(
            page, media, gzipped=gzipped, not_modified=not_modified, vary_authorization=True
        )
        # The security layer reads the type off the head: a 304 has none.
        content_type = next((value for name, value in route if name == b"content-type"), b"")
        added = security_headers(content_type, tls=tls)
        built = (*route, *((name.encode(), value.encode()) for name, value in added.items()))
        page.heads[key] = built
    return tuple(built)


class CachedSimplePages:
    """ASGI layer: a cached public project page for an anonymous request, else the app (the
    security layer, whose headers the answers here carry)."""

    def __init__(
        self, app: SecurityMiddleware, pages: SimplePages, *, base_url: str | None, private: bool
    ) -> None:
        self.app: ASGIApp = app
        self.security = app
        self.pages = pages
        self.base_url = base_url
        self.enabled = not private  # on a private index every read needs credentials

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.enabled and scope["type"] == "http" and await self._answer(scope, send):
            return
        await self.app(scope, receive, send)

    async def _answer(self, scope: Scope, send: Send) -> bool:
        """Send the cached page and say True, or say False having sent nothing."""
        path: str = scope["path"]
        if not path.startswith(PREFIX) or not path.endswith("/") or scope.get("root_path"):
            return False
        method = scope["method"]
        name = path[len(PREFIX) : -1]
        if method not in {"GET", "HEAD"} or not name or "/" in name:
            return False
        accept = accept_encoding = if_none_match = host = None
        for key, value in scope["headers"]:
            if key in _SKIP:
                return False
            # The first of repeated fields, as Starlette's ``headers.get`` reads them.
            if key == b"accept":
                accept = value.decode("latin-1") if accept is None else accept
            elif key == b"accept-encoding":
                if accept_encoding is None:
                    accept_encoding = value.decode("latin-1")
            elif key == b"if-none-match":
                if_none_match = value.decode("latin-1") if if_none_match is None else if_none_match
            elif key == b"host":
                host = value.decode("latin-1") if host is None else host
            elif key == b"content-length" and value.strip() != b"0":
                return False
        media = choose_simple_format(accept)
        origin = scope_origin(scope, host, self.base_url)
        page = self.pages.cached(name, media, origin)
        if page is None or page.private:
            return False
        gzipped, not_modified, body = simple_answer.choose(page, accept_encoding, if_none_match)
        headers = secured_head(
            page,
            media,
            gzipped=gzipped,
            not_modified=not_modified,
            tls=self.security.under_tls(scope),
        )
        await send(
            {
                "type": "http.response.start",
                "status": 304 if not_modified else 200,
                "headers": headers,
            }
        )
        await send({"type": "http.response.body", "body": b"" if method == "HEAD" else body})
        return True
