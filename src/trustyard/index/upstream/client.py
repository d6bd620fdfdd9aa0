"""The HTTP client of the upstream index: PEP 691 content negotiation, ``ETag`` revalidation
(RFC 9110 13.1.2), bounded timeouts and sizes, and file downloads hashed as they arrive.

Every failure to get an answer in time becomes :class:`UpstreamUnavailable` (503) and every
unusable answer :class:`UpstreamBroken` (502): an outage never looks like a missing project.
"""

from __future__ import annotations

import hashlib
import json
import os
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import anyio
import httpx

from trustyard.dists.mediatypes import SIMPLE_V1_JSON
from trustyard.index.upstream.errors import UpstreamBroken, UpstreamUnavailable
from trustyard.index.upstream.resolver import ResolvingTransport

# PEP 691's recommended Accept: JSON preferred, HTML (PEP 503) understood.
ACCEPT = f"{SIMPLE_V1_JSON}, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.1"
MAX_PAGE_BYTES = 128 * 1024 * 1024  # the largest pypi.org pages are tens of MiB
MAX_JSON_BYTES = 64 * 1024 * 1024
CHUNK = 256 * 1024
# A cold install asks for 30-50 pages and files at once; their connections are kept for the
# next burst (uv resolves, then downloads, seconds apart) rather than httpx's 20 for 5 s.
LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=64, keepalive_expiry=30.0)


@dataclass(frozen=True)
class PageAnswer:
    """The upstream's answer for a project page: 200 (``body``), 304 or 404."""

    status: int
    url: str
    body: bytes = b""
    content_type: str = ""
    etag: str | None = None


@dataclass(frozen=True)
class Downloaded:
    """A file fetched into ``path``: its sha256 and size as received."""

    path: Path
    sha256: str
    size: int


