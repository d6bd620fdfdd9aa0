"""The read side in-process: simple pages (HTML/JSON negotiation, ETags, redirects), the JSON
API, files (with their metadata and ranges), provenance and the OpenAPI description."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from anyio.from_thread import BlockingPortal

from tests.dists.builders import build_sdist, build_wheel
from tests.index.conftest import LOCAL_BASE_URL, LocalIndex
from trustyard.index.services import projects
from trustyard.index.services.roles import HOST

V1_JSON = "application/vnd.pypi.simple.v1+json"
V1_HTML = "application/vnd.pypi.simple.v1+html"


@dataclass
class World:
    index: LocalIndex
    wheel: Path  # read-demo 1.0
    wheel_url: str


@pytest.fixture(scope="module")
def world(shared_index: LocalIndex, tmp_path_factory: pytest.TempPathFactory) -> World:
    tmp = tmp_path_factory.mktemp("read")
    index = shared_index
    index.create_user("reader")
    token = index.create_token("reader")
    wheel = build_wheel(tmp / "1", "Read.Demo", "1.0")
    for path in (
        wheel,
        build_sdist(tmp / "1", "Read.Demo", "1.0"),
        build_wheel(tmp / "2", "Read.Demo", "2.0rc1"),
        build_wheel(tmp / "3", "Read.Demo", "0.5"),
    ):
        assert index.upload(token, path).status_code == 200, path
    with index.db.write() as session:
        projects.set_yanked(session, "read-demo", "0.5", yanked=True, reason="broken", actor=HOST)
    found = index.get("/simple/read-demo/", headers={"Accept": V1_JSON}).json()
    url = next(f["url"] for f in found["files"] if f["filename"] == wheel.name)
    return World(index, wheel, "/files/" + url.split("/files/", 1)[1])


def test_simple_index_negotiates_html_and_json(world: World) -> None:
    html = world.index.get("/simple/", headers={"Accept": V1_HTML})
    assert html.status_code == 200
    assert html.headers["content-type"].startswith(V1_HTML)
    assert "read-demo" in html.text
    answer = world.index.get("/simple/", headers={"Accept": V1_JSON})
    assert answer.headers["content-type"].startswith(V1_JSON)
    assert any(p["name"] == "Read.Demo" for p in answer.json()["projects"])
    legacy = world.index.get("/simple/", headers={"Accept": "text/html"})
    assert legacy.headers["content-type"].startswith("text/html")
    # nothing acceptable: HTML anyway, as PyPI answers
    other = world.index.get("/simple/", headers={"Accept": "image/png"})
    assert other.headers["content-type"].startswith("text/html")
    assert world.index.get("/simple/", headers={"Accept": ""}).status_code == 200


def test_simple_project_page(world: World) -> None:
    answer = world.index.get("/simple/read-demo/", headers={"Accept": V1_JSON})
    body = answer.json()
    assert answer.headers["vary"] == "Accept, Accept-Encoding, Authorization"
    files = {f["filename"]: f for f in body["files"]}
    assert (
        files[world.wheel.name]["hashes"]["sha256"]
        == hashlib.sha256(world.wheel.read_bytes()).hexdigest()
    )
    assert files["read_demo-0.5-py3-none-any.whl"]["yanked"] == "broken"
    html = world.index.get("/simple/read-demo/")
    assert world.wheel.name in html.text
    assert 'data-yanked="broken"' in html.text


def test_etag_head_and_redirects(world: World) -> None:
    first = world.index.get("/simple/read-demo/")
    again = world.index.get("/simple/read-demo/", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    head = world.index.request("HEAD", "/simple/read-demo/")
    assert head.status_code == 200
    assert head.content == b""
    # The length of the GET's body as sent (gzip when accepted: httpx asks for it).
    assert head.headers["content-length"] == first.headers["content-length"]
    assert head.headers["content-encoding"] == first.headers["content-encoding"] == "gzip"
    for spelling in ("/simple/Read.Demo/", "/simple/read-demo"):
        moved = world.index.get(spelling, follow_redirects=False)
        assert moved.status_code == 301
        assert moved.headers["location"].endswith("/simple/read-demo/")
    assert world.index.get("/simple/no-such-project/").status_code == 404
    assert world.index.get("/simple/-invalid-/").status_code == 404


def test_json_api(world: World) -> None:
    body = world.index.get("/pypi/Read.Demo/json").json()
    # the newest final, non-yanked release
    assert body["info"]["version"] == "1.0"
    assert set(body["releases"]) == {"0.5", "1.0", "2.0rc1"}
    assert body["releases"]["0.5"][0]["yanked"] is True
    one = world.index.get("/pypi/Read.Demo/2.0rc1/json").json()
    assert one["info"]["version"] == "2.0rc1"
    # any other spelling of the name (or of the version) redirects to the project's own
    moved = world.index.get("/pypi/read-demo/json", follow_redirects=False)
    assert moved.status_code == 301
    assert moved.headers["location"] == "/pypi/Read.Demo/json"
    moved = world.index.get("/pypi/read-demo/2.0.0rc1/json", follow_redirects=False)
    assert moved.headers["location"] == "/pypi/Read.Demo/2.0rc1/json"
    for missing in ("/pypi/nothing-here/json", "/pypi/read-demo/9/json", "/pypi/-x-/json"):
        answer = world.index.get(missing)
        assert answer.status_code == 404
        assert answer.json() == {"message": "Not Found"}


@pytest.mark.parametrize("host", ['x"><b>y</b>', "evil.example@index.test", "a/b", "a b"])
def test_json_api_never_echoes_a_host_that_is_no_host_name(world: World, host: str) -> None:
    """The JSON API and the OpenAPI description build absolute URLs from the request as the
    simple pages do: a ``Host`` that is no host name and port (markup, userinfo, a path) is
    replaced by the address the request reached, never copied into a URL."""
    origin = LOCAL_BASE_URL  # the address the request reached (the ASGI scope's server)
    for path in ("/pypi/Read.Demo/json", "/pypi/Read.Demo/1.0/json"):
        body = world.index.get(path, headers={"Host": host}).json()
        urls = [f["url"] for f in body["urls"]] + [body["info"]["project_url"]]
        assert all(url.startswith(origin + "/") for url in urls), urls
    servers = world.index.get("/openapi.json", headers={"Host": host}).json()["servers"]
    assert servers == [{"url": origin}]
    # A host name and port is the client's own way to name the index: kept, as on /simple/.
    named = world.index.get("/pypi/Read.Demo/json", headers={"Host": "mirror.example:8443"})
    assert named.json()["urls"][0]["url"].startswith("http://mirror.example:8443/files/")


def test_files_metadata_and_ranges(world: World) -> None:
    path = world.wheel_url
    data = world.wheel.read_bytes()
    whole = world.index.get(path)
    assert whole.status_code == 200
    assert whole.content == data
    part = world.index.get(path, headers={"Range": "bytes=0-9"})
    assert part.status_code == 206
    assert part.content == data[:10]
    metadata = world.index.get(path + ".metadata")
    assert metadata.status_code == 200
    assert b"Name: Read.Demo" in metadata.content or b"Name: read" in metadata.content.lower()
    head = world.index.request("HEAD", path)
    assert head.status_code == 200
    assert world.index.get("/files/aa/bb/nothing.whl").status_code == 404
    assert world.index.get(path + ".nope").status_code == 404


def test_provenance_of_a_file_without_one(world: World) -> None:
    where = f"/integrity/read-demo/1.0/{world.wheel.name}/provenance"
    answer = world.index.get(where)
    assert answer.status_code == 404
    assert world.index.request("HEAD", where).status_code == 404
    assert world.index.get(where, headers={"Accept": "image/png"}).status_code == 406
    assert world.index.get("/integrity/read-demo/1.0/nope.whl/provenance").status_code == 404


def test_openapi_description(world: World) -> None:
    answer = world.index.get("/openapi.json")
    assert answer.status_code == 200
    assert "/simple/" in answer.json()["paths"]


def test_unknown_path_is_404(world: World) -> None:
    assert world.index.get("/no/such/page").status_code == 404


def test_files_behind_nginx_and_missing_bytes(tmp_path: Path, portal: BlockingPortal) -> None:
    """With ``accel_redirect`` the index answers X-Accel-Redirect and nginx sends the bytes; a
    file whose row exists but whose bytes are gone is a 404, not a 500."""
    index = LocalIndex(tmp_path / "data", portal, accel_redirect="/internal/")
    try:
        index.create_user("nginx")
        wheel = build_wheel(tmp_path / "w", "behind-nginx", "1.0")
        assert index.upload(index.create_token("nginx"), wheel).status_code == 200
        listed = index.get("/simple/behind-nginx/", headers={"Accept": V1_JSON}).json()
        path = "/files/" + listed["files"][0]["url"].split("/files/", 1)[1]
        answer = index.get(path)
        assert answer.status_code == 200
        assert answer.content == b""
        key = path.removeprefix("/files/")
        assert answer.headers["x-accel-redirect"] == "/internal/" + key
    finally:
        index.close()
    plain = LocalIndex(tmp_path / "plain", portal)
    try:
        plain.create_user("bytes")
        wheel = build_wheel(tmp_path / "p", "gone-bytes", "1.0")
        assert plain.upload(plain.create_token("bytes"), wheel).status_code == 200
        listed = plain.get("/simple/gone-bytes/", headers={"Accept": V1_JSON}).json()
        path = "/files/" + listed["files"][0]["url"].split("/files/", 1)[1]
        (plain.settings.files_dir / path.removeprefix("/files/")).unlink()
        assert plain.get(path).status_code == 404
    finally:
        plain.close()


def test_a_project_without_releases(world: World) -> None:
    with world.index.db.write() as session:
        projects.create_project(session, "read-empty", owner="reader")
    assert world.index.get("/pypi/read-empty/json").status_code == 404
    assert world.index.get("/project/read-empty/").status_code == 404
    page = world.index.get("/simple/read-empty/", headers={"Accept": V1_JSON})
    assert page.status_code == 200
    assert page.json()["files"] == []


def test_a_release_stored_without_its_html(world: World) -> None:
    """A release imported from an export made before descriptions were stored rendered shows
    its text escaped, until rendered."""
    with world.index.db.write() as session:
        project = projects.get_project(session, "read-demo")
        release = projects.get_release(session, project, "1.0")
        release.description_html = None
        release.core_metadata = {**release.core_metadata, "description": "<b>plain</b>"}
    page = world.index.get("/project/Read.Demo/1.0/")
    assert "&lt;b&gt;plain&lt;/b&gt;" in page.text


def test_links_under_a_configured_base_url(tmp_path: Path, portal: BlockingPortal) -> None:
    index = LocalIndex(tmp_path / "data", portal, base_url="https://pypi.example/prefix/")
    try:
        index.create_user("based")
        wheel = build_wheel(tmp_path / "w", "Based.Project", "1.0")
        assert index.upload(index.create_token("based"), wheel).status_code == 200
        listed = index.get("/simple/based-project/", headers={"Accept": V1_JSON}).json()
        assert listed["files"][0]["url"].startswith("https://pypi.example/prefix/files/")
        moved = index.get("/simple/Based.Project/", follow_redirects=False)
        assert moved.headers["location"] == "https://pypi.example/prefix/simple/based-project/"
        body = index.get("/pypi/Based.Project/json").json()
        assert body["info"]["project_url"] == "https://pypi.example/prefix/project/Based.Project/"
        assert body["urls"][0]["url"].startswith("https://pypi.example/prefix/files/")
    finally:
        index.close()


def test_a_new_index_is_empty(local_index: LocalIndex) -> None:
    listed = local_index.get("/simple/", headers={"Accept": V1_JSON}).json()
    assert listed["projects"] == []
    assert listed["meta"]["_last-serial"] == 0
    assert local_index.get("/pypi/anything/json").status_code == 404


def test_yanked_release_is_marked(
    shared_index: LocalIndex, wheels: Callable[[str, str], Path]
) -> None:
    """The example of docs/architecture.md's "how to write an in-process test"."""
    shared_index.create_user("yanker")
    token = shared_index.create_token("yanker")
    assert shared_index.upload(token, wheels("yank-me", "1.0")).status_code == 200
    with shared_index.db.write() as session:
        projects.set_yanked(session, "yank-me", "1.0", yanked=True, reason="bad", actor=HOST)
    page = shared_index.get("/simple/yank-me/", headers={"Accept": V1_JSON}).json()
    assert page["files"][0]["yanked"] == "bad"
