"""The proxy in a running server's life: its shutdown (the ASGI lifespan) keeps the counters
and closes the upstream's pool; a purge or refresh by another process (the CLI, another
instance) reaches its memory within ``upstream_recheck`` seconds."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from anyio.from_thread import BlockingPortal

from tests.index.conftest import LocalIndex
from tests.index.upstream.conftest import ProxyIndex, UpstreamWire
from tests.index.upstream.test_proxy import Wheels, file_path, page, publish
from trustyard.cli.main import main
from trustyard.index.context import open_index
from trustyard.index.services import upstream as cache

UNREACHABLE = "http://127.0.0.1:9/simple/"  # the discard port: nothing listens there


async def lifespan(app: Any) -> list[str]:
    """Start and stop ``app`` through the ASGI lifespan protocol, as uvicorn does."""
    incoming = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[str] = []

    async def receive() -> dict[str, str]:
        return incoming.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message["type"])

    scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": {}}
    await app(scope, receive, send)
    return sent


def counters(index: LocalIndex) -> dict[str, int]:
    with index.db.read() as session:
        return cache.summary(session).counters


def test_shutdown_flushes_the_counters_and_closes_the_pool(
    upstream: LocalIndex, proxy: ProxyIndex, wheels: Wheels
) -> None:
    publish(upstream, "alice", wheels("counted", "1.0"))
    path = file_path(page(proxy, "counted")["files"][0]["url"])
    assert proxy.get(path).status_code == 200
    assert proxy.get(path).status_code == 200
    assert counters(proxy) == {}  # not flushed yet: the 30 s have not passed
    sent = proxy.portal.call(lifespan, proxy.app)
    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    found = counters(proxy)
    assert found["page_fetches"] == 1
    assert found["file_fetches"] == 1
    assert found["file_hits"] == 1
    assert proxy.ctx.upstream is not None
    assert proxy.ctx.upstream.client.closed


@pytest.fixture
def rechecking(
    tmp_path: Path, portal: BlockingPortal, upstream: LocalIndex
) -> Iterator[ProxyIndex]:
    """A proxy that compares its memory with the catalogue on every request."""
    index = ProxyIndex(
        tmp_path / "rechecking", portal, UpstreamWire(upstream.app), upstream_recheck=0
    )
    yield index
    index.close()


def test_another_instances_refresh_reaches_a_running_server(
    upstream: LocalIndex, rechecking: ProxyIndex, wheels: Wheels
) -> None:
    publish(upstream, "alice", wheels("moving", "1.0"))
    assert page(rechecking, "moving")["versions"] == ["1.0"]
    publish(upstream, "alice", wheels("moving", "1.1"))
    assert page(rechecking, "moving")["versions"] == ["1.0"]  # kept until the TTL (600 s)
    # A second instance on the same catalogue (as `trustyard upstream refresh` opens one).
    other = open_index(rechecking.settings, upstream_transport=rechecking.wire)
    assert other.upstream is not None
    try:
        refreshed = rechecking.portal.call(other.upstream.refresh, "moving")
        assert refreshed is not None
        assert len(refreshed.files) == 2
    finally:
        rechecking.portal.call(other.upstream.aclose)
        other.descriptions.close()
        other.db.dispose()
    assert page(rechecking, "moving")["versions"] == ["1.0", "1.1"]


def test_a_purge_reaches_a_running_server(
    upstream: LocalIndex,
    rechecking: ProxyIndex,
    wheels: Wheels,
    capsys: pytest.CaptureFixture[str],
) -> None:
    publish(upstream, "alice", wheels("purged", "1.0"))
    path = file_path(page(rechecking, "purged")["files"][0]["url"])
    assert rechecking.get(path).status_code == 200
    asked = rechecking.wire.requests["/simple/purged/"]
    publish(upstream, "alice", wheels("purged", "2.0"))
    assert page(rechecking, "purged")["versions"] == ["1.0"]
    where = ["--data", str(rechecking.data), "--upstream", UNREACHABLE]
    assert main(["upstream", "purge", *where]) == 0
    assert "1 stored files removed" in capsys.readouterr().out
    assert page(rechecking, "purged")["versions"] == ["1.0", "2.0"]
    assert rechecking.wire.requests["/simple/purged/"] == asked + 1
    assert rechecking.get(path).status_code == 200  # fetched and checked again
    fetched = [n for p, n in rechecking.wire.requests.items() if p.startswith("/files/")]
    assert fetched == [2]


def test_without_a_recheck_memory_lasts_until_the_ttl(
    upstream: LocalIndex,
    tmp_path: Path,
    portal: BlockingPortal,
    wheels: Wheels,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The control: the same purge, unseen by a server told to recheck only hourly."""
    index = ProxyIndex(
        tmp_path / "hourly", portal, UpstreamWire(upstream.app), upstream_recheck=3600
    )
    try:
        publish(upstream, "alice", wheels("sleepy", "1.0"))
        assert page(index, "sleepy")["versions"] == ["1.0"]
        publish(upstream, "alice", wheels("sleepy", "2.0"))
        assert (
            main(["upstream", "purge", "--data", str(index.data), "--upstream", UNREACHABLE]) == 0
        )
        capsys.readouterr()
        assert page(index, "sleepy")["versions"] == ["1.0"]
    finally:
        index.close()
