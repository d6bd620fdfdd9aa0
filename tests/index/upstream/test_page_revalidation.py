"""A cooldown ends with no write to the database: a client revalidating its copy of the page
(uv: gzip and If-None-Match) gets the new listing then, never a 304 for the old one (issue 19's
caching contract with issue 18's policy gate)."""

from __future__ import annotations

import gzip
import json
from datetime import timedelta

import pytest

from tests.index.conftest import LocalIndex
from tests.index.upstream.conftest import ProxyIndex
from tests.index.upstream.test_policy import DAY, Clock, Wheels, cooldown, publish
from trustyard.dists.mediatypes import SIMPLE_V1_JSON

UV = {"Accept": SIMPLE_V1_JSON, "Accept-Encoding": "gzip, br, zstd"}


@pytest.fixture
def clock(proxy: ProxyIndex) -> Clock:
    """The proxy's clock, moved by the test."""
    moved = Clock()
    assert proxy.ctx.upstream is not None
    proxy.ctx.upstream.clock = moved
    return moved


def _sent(proxy: ProxyIndex, headers: dict[str, str]) -> tuple[int, str, bytes]:
    """Status, ETag and body (inflated here when sent gzipped: a page this small is not)."""

    async def send() -> tuple[int, str, bytes]:
        request = proxy.client.build_request("GET", "/simple/coolpkg/", headers=headers)
        response = await proxy.client.send(request, stream=True)
        body = b"".join([chunk async for chunk in response.aiter_raw()])
        await response.aclose()
        if response.headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        return response.status_code, response.headers.get("etag", ""), body

    return proxy.portal.call(send)


def test_a_cooldown_ending_changes_the_revalidated_page(
    upstream: LocalIndex, proxy: ProxyIndex, wheels: Wheels, clock: Clock
) -> None:
    old, young = wheels("coolpkg", "1.0"), wheels("coolpkg", "1.1")
    publish(upstream, old, age=10 * DAY)
    publish(upstream, young)
    cooldown(proxy, 3 * DAY)

    status, etag, body = _sent(proxy, UV)
    assert status == 200
    listed = [f["filename"] for f in json.loads(body)["files"]]
    assert listed == [old.name]
    assert _sent(proxy, {**UV, "If-None-Match": etag})[0] == 304

    clock.now += 3 * DAY + timedelta(seconds=1)
    status, new_etag, body = _sent(proxy, {**UV, "If-None-Match": etag})
    assert status == 200
    assert new_etag != etag
    listed = [f["filename"] for f in json.loads(body)["files"]]
    assert listed == [old.name, young.name]
