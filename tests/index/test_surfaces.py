"""Each surface of the index answers errors in its own shape, chosen by its mount, and the
mounts leave the URLs of a flat route list alone (trailing-slash redirects, 404s).

In process: the real app from ``create_app`` on real SQLite and local files, over
``httpx.ASGITransport``.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx

from trustyard.index.app import create_app
from trustyard.settings import Settings


def _ask(tmp_path: Path, *requests: tuple[str, str, dict[str, str], bytes]) -> list[httpx.Response]:
    """Send ``requests`` (method, path, headers, body) to a fresh index, in order."""
    app = create_app(Settings(data_dir=tmp_path / "data"))

    async def send() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://index") as client:
            return [
                await client.request(method, path, headers=headers, content=body or None)
                for method, path, headers, body in requests
            ]

    return asyncio.run(send())


def test_mounts_keep_the_flat_lists_redirects_and_404s(tmp_path: Path) -> None:
    simple, legacy, search, pypi_slash, unknown, unknown_in_mount = _ask(
        tmp_path,
        ("GET", "/simple", {}, b""),
        ("POST", "/legacy", {}, b""),
        ("GET", "/search", {}, b""),
        ("GET", "/pypi/thing/json/", {}, b""),
        ("GET", "/nothing/here", {}, b""),
        ("GET", "/pypi/thing", {}, b""),
    )
    assert (simple.status_code, simple.headers["location"]) == (307, "http://index/simple/")
    assert (legacy.status_code, legacy.headers["location"]) == (308, "/legacy/")
    assert (search.status_code, search.headers["location"]) == (307, "http://index/search/")
    assert pypi_slash.status_code == 307
    assert pypi_slash.headers["location"] == "http://index/pypi/thing/json"
    for answer in (unknown, unknown_in_mount):  # PyPI's plain 404, whatever the prefix
        assert answer.status_code == 404
        assert answer.headers["content-type"].startswith("text/plain")
        assert answer.text.startswith("404 Not Found\n\nThe resource could not be found.")


def test_each_surface_answers_errors_in_its_shape(tmp_path: Path) -> None:
    simple, pypi, mint, page, signed_out = _ask(
        tmp_path,
        ("GET", "/simple/no-such-thing/", {}, b""),
        ("GET", "/pypi/no-such-thing/json", {}, b""),
        ("POST", "/_/oidc/mint-token", {}, b"not json"),
        ("GET", "/project/no-such-thing/", {}, b""),
        ("GET", "/manage/account/", {}, b""),
    )
    assert (simple.status_code, simple.headers["content-type"]) == (
        404,
        "text/plain; charset=utf-8",
    )
    assert "no project named 'no-such-thing'" in simple.text
    assert (pypi.status_code, pypi.json()) == (404, {"message": "Not Found"})
    assert mint.status_code == 422
    assert mint.content.startswith(b'{"message":"Token request failed","errors":[{"code"')
    assert mint.json()["errors"][0]["code"] == "invalid-payload"
    assert (page.status_code, page.headers["content-type"]) == (404, "text/html; charset=utf-8")
    assert "no project named" in page.text
    assert "trustyard_csrf=" in page.headers["set-cookie"]  # error pages carry the CSRF cookie
    assert signed_out.status_code == 303
    assert signed_out.headers["location"] == "/account/login/?next=/manage/account/"


def test_refusals_before_routing_take_the_shape_of_the_surface_meant(tmp_path: Path) -> None:
    big = {"content-length": str(1024 * 1024), "content-type": "application/json"}
    form = {**big, "content-type": "application/x-www-form-urlencoded"}
    mint, page, elsewhere = _ask(
        tmp_path,
        ("POST", "/_/oidc/mint-token", big, b""),
        ("POST", "/manage/account/token/", form, b""),
        ("POST", "/nothing/here", big, b""),
    )
    assert mint.status_code == page.status_code == elsewhere.status_code == 413
    (error,) = json.loads(mint.content)["errors"]
    assert error["code"] == "request-too-large"
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert "Request body too large" in page.text
    assert elsewhere.text.startswith("413 Request Entity Too Large")


def test_a_line_break_in_a_path_stays_in_its_surface(tmp_path: Path) -> None:
    """Starlette's mount pattern stops at a line break; ours does not, so such a path gets its
    surface's error shape (found by the OpenAPI property test: JSON 404, not PyPI's text)."""
    answers = _ask(
        tmp_path,
        ("GET", "/pypi/a%0A/json", {}, b""),
        ("GET", "/pypi/a/1.0%0A/json", {}, b""),
        ("GET", "/integrity/a/1.0/a-1.0.tar.gz%0A/provenance", {}, b""),
    )
    for answer in answers:
        assert answer.status_code == 404
        assert answer.headers["content-type"] == "application/json", answer.text
