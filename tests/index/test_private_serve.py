"""``trustyard serve --private`` on the wire (issue 20), on each backend (SQLite + files;
PostgreSQL + S3): the 401 and its challenge as a client receives them, token reads, and a
private file on S3 presigned for seconds only."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest

from tests.conftest import IndexServer, start_index
from tests.dists.builders import build_wheel
from tests.index.conftest import basic, request, upload_built
from tests.services import Backend
from trustyard.index.read_gate import PRIVATE_CACHE

JSON = "application/vnd.pypi.simple.v1+json"


@pytest.fixture(scope="module")
def private_server(
    tmp_path_factory: pytest.TempPathFactory, backend: Backend
) -> Iterator[IndexServer]:
    server = start_index(tmp_path_factory.mktemp("private") / "data", "--private", backend=backend)
    yield server
    server.stop()


def test_anonymous_reads_get_401_with_the_basic_challenge(private_server: IndexServer) -> None:
    for path in ("/simple/", "/simple/anything/", "/pypi/anything/json", "/files/x/y"):
        answer = request(private_server, "GET", path)
        assert answer.status == 401, path
        assert "private" in answer.reason + answer.text, path  # PyPI's shape: the reason says why
        assert answer.headers["www-authenticate"] == 'Basic realm="trustyard"', path
    page = request(private_server, "GET", "/")
    assert page.status == 303
    assert page.headers["location"] == "/account/login/?next=/"
    assert request(private_server, "GET", "/account/login/").status == 200
    assert request(private_server, "GET", "/_/oidc/audience").status == 200


def test_a_token_reads_and_installs_the_files(private_server: IndexServer, tmp_path: Path) -> None:
    private_server.create_user("alice")
    private_server.create_user("carol")
    alice = private_server.create_token("alice")
    carol = private_server.create_token("carol")
    for name in ("wire-open", "wire-secret"):
        wheel = build_wheel(tmp_path / name, name, "1.0")
        assert upload_built(private_server, alice, wheel).status == 200
    private_server.cli("admin", "project", "visibility", "wire-secret", "private")

    for token, secret_status in ((alice, 200), (carol, 403)):
        headers = {"Authorization": basic(token, "anyone"), "Accept": JSON}
        opened = request(private_server, "GET", "/simple/wire-open/", headers=headers)
        assert opened.status == 200
        assert opened.headers["cache-control"] == PRIVATE_CACHE
        assert "Authorization" in opened.headers["vary"]
        secret = request(private_server, "GET", "/simple/wire-secret/", headers=headers)
        assert secret.status == secret_status
    listing = request(
        private_server, "GET", "/simple/", headers={"Authorization": basic(carol)}
    ).text
    assert "wire-open" in listing
    assert "wire-secret" not in listing

    headers = {"Authorization": basic(alice), "Accept": JSON}
    page = json.loads(request(private_server, "GET", "/simple/wire-secret/", headers=headers).body)
    url = urlsplit(urljoin(f"{private_server.url}/simple/wire-secret/", page["files"][0]["url"]))
    assert request(private_server, "GET", url.path).status == 401
    assert (
        request(private_server, "GET", url.path, headers={"Authorization": basic(carol)}).status
        == 403
    )
    served = request(private_server, "GET", url.path, headers={"Authorization": basic(alice)})
    if served.status == 302:  # S3: a presigned URL, made after the check, for seconds only
        query = parse_qs(urlsplit(served.headers["location"]).query)
        assert query["X-Amz-Expires"] == ["10"]
        assert served.headers["cache-control"] == "no-store"
    else:
        assert served.status == 200
        assert served.headers["cache-control"] == PRIVATE_CACHE
        assert served.body[:2] == b"PK"
