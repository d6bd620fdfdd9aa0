"""Cached simple pages (issue 19): the answer given before routing is the route's own, gzip
forms decode to the page, ETags revalidate as uv and pip do, and no cached page outlives a
change or reaches a reader who may not read it.

The first request for a page goes through the route (the page is rendered and cached); the
next ones are answered by :mod:`trustyard.index.simple_fast_path` while the catalogue stands
still: comparing the two answers compares the two paths.
"""

from __future__ import annotations

import gzip
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from anyio.from_thread import BlockingPortal

from tests.index.conftest import LocalIndex, basic
from trustyard.dists.mediatypes import SIMPLE_V1_JSON
from trustyard.index.file_fast_path import CachedFiles
from trustyard.index.services import backup, projects, read_access
from trustyard.index.services.roles import HOST
from trustyard.index.services.simple_pages import index_key

Wheels = Callable[[str, str], Path]
JSON = SIMPLE_V1_JSON
# What uv sends (reqwest with its gzip, brotli and zstd decoders) and what pip sends (urllib3).
UV_ENCODINGS = "gzip, br, zstd"
PIP_ENCODINGS = "gzip, deflate"


@dataclass
class Raw:
    """An answer as sent: httpx must not inflate it (the tests compare the bytes)."""

    status_code: int
    headers: httpx.Headers
    content: bytes


def raw(index: LocalIndex, path: str, headers: dict[str, str], method: str = "GET") -> Raw:
    async def send() -> Raw:
        request = index.client.build_request(method, path, headers=headers)
        if "Accept-Encoding" not in headers:  # httpx's default asks for gzip; wrk asks nothing
            del request.headers["accept-encoding"]
        response = await index.client.send(request, stream=True)
        body = b"".join([chunk async for chunk in response.aiter_raw()])
        await response.aclose()
        return Raw(response.status_code, response.headers, body)

    return index.portal.call(send)


def sent_headers(answer: Raw) -> list[tuple[str, str]]:
    return [(k, v) for k, v in answer.headers.multi_items() if k != "date"]


def served_from_cache(index: LocalIndex, name: str, media: str = "text/html") -> bool:
    return index.ctx.pages.cached(name, media, "http://index.test") is not None


@pytest.fixture
def index(local_index: LocalIndex, wheels: Wheels) -> LocalIndex:
    local_index.create_user("alice")
    token = local_index.create_token("alice")
    for version in ("1.0", "1.1"):
        answer = local_index.upload(token, wheels("cachedpkg", version))
        assert answer.status_code == 200, answer.text
    return local_index


@pytest.mark.parametrize("accept", ["text/html", JSON])
@pytest.mark.parametrize("encoding", [None, UV_ENCODINGS, PIP_ENCODINGS, "identity"])
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_the_cached_answer_is_the_routes_own(
    index: LocalIndex, accept: str, encoding: str | None, method: str
) -> None:
    headers = {"Accept": accept} | ({"Accept-Encoding": encoding} if encoding else {})
    assert not served_from_cache(index, "cachedpkg", accept)
    routed = raw(index, "/simple/cachedpkg/", headers, method)
    assert served_from_cache(index, "cachedpkg", accept)
    cached = raw(index, "/simple/cachedpkg/", headers, method)
    assert routed.status_code == cached.status_code == 200
    assert sent_headers(cached) == sent_headers(routed)
    assert cached.content == routed.content
    assert routed.headers["vary"] == "Accept, Accept-Encoding, Authorization"
    assert "x-content-type-options" in cached.headers  # the security layer still ran

    revalidated = {"If-None-Match": routed.headers["etag"], **headers}
    cached_304 = raw(index, "/simple/cachedpkg/", revalidated, method)
    index.create_user(f"bob-{method}")  # a commit: the next answer is the route's again
    assert not served_from_cache(index, "cachedpkg", accept)
    routed_304 = raw(index, "/simple/cachedpkg/", revalidated, method)
    assert routed_304.status_code == cached_304.status_code == 304
    assert sent_headers(cached_304) == sent_headers(routed_304)


