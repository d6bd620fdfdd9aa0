"""An upstream trustyard and a proxy in front of it, both in this process (the fast tier).

The proxy reaches the upstream app through ``httpx.ASGITransport`` wrapped in
:class:`UpstreamWire`, which counts what crosses it and can be cut (an outage as the proxy's
client sees one: connections refused).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from anyio.from_thread import BlockingPortal

from tests.index.conftest import LocalIndex
from trustyard.index.app import create_app
from trustyard.index.context import open_index
from trustyard.settings import Settings

UPSTREAM = "http://upstream.test/simple/"


class UpstreamWire(httpx.AsyncBaseTransport):
    """The proxy's way to the upstream app: counts requests by path; ``down`` refuses them."""

    def __init__(self, app: Any) -> None:
        self._inner = httpx.ASGITransport(app=app)
        self.requests: Counter[str] = Counter()
        self.down = False
        self.delay = 0.0  # seconds each answer takes (a slow upstream)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        self.requests[request.url.path] += 1
        if self.delay:
            await anyio.sleep(self.delay)
        return await self._inner.handle_async_request(request)


class ProxyIndex(LocalIndex):
    """A :class:`LocalIndex` whose ``upstream`` is another in-process index."""

    def __init__(self, data: Path, portal: BlockingPortal, wire: UpstreamWire, **settings: Any):
        self.data = data
        self.settings = Settings(data_dir=data, upstream=UPSTREAM, **settings)
        self.app = create_app(self.settings, open_index(self.settings, upstream_transport=wire))
        self.portal = portal
        self.client = self.new_client()
        self.wire = wire

    def request(self, method: str, path: str, **options: Any) -> httpx.Response:
        """One request, then the cache's catalogue writes it caused (made after the answer:
        writeback.py), so that a test reads the rows and journal entries it expects."""
        answer = super().request(method, path, **options)
        self.settle()
        return answer

    def settle(self) -> None:
        """Until the proxy's pending catalogue writes are made."""
        upstream = self.ctx.upstream
        if upstream is not None:
            self.portal.call(upstream.writes.settle)

    def close(self) -> None:
        upstream = self.ctx.upstream
        if upstream is not None:
            self.portal.call(upstream.client.aclose)
        super().close()


@pytest.fixture
def upstream(tmp_path: Path, portal: BlockingPortal) -> Iterator[LocalIndex]:
    """The upstream index (a second trustyard)."""
    index = LocalIndex(tmp_path / "upstream", portal)
    index.create_user("alice")
    yield index
    index.close()


@pytest.fixture
def proxy(tmp_path: Path, portal: BlockingPortal, upstream: LocalIndex) -> Iterator[ProxyIndex]:
    """A trustyard whose upstream is :func:`upstream`."""
    index = ProxyIndex(tmp_path / "proxy", portal, UpstreamWire(upstream.app))
    index.create_user("bob")
    yield index
    index.close()
