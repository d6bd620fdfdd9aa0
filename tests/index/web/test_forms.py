"""Every form of the web interface against bad input, over plain HTTP: precise 4xx answers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import IndexServer, start_index
from tests.index.conftest import request
from tests.index.web.conftest import PASSWORD, HttpSession, Site, signed_in
from tests.services import Backend


def test_pages_carry_a_strict_content_security_policy(site: Site) -> None:
    answer = request(site.index, "GET", "/")
    assert answer.status == 200
    csp = answer.headers["content-security-policy"]
    assert "default-src 'none'" in csp
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["x-frame-options"] == "DENY"


def test_uploaded_metadata_is_escaped_in_html(site: Site) -> None:
    html = request(site.index, "GET", "/project/hostile/").text
    assert "<script>window.__pwned" not in html
    assert "&lt;script&gt;window.__pwned=&#39;summary&#39;&lt;/script&gt; summary" in html
    assert "onerror" not in html
    assert 'href="javascript' not in html.lower()
    assert "<iframe" not in html
    yanked = request(site.index, "GET", "/project/webdemo/1.0/").text
    assert "broken &lt;b&gt;build&lt;/b&gt;" in yanked


def test_search_and_project_pages_refuse_bad_input(site: Site) -> None:
    assert request(site.index, "GET", "/search/?q=" + "a" * 201).status == 400
    assert request(site.index, "GET", "/search/?q=%3Cscript%3E").status == 200
    assert "&lt;script&gt;" in request(site.index, "GET", "/search/?q=%3Cscript%3E").text
    assert request(site.index, "GET", "/project/no-such-project/").status == 404
    assert request(site.index, "GET", "/project/-bad-name-/").status == 404
    assert request(site.index, "GET", "/project/webdemo/9.9/").status == 404
    moved = request(site.index, "GET", "/project/WebDemo/")
    assert (moved.status, moved.headers["location"]) == (301, "/project/webdemo/")


def _login_form(site: Site) -> HttpSession:
    http = HttpSession(site.index)
    assert http.get("/account/login/").status == 200
    assert "trustyard_csrf" in http.cookies
    return http


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b"username=alice&password=x", "text/plain", 415),
        (b"username=alice&password=x", "multipart/form-data; boundary=x", 415),
        (b"a=" + b"x" * 17000, "application/x-www-form-urlencoded", 413),
        (b"username=%FF%FE&password=x", "application/x-www-form-urlencoded", 400),
        (b"username&&password", "application/x-www-form-urlencoded", 400),
        (b"username=\xff", "application/x-www-form-urlencoded", 400),
        (b"&".join(b"f%d=1" % i for i in range(30)), "application/x-www-form-urlencoded", 400),
    ],
    ids=["text", "multipart", "oversized", "bad-utf8", "no-equals", "raw-binary", "fields"],
)
def test_login_refuses_malformed_bodies(
    site: Site, body: bytes, content_type: str, status: int
) -> None:
    http = _login_form(site)
    answer = http.post(
        "/account/login/", {}, csrf=False, body=body, headers={"Content-Type": content_type}
    )
    assert answer.status == status, answer.text
    assert "trustyard_session" not in http.cookies


def test_login_refuses_bad_fields_and_forged_requests(site: Site) -> None:
    http = _login_form(site)
    good = {"username": "alice", "password": PASSWORD}
    assert http.post("/account/login/", good, csrf=False).status == 403  # no CSRF token
    wrong = [*good.items(), ("csrf_token", "x" * 43)]
    assert http.post("/account/login/", wrong, csrf=False).status == 403
    evil = http.post("/account/login/", good, headers={"Origin": "https://evil.example"})
    assert evil.status == 403
    assert http.post("/account/login/", {"username": "alice"}).status == 400
    assert http.post("/account/login/", {**good, "admin": "1"}).status == 400
    duplicate = [("username", "alice"), ("username", "bob"), ("password", PASSWORD)]
    assert http.post("/account/login/", duplicate).status == 400
    assert http.post("/account/login/", {**good, "username": "a" * 101}).status == 400
    assert http.post("/account/login/", {**good, "username": "al\x00ice"}).status == 400
    # A cookie-less client (a cross-site forger) has no token to send at all.
    bare = HttpSession(site.index)
    assert bare.post("/account/login/", good, csrf=False).status == 403
    assert "trustyard_session" not in http.cookies | bare.cookies
    # ...and the same session then signs in fine.
    signed = http.post("/account/login/", good)
    assert signed.status == 303
    assert signed.headers["location"] == "/manage/account/"


def test_login_never_redirects_off_site(site: Site) -> None:
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        http = _login_form(site)
        answer = http.post(
            "/account/login/?next=" + target, {"username": "bob", "password": PASSWORD}
        )
        assert answer.status == 303
        assert answer.headers["location"] == "/manage/account/"


def test_wrong_password_is_403_and_unknown_users_look_the_same(site: Site) -> None:
    http = _login_form(site)
    bad = http.post("/account/login/", {"username": "bob", "password": "wrong password"})
    missing = http.post("/account/login/", {"username": "nobody", "password": "whatever!"})
    assert bad.status == missing.status == 403
    assert "The username or the password is wrong." in bad.text
    assert "The username or the password is wrong." in missing.text


def test_signed_in_forms_need_the_session_csrf_token(site: Site) -> None:
    http = signed_in(site.index, "alice")
    form = {"description": "x", "scope": "", "expiry": "7d"}
    assert http.post("/manage/account/token/", form, csrf=False).status == 403
    # The pre-sign-in token is no longer valid once signed in.
    stale = _login_form(site).csrf
    forged = [*form.items(), ("csrf_token", stale)]
    assert http.post("/manage/account/token/", forged, csrf=False).status == 403
    assert http.post("/account/logout/", {}, csrf=False).status == 403
    assert http.get("/manage/account/").status == 200  # still signed in


def test_token_form_refuses_bad_input(site: Site) -> None:
    http = signed_in(site.index, "alice")
    post = http.post
    base = {"description": "ok", "scope": "", "expiry": "7d"}
    assert post("/manage/account/token/", {**base, "expiry": "1000d"}).status == 400
    assert post("/manage/account/token/", {**base, "description": ""}).status == 400
    assert post("/manage/account/token/", {**base, "description": "d" * 101}).status == 400
    assert post("/manage/account/token/", {**base, "extra": "1"}).status == 400
    assert post("/manage/account/token/", {**base, "scope": "bobs-thing"}).status == 403
    assert post("/manage/account/token/", {**base, "scope": "no-such-project"}).status == 404
    assert post("/manage/account/token/", {**base, "scope": "../../etc"}).status == 400
    created = post("/manage/account/token/", base)
    assert created.status == 201
    assert "trustyard-" in created.text
    assert created.headers["cache-control"] == "no-store"
    assert post("/manage/account/token/0123456789abcdef01234567/revoke/", {}).status == 404


def test_tokens_of_others_cannot_be_revoked(site: Site) -> None:
    bob_token = site.index.create_token("bob")
    token_id = bob_token.removeprefix("trustyard-").split(".")[0]
    alice = signed_in(site.index, "alice")
    assert alice.post(f"/manage/account/token/{token_id}/revoke/", {}).status == 404
    listed = signed_in(site.index, "bob").get("/manage/account/").text
    assert f'data-token-id="{token_id}"' in listed
    assert "revoked" not in listed.split(f'data-token-id="{token_id}"')[1].split("</tr>")[0]


def test_signed_out_callers_are_sent_to_sign_in(site: Site) -> None:
    http = _login_form(site)
    page = request(site.index, "GET", "/manage/account/")
    assert page.status == 303
    assert page.headers["location"] == "/account/login/?next=/manage/account/"
    form = {"description": "x", "scope": "", "expiry": "7d"}
    assert http.post("/manage/account/token/", form).status == 401
    assert http.post("/manage/project/webdemo/publishers/", {"kind": "github"}).status == 401


def test_publisher_form_refuses_bad_input(site: Site) -> None:
    http = signed_in(site.index, "alice")
    path = "/manage/project/webdemo/publishers/"
    github = {"kind": "github", "repository": "alice/webdemo", "workflow": "release.yml"}
    assert http.post(path, {**github, "kind": "svn"}).status == 400
    assert http.post(path, {**github, "repository": "no-slash"}).status == 400
    assert http.post(path, {**github, "workflow": "../x.yml"}).status == 400
    assert http.post(path, {**github, "email": "x@y.z"}).status == 400  # another kind's field
    assert http.post(path, {**github, "issuer": "http://evil.example"}).status == 400
    assert (
        http.post(path, {"kind": "oidc", "issuer": "https://id.example", "claims": "nope"}).status
        == 400
    )
    assert http.post(path, {"kind": "gitlab", "project": "x", "workflow_path": "a"}).status == 400
    page = http.get("/manage/project/webdemo/")
    assert "data-publisher-id" not in page.text  # nothing was added
    assert http.post("/manage/project/webdemo/publishers/999/remove/", {}).status == 404
    assert http.post("/manage/project/no-such/publishers/", github).status == 404
    assert http.get("/manage/project/no-such/").status == 404


def test_strangers_cannot_change_publishers(site: Site) -> None:
    added = site.index.cli(
        "publisher",
        "add",
        "bobs-thing",
        "github",
        "--repository",
        "bob/thing",
        "--workflow",
        "release.yml",
    ).stdout.strip()
    alice = signed_in(site.index, "alice")
    assert alice.get("/manage/project/bobs-thing/").status == 403
    github = {"kind": "github", "repository": "alice/steal", "workflow": "release.yml"}
    assert alice.post("/manage/project/bobs-thing/publishers/", github).status == 403
    assert alice.post(f"/manage/project/bobs-thing/publishers/{added}/remove/", {}).status == 403
    # A publisher id of another project, through a project alice does own, is unknown there.
    assert alice.post(f"/manage/project/webdemo/publishers/{added}/remove/", {}).status == 404
    assert "bob/thing" in site.index.cli("publisher", "list", "bobs-thing").stdout


@pytest.fixture(scope="module")
def tls_index(tmp_path_factory: pytest.TempPathFactory, backend: Backend) -> Iterator[IndexServer]:
    server = start_index(tmp_path_factory.mktemp("tls") / "data", "--tls", backend=backend)
    yield server
    server.stop()


def test_cookies_are_secure_under_tls(tls_index: IndexServer) -> None:
    tls_index.create_user("dora", PASSWORD)
    http = HttpSession(tls_index)
    first = http.get("/account/login/")
    (csrf_cookie,) = first.raw_cookies
    assert "Secure" in csrf_cookie
    assert "HttpOnly" in csrf_cookie
    answer = http.post("/account/login/", {"username": "dora", "password": PASSWORD})
    assert answer.status == 303
    (session,) = [c for c in answer.raw_cookies if c.startswith("trustyard_session=")]
    flags = {part.strip().lower() for part in session.split(";")[1:]}
    assert {"secure", "httponly", "samesite=lax", "path=/"} <= flags


def test_sign_out_ends_the_session_on_the_server(site: Site, tmp_path: Path) -> None:
    http = signed_in(site.index, "bob")
    cookie = dict(http.cookies)
    assert http.post("/account/logout/", {}).status == 303
    replay = request(
        site.index,
        "GET",
        "/manage/account/",
        headers={"Cookie": "; ".join(f"{k}={v}" for k, v in cookie.items())},
    )
    assert replay.status == 303  # the old cookie no longer signs anyone in