class UpstreamClient:
    """One upstream, one connection pool per process. ``transport`` is for tests (an
    in-process upstream app through ``httpx.ASGITransport``)."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        # A page or JSON answer must be whole within this, however steadily it trickles in
        # (httpx's timeouts bound each read, not the sum of them).
        self.deadline = 3 * timeout
        if transport is None and not urllib.request.getproxies():
            # No HTTP(S)_PROXY to honour (httpx applies those only to its own transport):
            # ours, which looks each upstream host up once rather than once per connection.
            transport = ResolvingTransport(limits=LIMITS)
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            follow_redirects=True,
            max_redirects=5,
            transport=transport,
            limits=LIMITS,
            headers={"User-Agent": "trustyard-proxy"},
        )

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()

    @property
    def closed(self) -> bool:
        """Whether :meth:`aclose` ran (the server shut down)."""
        return self._client.is_closed

    def page_url(self, normalized_name: str) -> str:
        """PEP 503: the project's page is ``<base>/<normalized name>/``."""
        return self.base_url + quote(normalized_name, safe="") + "/"

    def json_api_url(self, normalized_name: str, version: str | None = None) -> str | None:
        """PyPI's JSON API beside a ``.../simple/`` base (pypi.org, trustyard, devpi's
        ``+simple`` has none), or None when the upstream offers none."""
        parts = urlsplit(self.base_url)
        if not parts.path.endswith("/simple/"):
            return None
        root = f"{parts.scheme}://{parts.netloc}{parts.path.removesuffix('simple/')}"
        middle = quote(normalized_name, safe="")
        if version is not None:
            middle += "/" + quote(version, safe="")
        return f"{root}pypi/{middle}/json"

    async def _get(self, url: str, headers: dict[str, str]) -> httpx.Response:
        try:
            with anyio.fail_after(self.deadline):
                return await self._client.get(url, headers=headers)
        except (httpx.TimeoutException, TimeoutError) as exc:
            raise UpstreamUnavailable(f"the upstream did not answer in time ({url})") from exc
        except httpx.HTTPError as exc:
            raise UpstreamUnavailable(f"the upstream cannot be reached ({url}): {exc}") from exc

    async def project_page(self, normalized_name: str, etag: str | None) -> PageAnswer:
        """Fetch (or revalidate, given the ``etag`` of the cached copy) a project page."""
        url = self.page_url(normalized_name)
        headers = {"Accept": ACCEPT}
        if etag:
            headers["If-None-Match"] = etag
        response = await self._get(url, headers)
        if response.status_code == 304:
            return PageAnswer(304, url, etag=etag)
        if response.status_code == 404:
            return PageAnswer(404, url)
        if response.status_code != 200:
            raise UpstreamBroken(
                f"the upstream answered {response.status_code} for {normalized_name}'s page"
            )
        if len(response.content) > MAX_PAGE_BYTES:
            raise UpstreamBroken(f"the upstream's page for {normalized_name} is too large")
        return PageAnswer(
            200,
            str(response.url),
            body=response.content,
            content_type=response.headers.get("content-type", ""),
            etag=response.headers.get("etag"),
        )

    async def get_json(self, url: str) -> dict[str, Any] | None:
        """A JSON object (the JSON API, a provenance object), or None on a 404."""
        response = await self._get(url, {"Accept": "application/json"})
        if response.status_code == 404:
            return None
        if response.status_code != 200 or len(response.content) > MAX_JSON_BYTES:
            raise UpstreamBroken(f"the upstream answered {response.status_code} for {url}")
        try:
            document = await anyio.to_thread.run_sync(json.loads, response.content)
        except ValueError as exc:
            raise UpstreamBroken(f"the upstream's answer at {url} is not JSON") from exc
        if not isinstance(document, dict):
            raise UpstreamBroken(f"the upstream's answer at {url} is not a JSON object")
        return document

    async def index_head(self, limit: int = 256 * 1024) -> tuple[str, bytes]:
        """The media type of the upstream's root index (``<base>``, asked for PEP 691 JSON
        first) and at most ``limit`` bytes of its start: enough for ``meta`` without reading
        pypi.org's whole list of names."""
        try:
            with anyio.fail_after(self.deadline):
                async with self._client.stream(
                    "GET", self.base_url, headers={"Accept": ACCEPT}
                ) as response:
                    if response.status_code != 200:
                        raise UpstreamBroken(
                            f"the upstream's index {self.base_url} answered"
                            f" HTTP {response.status_code}"
                        )
                    media = response.headers.get("content-type", "").split(";", 1)[0]
                    head = b""
                    async for chunk in response.aiter_bytes():
                        head += chunk
                        if len(head) >= limit:
                            break
                    return media.strip().lower(), head[:limit]
        except (httpx.TimeoutException, TimeoutError) as exc:
            raise UpstreamUnavailable(
                f"the upstream did not answer in time ({self.base_url})"
            ) from exc
        except httpx.HTTPError as exc:
            raise UpstreamUnavailable(
                f"the upstream cannot be reached ({self.base_url}): {exc}"
            ) from exc

    async def reachable(self) -> str:
        """A one-line description of the upstream's state (``upstream status``)."""
        try:
            response = await self._client.head(self.base_url)
        except httpx.HTTPError as exc:
            return f"unreachable: {type(exc).__name__}: {exc}"
        return f"reachable: HTTP {response.status_code}"

    async def download(
        self,
        url: str,
        target: Path,
        *,
        max_bytes: int,
        on_progress: Callable[[int], None] | None = None,
    ) -> Downloaded:
        """Stream ``url`` into ``target`` (written and hashed in a worker thread, chunk by
        chunk, never on the event loop), refusing more than ``max_bytes``."""
        digest = hashlib.sha256()
        size = 0
        try:
            async with self._client.stream("GET", url) as response:
                if response.status_code != 200:
                    raise UpstreamBroken(f"the upstream answered {response.status_code} for {url}")
                with target.open("wb") as out:
                    async for chunk in response.aiter_bytes(CHUNK):
                        size += len(chunk)
                        if size > max_bytes:
                            raise UpstreamBroken(
                                f"the upstream sent more than the {max_bytes} bytes listed"
                                f" for {url}"
                            )
                        await anyio.to_thread.run_sync(_write_and_hash, out, digest, chunk)
                        if on_progress is not None:
                            on_progress(size)
                    await anyio.to_thread.run_sync(_flush, out)
        except httpx.TimeoutException as exc:
            raise UpstreamUnavailable(f"the upstream stopped sending {url}") from exc
        except httpx.HTTPError as exc:
            raise UpstreamUnavailable(f"the upstream cannot be reached ({url}): {exc}") from exc
        return Downloaded(target, digest.hexdigest(), size)


def _write_and_hash(out: Any, digest: Any, chunk: bytes) -> None:
    out.write(chunk)
    out.flush()  # readers of the spool (a streamed first download) see what was counted
    digest.update(chunk)


def _flush(out: Any) -> None:
    out.flush()
    os.fsync(out.fileno())
