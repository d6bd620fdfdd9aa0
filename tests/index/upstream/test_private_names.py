"""A private local project in front of an upstream (issue 20): its name stays local to those
who may not read it, so nothing falls through to the upstream's project of the same name
(dependency confusion); and a private index proxies the upstream only to readers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from anyio.from_thread import BlockingPortal

from tests.index.conftest import LocalIndex, basic
from tests.index.upstream.conftest import ProxyIndex, UpstreamWire
from trustyard.dists.mediatypes import SIMPLE_V1_JSON
from trustyard.index.services import projects, read_access
from trustyard.index.services.roles import HOST

JSON = {"Accept": SIMPLE_V1_JSON}
Wheels = Callable[[str, str], Path]


def _publish(index: LocalIndex, user: str, wheel: Path) -> None:
    answer = index.upload(index.create_token(user), wheel)
    assert answer.status_code == 200, answer.text


def test_a_private_local_name_never_falls_through_to_the_upstream(
    upstream: LocalIndex, proxy: ProxyIndex, wheels: Wheels
) -> None:
    _publish(upstream, "alice", wheels("internal-lib", "9.0"))  # the attacker's upload
    with proxy.db.write() as session:  # the admin makes the name local, as the refusal says
        projects.create_project(session, "internal-lib", owner="bob")
    _publish(proxy, "bob", wheels("internal-lib", "1.0"))
    with proxy.db.write() as session:
        read_access.set_visibility(session, "internal-lib", "private", actor=HOST)
    proxy.create_user("carol")
    carol = proxy.create_token("carol")
    for path in ("/simple/internal-lib/", "/pypi/internal-lib/json", "/pypi/internal-lib/9.0/json"):
        anonymous = proxy.get(path, headers=JSON)
        assert anonymous.status_code == 401, path
        assert "9.0" not in anonymous.text
        refused = proxy.get(path, headers={**JSON, "Authorization": basic(carol)})
        assert refused.status_code == 403, path
        assert "9.0" not in refused.text
    page = proxy.get("/project/internal-lib/")
    assert page.status_code == 303
    bob = proxy.create_token("bob")
    mine = proxy.get("/simple/internal-lib/", headers={**JSON, "Authorization": basic(bob)})
    assert [f["filename"] for f in mine.json()["files"]] == ["internal_lib-1.0-py3-none-any.whl"]
    assert not [p for p in proxy.wire.requests if "internal-lib" in p]


def test_a_private_index_proxies_the_upstream_to_readers_only(
    tmp_path: Path, portal: BlockingPortal, upstream: LocalIndex, wheels: Wheels
) -> None:
    _publish(upstream, "alice", wheels("public-lib", "1.0"))
    proxy = ProxyIndex(tmp_path / "private-proxy", portal, UpstreamWire(upstream.app), private=True)
    try:
        proxy.create_user("dora")
        token = proxy.create_token("dora")
        assert proxy.get("/simple/public-lib/").status_code == 401
        assert not proxy.wire.requests  # nothing asked upstream for an anonymous request
        shown = proxy.get("/simple/public-lib/", headers={**JSON, "Authorization": basic(token)})
        assert shown.status_code == 200
        (listed,) = shown.json()["files"]
        url = listed["url"].removeprefix("../..")
        assert proxy.get(url).status_code == 401
        fetched = proxy.get(url, headers={"Authorization": basic(token)})
        assert fetched.status_code == 200
        assert fetched.headers["cache-control"] == "private, max-age=0, must-revalidate"
    finally:
        proxy.close()
