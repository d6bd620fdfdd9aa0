"""The proxy's cold path (issue 17's cold-install target): a HEAD answered from the listing
while the one fetch runs, catalogue rows written after the answer, and one DNS lookup per
upstream host. What is asserted is behaviour (answers, bytes, upstream requests, rows), never
time: the time is measured in benchmarks/proxy/."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from tests.index.conftest import LocalIndex
from tests.index.upstream.conftest import ProxyIndex
from trustyard.dists.mediatypes import SIMPLE_V1_JSON
from trustyard.index.db.models import JournalEntry, UpstreamFile, UpstreamProject
from trustyard.index.upstream.client import LIMITS
from trustyard.index.upstream.resolver import CachingResolverBackend, ResolvingTransport

Wheels = Callable[[str, str], Path]


def publish(index: LocalIndex, wheel: Path) -> None:
    answer = index.upload(index.create_token("alice"), wheel)
    assert answer.status_code == 200, answer.text


def entry_of(proxy: ProxyIndex, name: str) -> dict[str, Any]:
    answer = proxy.get(f"/simple/{name}/", headers={"Accept": SIMPLE_V1_JSON})
    assert answer.status_code == 200, answer.text
    entry: dict[str, Any] = answer.json()["files"][0]
    return entry


def upstream_file_requests(proxy: ProxyIndex) -> int:
    return sum(n for p, n in proxy.wire.requests.items() if p.startswith("/files/"))


def test_a_head_is_answered_from_the_listing_and_starts_the_one_fetch(
    upstream: LocalIndex, proxy: ProxyIndex, wheels: Wheels
) -> None:
    """uv sends a HEAD before reading a wheel's metadata by ranges: the HEAD carries no bytes,
    so it is answered from the listed size at once, and the fetch it starts is the one the
    ranges and the download then wait for."""
    wheel = wheels("headfirst", "1.0")
    publish(upstream, wheel)
    entry = entry_of(proxy, "headfirst")
    path = entry["url"].removeprefix("../..")
    head = proxy.request("HEAD", path)
    assert head.status_code == 200
    assert head.headers["content-length"] == str(wheel.stat().st_size) == str(entry["size"])
    assert head.headers["accept-ranges"] == "bytes"
    assert head.content == b""
    tail = proxy.get(path, headers={"Range": "bytes=-22"})  # a zip's end record, as uv reads
    assert tail.status_code == 206
    assert tail.content == wheel.read_bytes()[-22:]
    whole = proxy.get(path)
    assert whole.content == wheel.read_bytes()
    assert hashlib.sha256(whole.content).hexdigest() == entry["hashes"]["sha256"]
    assert upstream_file_requests(proxy) == 1
    again = proxy.request("HEAD", path)  # stored now: answered from the store
    assert again.headers["content-length"] == str(wheel.stat().st_size)
    assert upstream_file_requests(proxy) == 1


def test_a_head_vouches_for_no_bytes(
    upstream: LocalIndex, proxy: ProxyIndex, wheels: Wheels
) -> None:
    """A HEAD before the check says only what the listing says; the bytes that fail the
    check are still refused to every GET, and nothing is cached."""
    wheel = wheels("headbad", "1.0")
    publish(upstream, wheel)
    entry = entry_of(proxy, "headbad")
    (stored,) = (upstream.data / "files").rglob(wheel.name)
    stored.write_bytes(stored.read_bytes()[:-1] + b"X")
    path = entry["url"].removeprefix("../..")
    assert proxy.request("HEAD", path).status_code == 200
    for headers in ({"Range": "bytes=0-9"}, {}):
        refused = proxy.get(path, headers=headers)
        assert refused.status_code == 502
        assert "do not match the sha256" in refused.text
    assert not list((proxy.data / "files").rglob(wheel.name))
    with proxy.db.read() as session:
        row = session.get(UpstreamFile, entry["hashes"]["sha256"])
    assert row is None or row.stored is None


def test_rows_follow_the_answer_and_a_file_is_fetched_once_meanwhile(
    upstream: LocalIndex, proxy: ProxyIndex, wheels: Wheels
) -> None:
    """The page's and the file's rows are written after their answers (writeback.py); a request
    that comes before the file's row is written joins the finished fetch rather than fetching
    again, however the two interleave."""
    wheel = wheels("rowlater", "1.0")
    publish(upstream, wheel)
    url = "/simple/rowlater/"

    async def back_to_back() -> list[httpx.Response]:
        listed = await proxy.client.get(url, headers={"Accept": SIMPLE_V1_JSON})
        path = listed.json()["files"][0]["url"].removeprefix("../..")
        answers = [listed]
        for _ in range(4):  # whole files and ranges, as uv mixes them, while the rows are written
            answers.append(await proxy.client.get(path))
            answers.append(await proxy.client.get(path, headers={"Range": "bytes=0-9"}))
        return answers

    answers = proxy.portal.call(back_to_back)
    assert [a.status_code for a in answers] == [200] + [200, 206] * 4
    assert all(a.content == wheel.read_bytes() for a in answers[1::2])
    assert all(a.content == wheel.read_bytes()[:10] for a in answers[2::2])
    assert upstream_file_requests(proxy) == 1
    proxy.settle()
    sha256 = answers[0].json()["files"][0]["hashes"]["sha256"]
    with proxy.db.read() as session:
        page_row = session.get(UpstreamProject, "rowlater")
        assert page_row is not None
        assert page_row.found
        assert page_row.document is not None
        assert [f["filename"] for f in page_row.document["files"]] == [wheel.name]
        file_row = session.get(UpstreamFile, sha256)
        assert file_row is not None
        assert file_row.stored is not None
        assert file_row.size == wheel.stat().st_size
        actions = list(session.scalars(select(JournalEntry.action)))
    assert sum(a.startswith("upstream file cached: sha256 verified") for a in actions) == 1
    assert sum(a.startswith("upstream page filled") for a in actions) == 1


async def _http_server(hits: list[str]) -> asyncio.Server:
    """A loopback server answering every request with ``ok`` (keep-alive)."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            hits.append(head.split(b" ", 2)[1].decode())
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            await writer.drain()
            if not head:
                break

    return await asyncio.start_server(serve, "127.0.0.1", 0)


