"""The web interface in-process: public pages, signing in and out (CSRF included), the
account's tokens, a project's settings (publishers, releases, collaborators, history), pending
publishers and the admin pages. Through HTTP only, as a browser without JavaScript sends it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.dists.builders import build_wheel
from tests.index.conftest import PASSWORD, LocalBrowser, LocalIndex, LocalIssuer
from trustyard.index.services import publishers


@dataclass
class Site:
    index: LocalIndex
    issuer: str
    tmp: Path


@pytest.fixture(scope="module")
def site(
    shared_index: LocalIndex, local_issuer: LocalIssuer, tmp_path_factory: pytest.TempPathFactory
) -> Site:
    """``webdemo`` 1.0 and 2.0 (owner alice, maintainer bob); carol has nothing; root is an
    index admin."""
    index = shared_index
    tmp = tmp_path_factory.mktemp("web")
    index.trust_issuer(local_issuer.url)
    index.create_user("alice")
    index.create_user("bob")
    index.create_user("carol")
    index.create_user("root", admin=True)
    alice = index.create_token("alice")
    for version in ("1.0", "2.0"):
        wheel = build_wheel(tmp / version, "webdemo", version)
        assert index.upload(alice, wheel).status_code == 200
    return Site(index, local_issuer.url, tmp)


@pytest.fixture(scope="module")
def alice(site: Site) -> Iterator[LocalBrowser]:
    yield from _signed_in(site, "alice")


@pytest.fixture(scope="module")
def carol(site: Site) -> Iterator[LocalBrowser]:
    yield from _signed_in(site, "carol")


@pytest.fixture(scope="module")
def root(site: Site) -> Iterator[LocalBrowser]:
    yield from _signed_in(site, "root")


@pytest.fixture
def anonymous(site: Site) -> Iterator[LocalBrowser]:
    opened = LocalBrowser(site.index)
    yield opened
    opened.close()


def _signed_in(site: Site, username: str) -> Iterator[LocalBrowser]:
    """A browser signed in as ``username``, shared by the module (signing in costs an argon2
    verification, deliberately slow)."""
    opened = LocalBrowser(site.index)
    answer = opened.sign_in(username)
    assert answer.status_code == 200, answer.text
    yield opened
    opened.close()


# -- public pages ------------------------------------------------------------------------------


def test_home_search_and_project_pages(anonymous: LocalBrowser) -> None:
    assert "webdemo" in anonymous.get("/").text
    found = anonymous.get("/search/?q=webdemo")
    assert found.status_code == 200
    assert "webdemo" in found.text
    assert anonymous.get("/search/?q=" + "x" * 300).status_code == 400
    project = anonymous.get("/project/webdemo/")
    assert project.status_code == 200
    assert "2.0" in project.text
    assert "webdemo-2.0-py3-none-any.whl" in project.text
    assert anonymous.get("/project/webdemo/1.0/").status_code == 200
    moved = anonymous.get("/project/WebDemo/", follow_redirects=False)
    assert moved.status_code == 301
    assert moved.headers["location"] == "/project/webdemo/"
    moved = anonymous.get("/project/webdemo/1/", follow_redirects=False)
    assert moved.headers["location"] == "/project/webdemo/1.0/"
    assert anonymous.get("/project/nothing-here/").status_code == 404
    assert anonymous.get("/project/-bad-/").status_code == 404
    assert anonymous.get("/project/webdemo/9.9/").status_code == 404


def test_pages_need_signing_in(anonymous: LocalBrowser) -> None:
    for path in ("/manage/account/", "/manage/project/webdemo/", "/manage/account/publishing/"):
        moved = anonymous.get(path, follow_redirects=False)
        assert moved.status_code == 303
        assert moved.headers["location"].startswith("/account/login/?next=")
    anonymous.get("/account/login/")
    refused = anonymous.post("/manage/account/token/", {"description": "x", "expiry": ""})
    assert refused.status_code == 401


# -- signing in --------------------------------------------------------------------------------


def test_sign_in_wrong_password_and_refusals(anonymous: LocalBrowser) -> None:
    form = anonymous.get("/account/login/")
    assert form.status_code == 200
    wrong = anonymous.post("/account/login/", {"username": "alice", "password": "nope"})
    assert wrong.status_code == 403
    assert "wrong" in wrong.text
    assert anonymous.post("/account/login/", {"username": "alice"}).status_code == 400
    long_name = anonymous.post("/account/login/", {"username": "a" * 101, "password": "x"})
    assert long_name.status_code == 400
    extra = anonymous.post("/account/login/", {"username": "a", "password": "b", "more": "c"})
    assert extra.status_code == 400
    no_csrf = anonymous.post(
        "/account/login/", {"username": "alice", "password": PASSWORD}, csrf=False
    )
    assert no_csrf.status_code == 403
    other_site = anonymous.post(
        "/account/login/",
        {"username": "alice", "password": PASSWORD},
        headers={"Origin": "https://evil.example"},
    )
    assert other_site.status_code == 403
    not_a_form = anonymous.index.request(
        "POST",
        "/account/login/",
        client=anonymous.client,
        content=b"{}",
        headers={"Content-Type": "application/json"},
    )
    assert not_a_form.status_code == 415


def test_a_forged_or_ended_session_is_no_session(site: Site) -> None:
    for secret in ("x" * 101, "not-a-session"):
        opened = LocalBrowser(site.index)
        try:
            opened.client.cookies.set("trustyard_session", secret)
            moved = opened.get("/manage/account/", follow_redirects=False)
            assert moved.status_code == 303
        finally:
            opened.close()


def test_sign_in_then_out(site: Site) -> None:
    opened = LocalBrowser(site.index)
    try:
        opened.get("/account/login/?next=/project/webdemo/")
        answer = opened.post(
            "/account/login/?next=/project/webdemo/",
            {"username": "bob", "password": PASSWORD},
            follow_redirects=False,
        )
        assert answer.status_code == 303
        assert answer.headers["location"] == "/project/webdemo/"
        # signed in already: the form sends the browser on
        again = opened.get("/account/login/?next=//evil.example", follow_redirects=False)
        assert again.headers["location"] == "/manage/account/"
        opened.get("/manage/account/")
        out = opened.post("/account/logout/", follow_redirects=False)
        assert out.status_code == 303
        moved = opened.get("/manage/account/", follow_redirects=False)
        assert moved.status_code == 303
    finally:
        opened.close()


# -- account: tokens ---------------------------------------------------------------------------


def test_create_and_revoke_a_token(alice: LocalBrowser) -> None:
    created = alice.post(
        "/manage/account/token/",
        {"description": "ci", "scope": "webdemo", "expiry": ""},
    )
    assert created.status_code == 201
    secret = re.search(r"trustyard-[0-9a-f]{24}\.[A-Za-z0-9_-]+", created.text)
    assert secret is not None
    token_id = secret.group(0).removeprefix("trustyard-").split(".")[0]
    listed = alice.get("/manage/account/")
    assert token_id in listed.text
    revoked = alice.post(f"/manage/account/token/{token_id}/revoke/")
    assert revoked.status_code == 200
    wheel = build_wheel(alice.index.data.parent / "tok", "webdemo", "3.0")
    assert alice.index.upload(secret.group(0), wheel).status_code == 403


@pytest.mark.parametrize(
    "fields",
    [
        {"description": "", "expiry": ""},
        {"description": "x" * 101, "expiry": ""},
        {"description": "ok", "expiry": "1y"},
        {"description": "ok", "expiry": "", "scope": "not-mine"},
        {"description": "ok", "expiry": "", "other": "x"},
    ],
)
def test_token_form_refusals(alice: LocalBrowser, fields: dict[str, str]) -> None:
    answer = alice.post("/manage/account/token/", fields)
    assert answer.status_code in (400, 403, 404), answer.text


def test_revoke_someone_elses_token(alice: LocalBrowser, site: Site) -> None:
    token = site.index.create_token("carol")
    token_id = token.removeprefix("trustyard-").split(".")[0]
    answer = alice.post(f"/manage/account/token/{token_id}/revoke/")
    assert answer.status_code == 404


# -- project settings --------------------------------------------------------------------------


def test_manage_pages_for_the_owner(alice: LocalBrowser) -> None:
    for path in ("", "releases/", "history/", "collaboration/"):
        answer = alice.get(f"/manage/project/webdemo/{path}")
        assert answer.status_code == 200, path
    assert alice.get("/manage/project/-bad-/").status_code == 404
    assert alice.get("/manage/project/-bad-/releases/").status_code == 404
    assert alice.get("/manage/project/nothing-here/").status_code == 404


def test_strangers_see_no_settings(carol: LocalBrowser) -> None:
    for path in ("", "releases/", "history/", "collaboration/"):
        answer = carol.get(f"/manage/project/webdemo/{path}")
        assert answer.status_code == 403, path


def test_history_pages(alice: LocalBrowser) -> None:
    first = alice.get("/manage/project/webdemo/history/?limit=1")
    assert first.status_code == 200
    older = re.search(r'href="([^"]*before=[^"]*)"', first.text)
    assert older is not None
    assert alice.get(older.group(1).replace("&amp;", "&")).status_code == 200
    for query in ("limit=x", "limit=0", "limit=1&limit=2", "before=1&after=1"):
        answer = alice.get(f"/manage/project/webdemo/history/?{query}")
        assert answer.status_code == 400, query
    newer = alice.get(older.group(1).replace("&amp;", "&"))
    assert "after=" in newer.text


def test_yank_and_unyank(alice: LocalBrowser) -> None:
    yanked = alice.post("/manage/project/webdemo/release/1.0/yank/", {"reason": "broken"})
    assert yanked.status_code == 200
    assert "broken" in alice.index.get("/simple/webdemo/").text
    # yanking again changes the reason
    again = alice.post("/manage/project/webdemo/release/1.0/yank/", {"reason": "worse"})
    assert again.status_code == 200
    assert "worse" in alice.index.get("/simple/webdemo/").text
    long = alice.post("/manage/project/webdemo/release/1.0/yank/", {"reason": "x" * 501})
    assert long.status_code == 400
    assert alice.post("/manage/project/webdemo/release/1.0/unyank/").status_code == 200
    assert alice.post("/manage/project/webdemo/release/1.0/unyank/").status_code == 409
    assert alice.post("/manage/project/webdemo/release/7.7/yank/").status_code == 404


def test_publishers_through_the_settings(alice: LocalBrowser, site: Site) -> None:
    added = alice.post(
        "/manage/project/webdemo/publishers/",
        {
            "kind": "github",
            "repository": "octo/webdemo",
            "workflow": "release.yml",
            "environment": "",
            "issuer": site.issuer,
        },
    )
    assert added.status_code == 200
    generic = alice.post(
        "/manage/project/webdemo/publishers/",
        {"kind": "oidc", "issuer": site.issuer, "claims": "sub=runner\n\nrepo = x"},
    )
    assert generic.status_code == 200, generic.text
    with site.index.db.read() as session:
        listed = publishers.list_publishers(session, "webdemo")
    assert {view.kind for view in listed} == {"github", "oidc"}
    for view in listed:
        removed = alice.post(f"/manage/project/webdemo/publishers/{view.id}/remove/")
        assert removed.status_code == 200
    bad = [
        {"kind": "nope"},
        {"kind": "oidc", "issuer": site.issuer, "claims": "novalue"},
        {"kind": "github", "repository": "nope", "workflow": "r.yml", "issuer": site.issuer},
        {"kind": "github", "repository": "a/b", "workflow": "r.yml", "issuer": "https://x.test"},
    ]
    for fields in bad:
        answer = alice.post("/manage/project/webdemo/publishers/", fields)
        assert answer.status_code == 400, (fields, answer.text)


def test_collaborators(alice: LocalBrowser, site: Site) -> None:
    base = "/manage/project/webdemo/collaboration/"
    assert alice.post(base, {"username": "bob", "role": "maintainer"}).status_code == 200
    assert "bob" in alice.get(base).text  # invited, not yet a collaborator
    for bob in _signed_in(site, "bob"):
        assert bob.post("/manage/account/invitations/webdemo/accept/").status_code == 200
    assert alice.post(base, {"username": "", "role": "owner"}).status_code == 400
    assert alice.post(base, {"username": "x" * 101, "role": "owner"}).status_code == 400
    assert alice.post(base, {"username": "nobody-here", "role": "owner"}).status_code == 404
    assert alice.post(base, {"username": "carol", "role": "emperor"}).status_code == 400
    assert alice.post(base, {"username": "bob", "role": "owner"}).status_code == 409
    role = f"{base}bob/role/"
    assert alice.post(role, {"role": ""}).status_code == 400
    assert alice.post(role, {"role": "owner"}).status_code == 200
    assert alice.post(role, {"role": "maintainer"}).status_code == 200
    # the sole owner cannot step down
    assert alice.post(f"{base}alice/role/", {"role": "maintainer"}).status_code == 409
    preview = alice.get(f"{base}bob/remove/")
    assert preview.status_code == 200
    assert alice.post(f"{base}bob/remove/", {"junk": "remove"}).status_code == 400
    assert alice.post(f"{base}bob/remove/", {"token-x": "keep"}).status_code == 400
    removed = alice.post(f"{base}bob/remove/", follow_redirects=False)
    assert removed.status_code == 303
    assert "bob" not in alice.get(base).text.split("Add")[0]


# -- pending publishers ------------------------------------------------------------------------


def test_pending_publishers(carol: LocalBrowser, site: Site) -> None:
    base = "/manage/account/publishing/"
    assert carol.get(base).status_code == 200
    fields = {
        "project_name": "carols-future",
        "kind": "github",
        "repository": "carol/future",
        "workflow": "release.yml",
        "environment": "",
        "issuer": site.issuer,
    }
    assert carol.post(base, fields).status_code == 200
    again = carol.post(base, fields)
    assert again.status_code == 409
    assert carol.post(base, {**fields, "project_name": ""}).status_code == 400
    assert carol.post(base, {**fields, "project_name": "x" * 201}).status_code == 400
    assert carol.post(base, {**fields, "project_name": "webdemo"}).status_code == 409
    assert carol.post(base, {**fields, "project_name": "-bad-"}).status_code == 400
    with site.index.db.read() as session:
        (pending,) = publishers.pending_publishers_of(session, "carol")
    assert "carols-future" in carol.get(base).text
    removed = carol.post(f"{base}{pending.id}/remove/")
    assert removed.status_code == 200
    assert carol.post(f"{base}{pending.id}/remove/").status_code == 404


# -- admin pages -------------------------------------------------------------------------------


def test_admin_pages(root: LocalBrowser, carol: LocalBrowser, site: Site) -> None:
    for path in ("/admin/", "/admin/projects/", "/admin/issuers/", "/admin/journal/"):
        assert root.get(path).status_code == 200, path
        assert carol.get(path).status_code == 403, path
    assert root.get("/admin/project/webdemo/").status_code == 200
    assert root.get("/admin/project/nothing-here/").status_code == 404


def test_admin_actions(root: LocalBrowser, site: Site) -> None:
    site.index.create_user("dave")
    assert root.post("/admin/user/dave/disable/").status_code == 200
    assert root.post("/admin/user/dave/enable/").status_code == 200
    assert root.post("/admin/user/dave/revoke-tokens/").status_code == 200
    assert root.post("/admin/user/nobody-here/disable/").status_code == 404
    yank = "/admin/project/webdemo/release/2.0/yank/"
    assert root.post(yank, {"reason": "admin says"}).status_code == 200
    assert root.post("/admin/project/webdemo/release/2.0/unyank/").status_code == 200
    added = root.post(
        "/admin/issuers/add/", {"url": "https://issuer.example.com", "allow_private_address": ""}
    )
    assert added.status_code == 200
    removed = root.post("/admin/issuers/remove/", {"url": "https://issuer.example.com"})
    assert removed.status_code == 200
    wheel = build_wheel(site.tmp / "doomed", "webdemo", "0.1")
    assert site.index.upload(site.index.create_token("alice"), wheel).status_code == 200
    delete = f"/admin/project/webdemo/file/{wheel.name}/delete/"
    assert root.post(delete, {"confirm": "something else"}).status_code == 400
    assert root.post(delete, {"confirm": wheel.name}).status_code == 200
    assert wheel.name not in site.index.get("/simple/webdemo/").text


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"username=a&username=b", 400),  # a field twice
        (b"username=" + b"a" * 1001 + b"&password=x", 400),  # a field too long
        (b"username=%01&password=x", 400),  # a control character
        (b"username=%ff&password=x", 400),  # not UTF-8
        (b"username&&&=", 400),  # not a form
        (b"x=" + b"a" * 17000, 413),  # over the form limit
    ],
)
def test_malformed_sign_in_forms(anonymous: LocalBrowser, body: bytes, status: int) -> None:
    anonymous.get("/account/login/")
    answer = anonymous.index.request(
        "POST",
        "/account/login/",
        client=anonymous.client,
        content=body + b"&csrf_token=" + anonymous.csrf.encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == status, answer.text