@pytest.mark.parametrize("accept", ["text/html", JSON])
def test_gzip_answers_decode_to_the_identical_page(index: LocalIndex, accept: str) -> None:
    plain = raw(index, "/simple/cachedpkg/", {"Accept": accept})
    for _ in range(2):  # rendered, then cached
        packed = raw(index, "/simple/cachedpkg/", {"Accept": accept, "Accept-Encoding": "gzip"})
        assert packed.headers["content-encoding"] == "gzip"
        assert int(packed.headers["content-length"]) == len(packed.content)
        assert gzip.decompress(packed.content) == plain.content
        # A strong validator per coding (RFC 9110 8.8.3).
        assert packed.headers["etag"] != plain.headers["etag"]
    assert "content-encoding" not in plain.headers
    refused = raw(index, "/simple/cachedpkg/", {"Accept": accept, "Accept-Encoding": "gzip;q=0"})
    assert "content-encoding" not in refused.headers
    assert refused.content == plain.content


def test_the_cached_answer_carries_hsts_under_tls(
    tmp_path: Path, portal: BlockingPortal, wheels: Wheels
) -> None:
    """Behind a TLS proxy (an ``https://`` base URL) the cached answer, made outside the
    security layer, carries its HSTS as the routed one does."""
    index = LocalIndex(tmp_path / "data", portal, base_url="https://index.test")
    try:
        index.create_user("alice")
        assert index.upload(index.create_token("alice"), wheels("tlspkg", "1.0")).status_code == 200
        for accept in ("text/html", JSON):
            routed = raw(index, "/simple/tlspkg/", {"Accept": accept})
            assert index.ctx.pages.cached("tlspkg", accept, "") is not None
            cached = raw(index, "/simple/tlspkg/", {"Accept": accept})
            assert sent_headers(cached) == sent_headers(routed)
            assert cached.headers["strict-transport-security"] == "max-age=31536000"
    finally:
        index.close()


def test_a_request_with_a_body_goes_through_the_security_layer(index: LocalIndex) -> None:
    """A body on a GET is the security layer's to bound, and it closes the connection after
    a body left unread: such a request is never answered by the cached-page layer."""
    plain = raw(index, "/simple/cachedpkg/", {})
    assert served_from_cache(index, "cachedpkg")
    assert "connection" not in plain.headers

    async def get_with_body(headers: dict[str, str], content: bytes) -> httpx.Response:
        return await index.client.request(
            "GET", "/simple/cachedpkg/", headers=headers, content=content
        )

    with_body = index.portal.call(get_with_body, {"Accept-Encoding": "identity"}, b"unread")
    assert with_body.status_code == 200
    assert with_body.headers["connection"] == "close"
    assert with_body.content == plain.content
    assert with_body.headers["x-content-type-options"] == "nosniff"
    chunked = index.portal.call(
        get_with_body, {"Accept-Encoding": "identity", "Transfer-Encoding": "chunked"}, b""
    )
    assert chunked.headers.get("connection") == "close"
    empty = index.portal.call(get_with_body, {"Accept-Encoding": "identity"}, b"")
    assert "connection" not in empty.headers


