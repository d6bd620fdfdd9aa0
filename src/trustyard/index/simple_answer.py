"""The HTTP answer for a rendered simple-API page: its headers, its coding, 200 or 304.

One home for both ways a page is sent: the route (:mod:`trustyard.index.routes.simple`) and
the cached-page layer before routing (:mod:`trustyard.index.simple_fast_path`), so the two
cannot drift apart. Heads are built once per page and variant and kept on the page.

- Content coding (RFC 9110 12.5.3 and 8.4.1.3): the page's gzip form when ``Accept-Encoding``
  allows ``gzip`` (pip, through requests/urllib3, and uv, through reqwest, both send it); the
  page as rendered otherwise. ``Vary`` names ``Accept-Encoding`` either way.
- Validation (RFC 9110 13.1.2): ``If-None-Match`` is compared weakly, so a validator a proxy
  weakened (``W/``) still matches; ``*`` matches any page. A match answers 304 with the same
  ETag as the 200 it stands for: uv accepts a 304 only when its ETag equals the stored one
  (uv-client ``httpcache``: strong tags only, compared byte for byte).
"""

from __future__ import annotations

import functools

from trustyard.index.services.simple_pages import Page

# Clients revalidate every time (pip sends max-age=0 anyway); the ETag makes that cheap.
CACHE_CONTROL = "max-age=0, must-revalidate, public"
# Every media type the simple API answers with, as Starlette spells its Content-Type.
_CHARSET_TYPES = ("text/",)


def content_type(media: str) -> str:
    """The Content-Type of a page in ``media`` (a charset on text types, as Starlette adds)."""
    return f"{media}; charset=utf-8" if media.startswith(_CHARSET_TYPES) else media


@functools.lru_cache(maxsize=256)
def accepts_gzip(accept_encoding: str | None) -> bool:
    """Whether ``Accept-Encoding`` allows ``gzip`` (or its alias ``x-gzip``, or ``*``) with a
    non-zero q (RFC 9110 12.5.3); a coding named explicitly wins over ``*``."""
    if not accept_encoding:
        return False
    named: float | None = None
    star: float | None = None
    for item in accept_encoding.split(","):
        coding, _, params = item.partition(";")
        coding = coding.strip().lower()
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value.strip())
                except ValueError:
                    q = 0.0
        if coding in {"gzip", "x-gzip"}:
            named = q if named is None else max(named, q)
        elif coding == "*":
            star = q
    chosen = named if named is not None else star
    return chosen is not None and chosen > 0.0


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """RFC 9110 13.1.2: ``*``, or any listed entity tag weakly equal to ``etag``."""
    if not if_none_match:
        return False
    for listed in if_none_match.split(","):
        tag = listed.strip()
        if tag == "*" or tag.removeprefix("W/") == etag:
            return True
    return False


def head(
    page: Page,
    media: str,
    *,
    gzipped: bool,
    not_modified: bool,
    vary_authorization: bool = False,
) -> list[tuple[bytes, bytes]]:
    """A fresh copy of the raw response headers for this page and variant (the caller's
    layers may change the list: it is never the one kept on the page).

    A 200 (and its HEAD) carries the length and type of the body it stands for; a 304
    neither, as Starlette's 304 does. ``vary_authorization``: the read gate's ``Authorization`` in
    ``Vary`` (the route's answer gets it from the gate; the layer before routing adds it).
    """
    key = (media, gzipped, not_modified, vary_authorization)
    built = page.heads.get(key)
    if built is None:
        etag = page.gzip_etag if gzipped and page.gzip_etag else page.etag
        vary = "Accept, Accept-Encoding" + (", Authorization" if vary_authorization else "")
        built = [
            (b"etag", etag.encode("latin-1")),
            (b"vary", vary.encode("latin-1")),
            (b"cache-control", CACHE_CONTROL.encode("latin-1")),
            (b"x-pypi-last-serial", str(page.serial).encode("latin-1")),
            (b"access-control-allow-origin", b"*"),
        ]
        if gzipped and page.gzipped is not None:
            built.append((b"content-encoding", b"gzip"))
        if not not_modified:
            body = page.gzipped if gzipped and page.gzipped is not None else page.body
            built.append((b"content-length", str(len(body)).encode("latin-1")))
            built.append((b"content-type", content_type(media).encode("latin-1")))
        page.heads[key] = built
    return list(built)


def choose(
    page: Page, accept_encoding: str | None, if_none_match: str | None
) -> tuple[bool, bool, bytes]:
    """(gzipped, not_modified, body) for a request with these headers."""
    gzipped = page.gzipped is not None and accepts_gzip(accept_encoding)
    etag = page.gzip_etag if gzipped and page.gzip_etag else page.etag
    if etag_matches(if_none_match, etag):
        return gzipped, True, b""
    body = page.gzipped if gzipped and page.gzipped is not None else page.body
    return gzipped, False, body
