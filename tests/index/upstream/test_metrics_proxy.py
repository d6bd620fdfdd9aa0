"""The proxy's metrics (issue 19): its events, its rendered pages' hits and misses, and the
listings it keeps in memory, through an in-process upstream."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.index.conftest import LocalIndex
from tests.index.upstream.conftest import ProxyIndex
from trustyard.index import metrics

Wheels = Callable[[str, str], Path]


def value(name: str, **labels: str) -> float:
    return metrics.REGISTRY.get_sample_value(name, labels) or 0.0


def lookups(result: str) -> float:
    return value("trustyard_page_cache_lookups_total", cache="upstream", result=result)


def events(name: str) -> float:
    return value("trustyard_upstream_events_total", event=name)


def test_upstream_pages_are_counted(
    upstream: LocalIndex, proxy: ProxyIndex, wheels: Wheels
) -> None:
    token = upstream.create_token("alice")
    assert upstream.upload(token, wheels("proxied-metrics", "1.0")).status_code == 200
    hits, misses = lookups("hit"), lookups("miss")
    fetches, page_hits = events("page_fetches"), events("page_hits")
    entries = value("trustyard_page_cache_entries", cache="upstream")

    assert proxy.get("/simple/proxied-metrics/").status_code == 200
    assert (lookups("hit"), lookups("miss")) == (hits, misses + 1)
    assert events("page_fetches") == fetches + 1
    assert value("trustyard_page_cache_entries", cache="upstream") == entries + 1

    assert proxy.get("/simple/proxied-metrics/").status_code == 200
    assert (lookups("hit"), lookups("miss")) == (hits + 1, misses + 1)
    assert events("page_fetches") == fetches + 1
    assert events("page_hits") == page_hits + 1  # the listing came from memory
    assert proxy.wire.requests["/simple/proxied-metrics/"] == 1

    assert proxy.ctx.upstream is not None
    proxy.ctx.upstream.forget("proxied-metrics")  # as `trustyard upstream refresh` makes it
    assert value("trustyard_page_cache_entries", cache="upstream") == entries