def test_concurrent_connections_to_a_host_share_one_lookup() -> None:
    """30 requests at once to a named host: one ``getaddrinfo`` (a burst of them loses
    queries to the resolver's 5-second retry on the benchmark machine); an IP literal needs
    none."""

    async def main() -> tuple[int, int, list[str], list[int]]:
        hits: list[str] = []
        server = await _http_server(hits)
        port = server.sockets[0].getsockname()[1]
        backend = CachingResolverBackend()
        transport = ResolvingTransport(limits=LIMITS, backend=backend)
        async with server, httpx.AsyncClient(transport=transport) as client:
            answers = await asyncio.gather(
                *(client.get(f"http://localhost:{port}/n{i}") for i in range(30))
            )
            named = backend.lookups
            await client.get(f"http://127.0.0.1:{port}/literal")
            return named, backend.lookups, hits, [a.status_code for a in answers]

    named, after_literal, hits, statuses = asyncio.run(main())
    assert statuses == [200] * 30
    assert sorted(hits) == sorted([f"/n{i}" for i in range(30)] + ["/literal"])
    assert named == 1
    assert after_literal == 1


def test_a_failed_lookup_is_not_kept() -> None:
    """A name that does not resolve is a connection error (503 for the proxy), and is asked
    again next time rather than remembered."""

    async def main() -> tuple[list[str], int]:
        backend = CachingResolverBackend()
        errors = []
        for _ in range(2):
            try:
                await backend.connect_tcp("no-such-host.invalid", 443, timeout=10)
            except Exception as exc:  # noqa: BLE001 - its type is what is asserted
                errors.append(type(exc).__name__)
        return errors, backend.lookups

    errors, lookups = asyncio.run(main())
    assert errors == ["ConnectError", "ConnectError"]
    assert lookups == 2
