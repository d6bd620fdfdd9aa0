"""Security headers on every response of a real index: pages, errors, files, redirects, 304s.

Every kind of answer is checked on both backends: files take another route on S3 (a 302 to a
presigned URL for GET, an answer relayed from the object's headers for HEAD). HSTS appears only
under TLS (``--tls``, or an ``https://`` base URL behind a TLS proxy), which does not depend on
the backend, so those tests run on the embedded one; the web UI's templates have nothing
inline, so its strict Content-Security-Policy breaks nothing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import IndexServer, start_index
from tests.dists.builders import build_wheel
from tests.index.conftest import Answer, request, upload_file
from tests.services import Backend
from trustyard.index.web import render

TEMPLATES = Path(render.__file__).parent / "templates"
YEAR = 365 * 24 * 3600


@dataclass
class Seeded:
    index: IndexServer
    file_path: str  # the /files/... path of the uploaded wheel


def _seed(server: IndexServer, tmp: Path) -> Seeded:
    server.create_user("alice")
    token = server.create_token("alice")
    wheel = build_wheel(tmp, "headered", "1.0")
    assert upload_file(server, token, wheel, "headered", "1.0").status == 200
    page = json.loads(
        request(
            server,
            "GET",
            "/simple/headered/",
            headers={"Accept": "application/vnd.pypi.simple.v1+json"},
        ).body
    )
    url: str = page["files"][0]["url"]
    return Seeded(server, url[url.index("/files/") :])


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory, backend: Backend) -> Iterator[Seeded]:
    tmp = tmp_path_factory.mktemp("headers")
    server = start_index(tmp / "data", backend=backend)
    try:
        yield _seed(server, tmp)
    finally:
        server.stop()


def _every_kind_of_answer(world: Seeded) -> dict[str, Answer]:
    """One request of every family, each checked for the status it must have."""
    index = world.index
    etag = request(index, "GET", "/simple/headered/").headers["etag"]
    # S3: the bytes come from the bucket, through a redirect the index answers.
    sent = 302 if index.storage else 200
    answers = {
        "simple html": (request(index, "GET", "/simple/"), 200),
        "simple json": (
            request(
                index,
                "GET",
                "/simple/headered/",
                headers={"Accept": "application/vnd.pypi.simple.v1+json"},
            ),
            200,
        ),
        "304": (request(index, "GET", "/simple/headered/", headers={"If-None-Match": etag}), 304),
        "301": (request(index, "GET", "/simple/Headered/"), 301),
        "404 simple": (request(index, "GET", "/simple/no-such-project/"), 404),
        "404 anywhere": (request(index, "GET", "/no/such/path"), 404),
        "405": (request(index, "DELETE", "/simple/"), 405),
        "file": (request(index, "GET", world.file_path), sent),
        "file range": (
            request(index, "GET", world.file_path, headers={"Range": "bytes=0-9"}),
            302 if index.storage else 206,
        ),
        "file head": (request(index, "HEAD", world.file_path), 200),
        "metadata": (request(index, "GET", world.file_path + ".metadata"), sent),
        "json api": (request(index, "GET", "/pypi/headered/json"), 200),
        "json 404": (request(index, "GET", "/pypi/nothing-here/json"), 404),
        "integrity 404": (
            request(
                index, "GET", "/integrity/headered/1.0/headered-1.0-py3-none-any.whl/provenance"
            ),
            404,
        ),
        "upload refused": (request(index, "POST", "/legacy/", b"x", {"Content-Type": "x"}), 403),
        "upload page": (request(index, "GET", "/legacy/"), 200),
        "legacy redirect": (request(index, "GET", "/legacy"), 308),
        "audience": (request(index, "GET", "/_/oidc/audience"), 200),
        "mint refused": (request(index, "POST", "/_/oidc/mint-token", b"{}"), 422),
        "openapi": (request(index, "GET", "/openapi.json"), 200),
        "home page": (request(index, "GET", "/"), 200),
        "project page": (request(index, "GET", "/project/headered/"), 200),
        "login page": (request(index, "GET", "/account/login/"), 200),
        "sign-in redirect": (request(index, "GET", "/manage/account/"), 303),
        "stylesheet": (request(index, "GET", "/static/site.css"), 200),
        "script": (request(index, "GET", "/static/copy.js"), 200),
        "too large": (request(index, "POST", "/_/oidc/burn-token", b"{" * 70000), 413),
    }
    for name, (answer, status) in answers.items():
        assert answer.status == status, (name, answer.status, answer.text[:300])
    return {name: answer for name, (answer, _status) in answers.items()}


def test_every_response_carries_the_headers_and_no_hsts_over_plain_http(seeded: Seeded) -> None:
    for name, answer in _every_kind_of_answer(seeded).items():
        headers = answer.headers
        assert headers.get("x-content-type-options") == "nosniff", name
        assert headers.get("x-frame-options") == "DENY", name
        assert headers.get("referrer-policy") == "same-origin", name
        policy = headers.get("content-security-policy", "")
        assert "frame-ancestors 'none'" in policy, name
        assert "default-src 'none'" in policy, name
        assert "unsafe-inline" not in policy, name
        assert "unsafe-eval" not in policy, name
        assert "strict-transport-security" not in headers, name


def test_html_gets_the_pages_policy_and_other_types_a_deny_all_policy(seeded: Seeded) -> None:
    answers = _every_kind_of_answer(seeded)
    for name in ("simple html", "home page", "project page", "upload page", "login page"):
        assert answers[name].headers["content-type"].startswith("text/html"), name
        policy = answers[name].headers["content-security-policy"]
        assert "script-src 'self'" in policy, name
        assert "style-src 'self'" in policy, name
        assert "form-action 'self'" in policy, name
    for name in ("simple json", "json api", "file", "openapi", "stylesheet"):
        policy = answers[name].headers["content-security-policy"]
        assert "script-src" not in policy, name
    # Each header once: the pages' own headers are not doubled by the outer layer.
    assert answers["home page"].headers["content-security-policy"].count("default-src") == 1


@pytest.mark.slow
def test_hsts_under_tls(tmp_path: Path) -> None:
    server = start_index(tmp_path / "data", "--tls")
    try:
        for path, status in (("/simple/", 200), ("/nothing", 404), ("/simple/Some_Name/", 301)):
            answer = request(server, "GET", path)
            assert answer.status == status
            hsts = answer.headers["strict-transport-security"]
            match = re.fullmatch(r"max-age=(\d+)(;.*)?", hsts)
            assert match is not None, hsts
            assert int(match.group(1)) >= YEAR
            assert answer.headers["x-content-type-options"] == "nosniff"
    finally:
        server.stop()


@pytest.mark.slow
def test_hsts_with_an_https_base_url_behind_a_proxy(tmp_path: Path) -> None:
    server = start_index(tmp_path / "data", "--base-url", "https://pypi.example.com")
    try:
        answer = request(server, "GET", "/simple/")
        assert int(answer.headers["strict-transport-security"].split("=")[1]) >= YEAR
    finally:
        server.stop()


def test_templates_have_nothing_inline_that_the_policy_would_block() -> None:
    """script-src/style-src 'self' block inline code: the UI must not rely on any."""
    for template in sorted(TEMPLATES.glob("*.html")):
        text = template.read_text(encoding="utf-8")
        for script in re.findall(r"<script\b[^>]*>", text, flags=re.I):
            assert "src=" in script, (template.name, script)
        assert not re.search(r"<style\b", text, flags=re.I), template.name
        assert not re.search(r"\sstyle\s*=", text, flags=re.I), template.name
        assert not re.search(r"\son[a-z]+\s*=", text, flags=re.I), template.name
        assert "javascript:" not in text.lower(), template.name
