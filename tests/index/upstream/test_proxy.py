"""The pull-through proxy end to end in this process: an upstream trustyard, a proxy trustyard
in front of it, real uploads, real pages, real bytes (issue 17)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tests.dists.builders import build_wheel
from tests.index.conftest import LocalBrowser, LocalIndex
from tests.index.upstream.conftest import ProxyIndex, UpstreamWire
from trustyard.dists.mediatypes import SIMPLE_V1_JSON
from trustyard.index.db.models import JournalEntry, UpstreamFile
from trustyard.index.services import namespaces, projects, publishers, statuses
from trustyard.index.services.roles import HOST
from trustyard.index.upstream.errors import StreamCut
from trustyard.index.upstream.proxy import STREAM_OVER

JSON = {"Accept": SIMPLE_V1_JSON}
Wheels = Callable[[str, str], Path]


def publish(index: LocalIndex, user: str, wheel: Path) -> None:
    token = index.create_token(user)
    answer = index.upload(token, wheel)
    assert answer.status_code == 200, answer.text


def page(index: LocalIndex, name: str) -> dict[str, Any]:
    answer = index.get(f"/simple/{name}/", headers=JSON)
    assert answer.status_code == 200, answer.text
    document: dict[str, Any] = answer.json()
    return document


def journal(index: LocalIndex) -> list[str]:
    with index.db.read() as session:
        return list(session.scalars(select(JournalEntry.action).order_by(JournalEntry.id)))


def file_path(url: str) -> str:
    """A file URL of a simple page at /simple/<name>/ as a site-relative path."""
    return url.removeprefix("../..")


def test_upstream_project_keeps_the_upstreams_facts(
    upstream: LocalIndex, proxy: ProxyIndex, wheels: Wheels
) -> None:
    wheel = wheels("uplib", "1.0")
    publish(upstream, "alice", wheel)
    publish(upstream, "alice", wheels("uplib", "1.1"))
    with upstream.db.write() as session:
        projects.set_yanked(session, "uplib", "1.1", yanked=True, reason="broken", actor="alice")
    theirs = page(upstream, "uplib")
    ours = page(proxy, "uplib")
    assert ours["name"] == "uplib"
    assert ours["versions"] == theirs["versions"] == ["1.0", "1.1"]
    assert ours["project-status"] == {"status": "active"}
    for mine, original in zip(ours["files"], theirs["files"], strict=True):
        for key in ("filename", "hashes", "requires-python", "size", "upload-time", "yanked"):
            assert mine[key] == original[key], key
        assert mine["core-metadata"] == original["core-metadata"]
        assert mine["url"].startswith("../../files/upstream/uplib/" + mine["hashes"]["sha256"])
    assert ours["files"][1]["yanked"] == "broken"
    html = proxy.get("/simple/uplib/", headers={"Accept": "text/html"})
    assert html.status_code == 200
    assert 'data-yanked="broken"' in html.text
    assert "/files/upstream/uplib/" in html.text
    # /simple/ lists local projects only.
    assert "uplib" not in proxy.get("/simple/", headers=JSON).text


def test_files_are_fetched_once_checked_and_served_from_the_store(
    upstream: LocalIndex, proxy: ProxyIndex, wheels: Wheels
) -> None:
    wheel = wheels("fetchme", "2.0")
    publish(upstream, "alice", wheel)
    entry = page(proxy, "fetchme")["files"][0]
    path = file_path(entry["url"])
    first = proxy.get(path)
    assert first.status_code == 200
    assert first.content == wheel.read_bytes()
    assert hashlib.sha256(first.content).hexdigest() == entry["hashes"]["sha256"]
    fetched = sum(n for p, n in proxy.wire.requests.items() if p.startswith("/files/"))
    again = proxy.get(path, headers={"Range": "bytes=0-9"})
    assert again.status_code == 206
    assert again.content == wheel.read_bytes()[:10]
    assert sum(n for p, n in proxy.wire.requests.items() if p.startswith("/files/")) == fetched
    metadata = proxy.get(path + ".metadata")
    assert metadata.status_code == 200
    assert hashlib.sha256(metadata.content).hexdigest() == entry["core-metadata"]["sha256"]
    stored = list((proxy.data / "files" / "upstream").rglob("*.whl"))
    assert [p.read_bytes() for p in stored] == [wheel.read_bytes()]
    actions = journal(proxy)
    assert any(a.startswith("upstream file cached: sha256 verified") for a in actions)
    assert any(a.startswith("upstream core metadata cached") for a in actions)
    # A URL the listing never gave is not fetched.
    other = path.replace(entry["hashes"]["sha256"], "0" * 64)
    assert proxy.get(other).status_code == 404


def test_twenty_concurrent_first_downloads_make_one_upstream_request(
    upstream: LocalIndex, proxy: ProxyIndex, wheels: Wheels
) -> None:
    wheel = wheels("crowd", "1.0")
    publish(upstream, "alice", wheel)
    path = file_path(page(proxy, "crowd")["files"][0]["url"])

    async def twenty() -> list[httpx.Response]:
        return await asyncio.gather(*(proxy.client.get(path) for _ in range(20)))

    answers = proxy.portal.call(twenty)
    assert [a.status_code for a in answers] == [200] * 20
    assert all(a.content == wheel.read_bytes() for a in answers)
    upstream_file_requests = [p for p in proxy.wire.requests if p.startswith("/files/")]
    assert len(upstream_file_requests) == 1
    assert proxy.wire.requests[upstream_file_requests[0]] == 1


def test_bytes_that_do_not_match_the_listed_sha256_are_refused_and_not_cached(
    upstream: LocalIndex, proxy: ProxyIndex, wheels: Wheels
) -> None:
    publish(upstream, "alice", wheels("tampered", "1.0"))
    entry = page(proxy, "tampered")["files"][0]
    (stored,) = (upstream.data / "files").rglob("tampered-1.0-py3-none-any.whl")
    stored.write_bytes(stored.read_bytes()[:-1] + b"X")  # the upstream's store now lies
    answer = proxy.get(file_path(entry["url"]))
    assert answer.status_code == 502
    assert "do not match the sha256" in answer.text
    assert not list((proxy.data / "files").rglob("tampered-*"))
    with proxy.db.read() as session:
        row = session.get(UpstreamFile, entry["hashes"]["sha256"])
    assert row is None or row.stored is None
    assert any("upstream file refused: sha256" in a for a in journal(proxy))
    assert proxy.get(file_path(entry["url"])).status_code == 502  # still refused, not cached


def test_local_names_never_show_the_upstreams_project(
    upstream: LocalIndex, proxy: ProxyIndex, wheels: Wheels
) -> None:
    publish(proxy, "bob", wheels("internal", "1.0"))  # the guard asked: not upstream yet
    asked = proxy.wire.requests.copy()
    publish(upstream, "alice", wheels("internal", "2.0"))
    upstream_entry = page(upstream, "internal")["files"][0]
    ours = page(proxy, "internal")
    assert ours["versions"] == ["1.0"]
    assert [f["filename"] for f in ours["files"]] == ["internal-1.0-py3-none-any.whl"]
    assert proxy.get("/pypi/internal/json").json()["info"]["version"] == "1.0"
    assert proxy.get("/pypi/internal/2.0/json").status_code == 404
    sha = upstream_entry["hashes"]["sha256"]
    url = f"/files/upstream/internal/{sha}/internal-2.0-py3-none-any.whl"
    assert proxy.get(url).status_code == 404
    web = proxy.get("/project/internal/")
    assert web.status_code == 200
    assert "internal-1.0-py3-none-any.whl" in web.text
    assert "internal-2.0" not in web.text
    assert "upstream" not in web.text
    # Once local, the upstream is never even asked about the name.
    assert proxy.wire.requests == asked


def test_a_pending_publishers_name_is_local(
    upstream: LocalIndex, proxy: ProxyIndex, wheels: Wheels
) -> None:
    publish(upstream, "alice", wheels("reserved-soon", "1.0"))
    with proxy.db.write() as session:
        publishers.add_pending_publisher(
            proxy.db,
            session,
            "reserved-soon",
            "github",
            {"repository": "bob/reserved-soon", "workflow": "release.yml"},
            owner="bob",
            limit=3,
        )
    assert proxy.get("/simple/reserved-soon/", headers=JSON).status_code == 404
    assert not [p for p in proxy.wire.requests if "reserved-soon" in p]


def test_outage_serves_the_cache_and_answers_5xx_for_the_rest(
    tmp_path: Path, portal: Any, upstream: LocalIndex, wheels: Wheels
) -> None:
    wheel = wheels("steady", "1.0")
    publish(upstream, "alice", wheel)
    proxy = ProxyIndex(tmp_path / "p0", portal, UpstreamWire(upstream.app), upstream_ttl=0)
    try:
        path = file_path(page(proxy, "steady")["files"][0]["url"])
        assert proxy.get(path).status_code == 200
        proxy.wire.down = True
        assert page(proxy, "steady")["files"][0]["filename"] == wheel.name
        assert proxy.get(path).content == wheel.read_bytes()
        missing = proxy.get("/simple/never-fetched/", headers=JSON)
        assert missing.status_code == 503
        assert "cannot be reached" in missing.text
        assert proxy.get("/pypi/never-fetched/json").status_code == 503
        assert any(a.startswith("upstream page stale") for a in journal(proxy))
    finally:
        proxy.close()


def test_pages_are_revalidated_with_their_etag(
    tmp_path: Path, portal: Any, upstream: LocalIndex, wheels: Wheels
) -> None:
    publish(upstream, "alice", wheels("revalidated", "1.0"))
    proxy = ProxyIndex(tmp_path / "p1", portal, UpstreamWire(upstream.app), upstream_ttl=0)
    try:
        first = page(proxy, "revalidated")
        second = page(proxy, "revalidated")
        assert first == second
        assert "upstream page revalidated: 304 not modified" in journal(proxy)
        publish(upstream, "alice", wheels("revalidated", "1.1"))
        assert page(proxy, "revalidated")["versions"] == ["1.0", "1.1"]
    finally:
        proxy.close()


def test_json_api_of_an_upstream_project(
    upstream: LocalIndex, proxy: ProxyIndex, wheels: Wheels
) -> None:
    publish(upstream, "alice", wheels("jsonup", "1.0"))
    publish(upstream, "alice", wheels("jsonup", "1.2"))
    answer = proxy.get("/pypi/jsonup/json")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["info"]["name"] == "jsonup"
    assert body["info"]["version"] == "1.2"
    assert sorted(body["releases"]) == ["1.0", "1.2"]
    url = body["urls"][0]["url"]
    assert url.startswith("http://index.test/files/upstream/jsonup/")
    assert proxy.get(url.removeprefix("http://index.test")).status_code == 200
    versioned = proxy.get("/pypi/jsonup/1.0/json").json()
    assert versioned["info"]["version"] == "1.0"
    assert proxy.get("/pypi/not-anywhere/json").status_code == 404


def test_web_page_marks_an_upstream_project(
    upstream: LocalIndex, proxy: ProxyIndex, wheels: Wheels
) -> None:
    publish(upstream, "alice", wheels("webup", "3.0"))
    answer = proxy.get("/project/webup/")
    assert answer.status_code == 200
    assert "from the upstream index" in answer.text
    assert "webup-3.0-py3-none-any.whl" in answer.text
    # Installed through this index, as a local project is (issue 20).
    assert 'value="pip install --index-url http://index.test/simple/ webup==3.0"' in answer.text
    assert 'href="/help/using/#credentials"' in answer.text


def test_uploading_a_name_that_exists_upstream_is_refused(
    upstream: LocalIndex, proxy: ProxyIndex, wheels: Wheels
) -> None:
    publish(upstream, "alice", wheels("public-name", "1.0"))
    token = proxy.create_token("bob")
    answer = proxy.upload(token, wheels("public-name", "0.1"))
    assert answer.status_code == 403
    assert "public-name" in answer.text
    assert "upstream" in answer.text
    assert any(a.startswith("upstream shadowing refused") for a in journal(proxy))
    # An admin's decision makes it local; then uploads go through.
    with proxy.db.write() as session:
        projects.create_project(session, "public-name", owner="bob")
    assert proxy.upload(token, wheels("public-name", "0.1")).status_code == 200
    assert page(proxy, "public-name")["versions"] == ["0.1"]


def test_provenance_link_points_at_our_integrity_api(
    upstream: LocalIndex, proxy: ProxyIndex, wheels: Wheels
) -> None:
    publish(upstream, "alice", wheels("noprov", "1.0"))
    entry = page(proxy, "noprov")["files"][0]
    assert entry["provenance"] is None
    answer = proxy.get(
        "/integrity/noprov/1.0/noprov-1.0-py3-none-any.whl/provenance",
        headers={"Accept": "application/json"},
    )
    assert answer.status_code == 404
    assert json.loads(answer.text)["message"].startswith("No provenance available")


def test_a_slow_upstream_counts_as_down(
    tmp_path: Path, portal: Any, upstream: LocalIndex, wheels: Wheels
) -> None:
    publish(upstream, "alice", wheels("sluggish", "1.0"))
    wire = UpstreamWire(upstream.app)
    proxy = ProxyIndex(tmp_path / "p2", portal, wire, upstream_ttl=0, upstream_timeout=0.2)
    try:
        assert page(proxy, "sluggish")["versions"] == ["1.0"]
        wire.delay = 2.0  # beyond the whole-answer deadline of 3 x 0.2 s
        assert page(proxy, "sluggish")["versions"] == ["1.0"]  # the cached page
        slow = proxy.get("/simple/slow-and-new/", headers=JSON)
        assert slow.status_code == 503
        assert "did not answer in time" in slow.text
    finally:
        proxy.close()


def test_a_pending_publisher_for_a_public_name_is_refused(
    upstream: LocalIndex, proxy: ProxyIndex, wheels: Wheels
) -> None:
    publish(upstream, "alice", wheels("taken-upstream", "1.0"))
    browser = LocalBrowser(proxy)
    try:
        browser.sign_in("bob")
        fields = {"kind": "github", "repository": "bob/taken", "workflow": "release.yml"}
        refused = browser.post(
            "/manage/account/publishing/", {"project_name": "taken-upstream", **fields}
        )
        assert refused.status_code == 403
        assert "upstream" in refused.text
        assert "taken-upstream" in refused.text
        accepted = browser.post(
            "/manage/account/publishing/", {"project_name": "only-here", **fields}
        )
        assert accepted.status_code == 200
        assert "only-here" in accepted.text
    finally:
        browser.close()
    with proxy.db.read() as session:
        pending = publishers.pending_publishers_of(session, "bob")
    assert [view.project for view in pending] == ["only-here"]


def test_large_first_downloads_stream_and_hold_back_the_last_byte(
    tmp_path: Path, upstream: LocalIndex, proxy: ProxyIndex
) -> None:
    noise = {"big/blob.bin": random.Random(17).randbytes(STREAM_OVER + 65536)}
    good = build_wheel(tmp_path / "g", "bigfile", "1.0", files=noise)
    bad = build_wheel(tmp_path / "b", "bigbad", "1.0", files=noise)
    publish(upstream, "alice", good)
    publish(upstream, "alice", bad)
    assert good.stat().st_size > STREAM_OVER
    path = file_path(page(proxy, "bigfile")["files"][0]["url"])

    async def twenty() -> list[httpx.Response]:
        return await asyncio.gather(*(proxy.client.get(path) for _ in range(20)))

    answers = proxy.portal.call(twenty)
    assert all(a.content == good.read_bytes() for a in answers)
    assert all(a.headers["content-length"] == str(good.stat().st_size) for a in answers)
    assert [n for p, n in proxy.wire.requests.items() if p.endswith(good.name)] == [1]

    (stored,) = (upstream.data / "files").rglob(bad.name)
    stored.write_bytes(stored.read_bytes()[:-1] + b"X")
    bad_path = file_path(page(proxy, "bigbad")["files"][0]["url"])
    with pytest.raises(StreamCut):  # the body is cut before its last byte
        proxy.get(bad_path)
    assert not list((proxy.data / "files").rglob(bad.name))
    assert proxy.get(bad_path, headers={"Range": "bytes=0-9"}).status_code == 502


def test_cached_upstream_files_are_handed_to_nginx(
    tmp_path: Path, portal: Any, upstream: LocalIndex, wheels: Wheels
) -> None:
    wheel = wheels("via-nginx", "1.0")
    publish(upstream, "alice", wheel)
    wire = UpstreamWire(upstream.app)
    proxy = ProxyIndex(tmp_path / "p3", portal, wire, accel_redirect="/internal/")
    try:
        entry = page(proxy, "via-nginx")["files"][0]
        answer = proxy.get(file_path(entry["url"]))
        assert answer.status_code == 200
        assert answer.content == b""
        sha = entry["hashes"]["sha256"]
        key = f"upstream/{sha[:2]}/{sha[2:4]}/{sha}/{wheel.name}"
        assert answer.headers["x-accel-redirect"] == "/internal/" + key
        assert (proxy.settings.files_dir / key).read_bytes() == wheel.read_bytes()
    finally:
        proxy.close()


def test_a_reserved_namespace_is_local_and_never_asked_upstream(
    upstream: LocalIndex, proxy: ProxyIndex, wheels: Wheels
) -> None:
    """PEP 752: names under a reserved namespace are local only, even before any project
    exists there; the upstream's higher version of such a name is never seen, and the
    namespace's owner publishes without being taken for a shadowing upload."""
    with proxy.db.write() as session:
        namespaces.add_namespace(session, "acme", ["bob"], actor=None)
    publish(upstream, "alice", wheels("acme-tools", "9.0"))
    assert proxy.get("/simple/acme-tools/", headers=JSON).status_code == 404
    assert proxy.get("/pypi/acme-tools/json").status_code == 404
    assert not [p for p in proxy.wire.requests if "acme-tools" in p]
    publish(proxy, "bob", wheels("acme-tools", "1.0"))
    assert page(proxy, "acme-tools")["versions"] == ["1.0"]
    assert not [p for p in proxy.wire.requests if "acme-tools" in p]


def test_an_upstream_quarantine_is_passed_through_and_enforced(
    upstream: LocalIndex, proxy: ProxyIndex, wheels: Wheels
) -> None:
    """PEP 792 from the upstream: the status and reason are shown, and a file cached before the
    quarantine is neither listed nor served (403), as for a local quarantined project."""
    publish(upstream, "alice", wheels("bad-lib", "1.0"))
    listed = page(proxy, "bad-lib")["files"][0]
    assert proxy.get(file_path(listed["url"])).status_code == 200
    with upstream.db.write() as session:
        statuses.set_status(
            upstream.db, session, "bad-lib", "quarantined", reason="malware", actor=HOST
        )
    assert proxy.ctx.upstream is not None
    assert proxy.portal.call(proxy.ctx.upstream.refresh, "bad-lib") is not None  # not the TTL
    ours = page(proxy, "bad-lib")
    assert ours["project-status"] == {"status": "quarantined", "reason": "malware"}
    assert ours["files"] == []
    html = proxy.get("/simple/bad-lib/").text
    assert '<meta name="pypi:project-status" content="quarantined">' in html
    refused = proxy.get(file_path(listed["url"]))
    assert refused.status_code == 403
    assert "quarantined" in refused.text