def test_etag_revalidation_as_uv_does_it(index: LocalIndex, wheels: Wheels) -> None:
    """uv stores the 200's strong ETag, sends it in If-None-Match, and keeps its copy only when
    the 304 carries that same ETag (uv-client httpcache: strong tags, byte for byte)."""
    uv = {"Accept": JSON, "Accept-Encoding": UV_ENCODINGS}
    first = raw(index, "/simple/cachedpkg/", uv)
    etag = first.headers["etag"]
    assert not etag.startswith("W/")
    for _ in range(2):
        again = raw(index, "/simple/cachedpkg/", {**uv, "If-None-Match": etag})
        assert again.status_code == 304
        assert again.headers["etag"] == etag
        assert again.content == b""
        assert again.headers["cache-control"] == "max-age=0, must-revalidate, public"
    # Weak comparison (RFC 9110 13.1.2): a tag a proxy weakened, a list, a star.
    for tags in (f"W/{etag}", f'"other", {etag}', "*"):
        assert raw(index, "/simple/cachedpkg/", {**uv, "If-None-Match": tags}).status_code == 304
    assert raw(index, "/simple/cachedpkg/", {**uv, "If-None-Match": '"x"'}).status_code == 200

    token = index.create_token("alice")
    assert index.upload(token, wheels("cachedpkg", "1.2")).status_code == 200
    changed = raw(index, "/simple/cachedpkg/", {**uv, "If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag
    assert "1.2" in gzip.decompress(changed.content).decode()


def _files(index: LocalIndex) -> list[str]:
    answer = index.get("/simple/cachedpkg/", headers={"Accept": JSON})
    assert answer.status_code == 200
    return [f["filename"] for f in answer.json()["files"]]


def _yanked(index: LocalIndex) -> list[object]:
    answer = index.get("/simple/cachedpkg/", headers={"Accept": JSON})
    return [f["yanked"] for f in answer.json()["files"]]


def test_upload_yank_and_delete_change_the_cached_page(index: LocalIndex, wheels: Wheels) -> None:
    before = _files(index)
    _files(index)
    assert served_from_cache(index, "cachedpkg", JSON)

    assert index.upload(index.create_token("alice"), wheels("cachedpkg", "2.0")).status_code == 200
    assert not served_from_cache(index, "cachedpkg", JSON)
    grown = _files(index)
    assert len(grown) == len(before) + 1

    _files(index)
    with index.db.write() as session:
        projects.set_yanked(session, "cachedpkg", "2.0", yanked=True, reason="bad", actor=HOST)
    assert _yanked(index)[-1] == "bad"

    with index.db.write() as session:
        projects.delete_file(session, grown[-1], actor=HOST)
    assert _files(index) == before


def test_a_private_page_is_never_served_from_cache_to_anonymous(index: LocalIndex) -> None:
    public = index.get("/simple/cachedpkg/")
    assert index.get("/simple/cachedpkg/").status_code == 200
    assert served_from_cache(index, "cachedpkg")

    with index.db.write() as session:
        read_access.set_visibility(session, "cachedpkg", "private", actor=HOST)
    assert index.get("/simple/cachedpkg/").status_code == 401

    # The owner reads it (and so caches the private page); anonymous readers still cannot.
    owner = {"Authorization": basic(index.create_token("alice"))}
    for _ in range(2):
        read = index.get("/simple/cachedpkg/", headers=owner)
        assert read.status_code == 200
        assert read.headers["cache-control"].startswith("private")
        assert read.headers["vary"] == "Accept, Accept-Encoding, Authorization"
    assert index.ctx.pages.cached("cachedpkg", "text/html", "http://index.test") is not None
    for headers in ({}, {"Accept-Encoding": "gzip"}, {"If-None-Match": public.headers["etag"]}):
        refused = index.get("/simple/cachedpkg/", headers=headers)
        assert refused.status_code == 401, headers
        assert "cachedpkg" not in refused.text.split("\n\n")[0]


def test_readers_with_credentials_are_answered_by_the_route(index: LocalIndex) -> None:
    """A public page read with a token is ``Cache-Control: private`` (the read gate's mark):
    never the public answer cached for anonymous readers."""
    index.get("/simple/cachedpkg/")
    assert served_from_cache(index, "cachedpkg")
    owner = {"Authorization": basic(index.create_token("alice"))}
    read = index.get("/simple/cachedpkg/", headers=owner)
    assert read.status_code == 200
    assert read.headers["cache-control"].startswith("private")
    anonymous = index.get("/simple/cachedpkg/")
    assert anonymous.headers["cache-control"] == "max-age=0, must-revalidate, public"


@pytest.fixture
def private_index(tmp_path: Path, portal: BlockingPortal) -> Iterator[LocalIndex]:
    index = LocalIndex(tmp_path / "data", portal, private=True)
    yield index
    index.close()


def test_a_private_index_answers_no_page_before_the_read_gate(
    private_index: LocalIndex, wheels: Wheels
) -> None:
    private_index.create_user("alice")
    token = private_index.create_token("alice")
    assert private_index.upload(token, wheels("cachedpkg", "1.0")).status_code == 200
    owner = {"Authorization": basic(token)}
    assert private_index.get("/simple/cachedpkg/", headers=owner).status_code == 200
    assert private_index.get("/simple/cachedpkg/", headers=owner).status_code == 200
    assert private_index.get("/simple/cachedpkg/").status_code == 401


def test_names_not_normalized_still_redirect(index: LocalIndex) -> None:
    index.get("/simple/cachedpkg/")
    for path in ("/simple/CachedPkg/", "/simple/cachedpkg"):
        moved = index.get(path)
        assert moved.status_code == 301
        assert moved.headers["location"].endswith("/simple/cachedpkg/")


# -- PostgreSQL: cached pages without a round trip, and a second instance's changes -----------


@pytest.fixture
def two_instances(
    tmp_path: Path, portal: BlockingPortal, request: pytest.FixtureRequest
) -> Iterator[tuple[LocalIndex, LocalIndex]]:
    """Two app instances (two contexts, two page caches, two listeners) on one PostgreSQL."""
    server = request.getfixturevalue("postgres_server")
    url = server.new_database()
    a = LocalIndex(tmp_path / "a", portal, database=url)
    b = LocalIndex(tmp_path / "b", portal, database=url)  # pages only: its own (empty) files
    yield a, b
    b.close()
    a.close()


def _eventually(check: Callable[[], bool], seconds: float = 10.0) -> bool:
    """Whether ``check`` comes true within ``seconds`` (a notification crosses the database
    asynchronously; no timing is asserted, only that it arrives)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return check()


@pytest.mark.slow
def test_postgresql_serves_cached_pages_and_sees_the_other_instances_uploads(
    two_instances: tuple[LocalIndex, LocalIndex], wheels: Wheels
) -> None:
    a, b = two_instances
    a.create_user("alice")
    token = a.create_token("alice")
    assert a.upload(token, wheels("sharedpkg", "1.0")).status_code == 200
    assert len(b.get("/simple/sharedpkg/", headers={"Accept": JSON}).json()["files"]) == 1

    # Once B's listener is up, B holds the page as current: no catalogue read per request.
    def b_holds_it() -> bool:
        b.get("/simple/sharedpkg/", headers={"Accept": JSON})
        return b.ctx.pages.cached("sharedpkg", JSON, "http://index.test") is not None

    assert _eventually(b_holds_it)

    assert a.upload(token, wheels("sharedpkg", "1.1")).status_code == 200

    def b_sees_it() -> bool:
        page = b.get("/simple/sharedpkg/", headers={"Accept": JSON}).json()
        return len(page["files"]) == 2

    assert _eventually(b_sees_it)
    with a.db.write() as session:
        read_access.set_visibility(session, "sharedpkg", "private", actor=HOST)
    assert _eventually(lambda: b.get("/simple/sharedpkg/").status_code == 401)


@pytest.mark.slow
def test_postgresql_instances_see_an_import_made_beside_them(
    two_instances: tuple[LocalIndex, LocalIndex],
    wheels: Wheels,
    tmp_path: Path,
    portal: BlockingPortal,
) -> None:
    """``admin import`` writes rows without the journal: it must still tell the instances
    already serving the database, or their cached project list stays empty."""
    a, b = two_instances
    source = LocalIndex(tmp_path / "source", portal)
    try:
        source.create_user("alice")
        assert (
            source.upload(source.create_token("alice"), wheels("importedpkg", "1.0")).status_code
            == 200
        )
        backup.export_index(source.db, source.ctx.storage, tmp_path / "export")
    finally:
        source.close()

    def b_holds_the_empty_list() -> bool:
        b.get("/simple/", headers={"Accept": JSON})
        return b.ctx.pages.cached(index_key(frozenset()), JSON) is not None

    assert _eventually(b_holds_the_empty_list)
    backup.import_index(a.db, a.ctx.storage, tmp_path / "export")

    def b_lists_it() -> bool:
        page = b.get("/simple/", headers={"Accept": JSON}).json()
        return [p["name"] for p in page["projects"]] == ["importedpkg"]

    assert _eventually(b_lists_it)


# -- small files kept in memory (file_fast_path) ------------------------------------------------


def _wheel_path(index: LocalIndex, version: str) -> str:
    files = index.get("/simple/cachedpkg/", headers={"Accept": JSON}).json()["files"]
    (url,) = [f["url"] for f in files if f["filename"] == f"cachedpkg-{version}-py3-none-any.whl"]
    return str(url).removeprefix("../..")


def _kept(index: LocalIndex, path: str) -> bool:
    layer = index.app.middleware_stack
    while layer is not None and not isinstance(layer, CachedFiles):
        layer = getattr(layer, "app", None)
    assert layer is not None
    kept = layer.store.get(path)
    return kept is not None and kept.token == index.ctx.pages.change_token()


@pytest.mark.parametrize("suffix", ["", ".metadata"])
def test_a_kept_file_is_the_routes_own_answer(index: LocalIndex, suffix: str) -> None:
    path = _wheel_path(index, "1.0") + suffix
    routed = raw(index, path, {})
    assert routed.status_code == 200
    assert _kept(index, path)
    kept = raw(index, path, {})
    assert sent_headers(kept) == sent_headers(routed)
    assert kept.content == routed.content
    assert routed.headers["cache-control"].startswith("max-age=")
    # A range is the route's to answer (a partial body is never kept nor served from memory).
    part = raw(index, path, {"Range": "bytes=0-9"})
    assert (part.status_code, len(part.content)) == (206, 10)


def test_a_kept_file_goes_with_its_row_and_its_projects_visibility(index: LocalIndex) -> None:
    path = _wheel_path(index, "1.0")
    other = _wheel_path(index, "1.1")
    for p in (path, path, other, other):
        assert index.get(p).status_code == 200
    assert _kept(index, path)
    with index.db.write() as session:
        projects.delete_file(session, "cachedpkg-1.0-py3-none-any.whl", actor=HOST)
    assert index.get(path).status_code == 404

    with index.db.write() as session:
        read_access.set_visibility(session, "cachedpkg", "private", actor=HOST)
    assert index.get(other).status_code == 401
    owner = {"Authorization": basic(index.create_token("alice"))}
    read = index.get(other, headers=owner)
    assert read.status_code == 200
    assert read.headers["cache-control"].startswith("private")
    assert not _kept(index, other)  # read with credentials: never kept for anyone
    assert index.get(other).status_code == 401


@pytest.mark.parametrize(
    ("method", "path", "headers", "eligible"),
    [
        ("GET", "/files/ab/cd/x/p-1.0-py3-none-any.whl", [], True),
        ("HEAD", "/files/ab/cd/x/p-1.0-py3-none-any.whl", [], False),
        # Whether the gate serves an upstream file changes with the clock (an exception ends).
        ("GET", "/files/upstream/p/0123/p-1.0-py3-none-any.whl", [], False),
        ("GET", "/files/ab/cd/x/p.whl", [(b"range", b"bytes=0-1")], False),
        ("GET", "/files/ab/cd/x/p.whl", [(b"if-range", b'"x"')], False),
        ("GET", "/files/ab/cd/x/p.whl", [(b"authorization", b"Basic eDp5")], False),
        ("GET", "/files/ab/cd/x/p.whl", [(b"cookie", b"trustyard_session=x")], False),
        ("GET", "/simple/p/", [], False),
    ],
)
def test_which_file_requests_may_be_kept(
    method: str, path: str, headers: list[tuple[bytes, bytes]], eligible: bool
) -> None:
    scope = {"type": "http", "method": method, "path": path, "headers": headers}
    assert CachedFiles._eligible(scope) is eligible
