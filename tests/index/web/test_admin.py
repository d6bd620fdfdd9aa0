"""The admin actions over HTTP: disable/enable a user, revoke a user's tokens, yank/unyank and
delete a file of any project, the whole journal a page at a time; every refusal precise, and
nothing changed by a refused form (the catalogue and the file store compared before and after).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import pytest
from playwright.sync_api import Page, expect

from tests.dists.builders import build_wheel
from tests.index.conftest import request, snapshot, upload_file
from tests.index.web.conftest import (
    PASSWORD,
    HttpSession,
    Screenshot,
    Site,
    sign_in,
    signed_in,
    submit,
)

OWN = "webdemo-2.0-py3-none-any.whl"  # alice's file
BOBS = "bobs_thing-1.0-py3-none-any.whl"


@pytest.fixture(scope="module")
def root(site: Site) -> HttpSession:
    site.index.cli(
        "admin", "user", "create", "root", "--password-stdin", "--admin", stdin=PASSWORD + "\n"
    )
    return signed_in(site.index, "root")


def _row(html: str, marker: str) -> str:
    assert marker in html, f"{marker} is not on the page"
    return html.split(marker, 1)[1].split("</tr>", 1)[0]


def _journal(site: Site, http: HttpSession, limit: int = 5) -> list[tuple[str, str]]:
    """The newest entries of the whole journal as (actor, action)."""
    html = http.get(f"/admin/journal/?limit={limit}").text
    return re.findall(
        r'<td class="actor">([^<]*)</td>\s*<th scope="row" class="action">([^<]*)<', html
    )


def _unchanged(site: Site) -> Callable[[], None]:
    """A check that the catalogue and the stored files are as they are now."""
    before = snapshot(site.index)

    def check() -> None:
        assert snapshot(site.index) == before

    return check


# -- users -------------------------------------------------------------------------------------


def test_a_disabled_user_cannot_sign_in_or_upload_until_enabled_again(
    site: Site, root: HttpSession, tmp_path: Path
) -> None:
    token = site.index.create_token("carol")
    carol = signed_in(site.index, "carol")
    users = root.get("/admin/").text
    assert '<td class="status">active</td>' in _row(users, 'data-username="carol"')
    assert root.post("/admin/user/carol/disable/", {}).status == 303
    users = root.get("/admin/").text
    assert '<td class="status">disabled</td>' in _row(users, 'data-username="carol"')
    assert "/admin/user/carol/enable/" in users
    assert _journal(site, root, 1) == [("root", "disable user carol")]
    # Her open session ended, she cannot sign in again, and her tokens are refused.
    assert carol.get("/manage/account/").status == 303
    again = HttpSession(site.index)
    again.get("/account/login/")
    assert again.post("/account/login/", {"username": "carol", "password": PASSWORD}).status == 403
    refused = upload_file(
        site.index, token, build_wheel(tmp_path, "carols", "1.0"), "carols", "1.0"
    )
    assert (refused.status, refused.reason) == (
        403,
        "Invalid API Token: the token's user is disabled",
    )
    assert root.post("/admin/user/carol/disable/", {}).status == 409  # already disabled
    assert root.post("/admin/user/carol/enable/", {}).status == 303
    assert _journal(site, root, 1) == [("root", "enable user carol")]
    assert signed_in(site.index, "carol").get("/manage/account/").status == 200
    accepted = upload_file(
        site.index, token, build_wheel(tmp_path / "2", "carols", "1.0"), "carols", "1.0"
    )
    assert accepted.status == 200, accepted.reason
    assert root.post("/admin/user/carol/enable/", {}).status == 409  # already enabled


def test_revoking_every_token_of_a_user(site: Site, root: HttpSession, tmp_path: Path) -> None:
    tokens = [
        site.index.create_token("bob"),
        site.index.create_token("bob", "--project", "bobs-thing"),
    ]
    users = root.get("/admin/").text
    live = int(_row(users, 'data-username="bob"').split('<td class="tokens">')[1].split("<")[0])
    assert live >= 2
    assert root.post("/admin/user/bob/revoke-tokens/", {}).status == 303
    assert _journal(site, root, 1) == [("root", f"revoke all {live} tokens of bob")]
    assert '<td class="tokens">0</td>' in _row(root.get("/admin/").text, 'data-username="bob"')
    for number, token in enumerate(tokens):
        wheel = build_wheel(tmp_path / str(number), "bobs-thing", "9.0")
        refused = upload_file(site.index, token, wheel, "bobs-thing", "9.0")
        assert (refused.status, refused.reason) == (
            403,
            "Invalid API Token: token has been revoked",
        )
    bob = signed_in(site.index, "bob")
    assert bob.get("/manage/account/").text.count('<td class="status">revoked</td>') >= 2


def test_user_actions_refuse_forgeries_strangers_and_bad_input(
    site: Site, root: HttpSession
) -> None:
    alice = signed_in(site.index, "alice")
    signed_out = HttpSession(site.index)
    signed_out.get("/account/login/")
    unchanged = _unchanged(site)
    for action in ("disable", "enable", "revoke-tokens"):
        path = f"/admin/user/bob/{action}/"
        assert root.post(path, {}, csrf=False).status == 403
        wrong = root.post(path, [("csrf_token", "x" * 43)], csrf=False)
        assert wrong.status == 403
        assert "CSRF token is missing or wrong" in wrong.text
        assert root.post(path, {}, headers={"Origin": "https://evil.example"}).status == 403
        assert root.post(path, {"extra": "1"}).status == 400
        assert root.post(path, {}, body=b"a=" + b"x" * 17000).status == 413
        assert root.post(path, {}, headers={"Content-Type": "text/plain"}).status == 415
        assert alice.post(path, {}).status == 403  # not an admin
        assert signed_out.post(path, {}).status == 401
        missing = root.post(f"/admin/user/nobody/{action}/", {})
        assert missing.status == 404
        assert "no user named &#39;nobody&#39;" in missing.text
        assert root.post(f"/admin/user/{'n' * 5000}/{action}/", {}).status == 404
    myself = root.post("/admin/user/root/disable/", {})
    assert (myself.status, "you cannot disable your own account" in myself.text) == (409, True)
    assert root.post("/admin/user/alice/enable/", {}).status == 409  # not disabled
    assert root.get("/admin/user/bob/disable/").status == 405
    unchanged()


# -- releases and files ------------------------------------------------------------------------


def test_admin_yanks_and_unyanks_any_projects_release(site: Site, root: HttpSession) -> None:
    bob = signed_in(site.index, "bob")
    page = root.get("/admin/project/bobs-thing/")
    assert page.status == 200
    assert f'data-filename="{BOBS}"' in page.text
    reason = "<b>malware</b> found"
    yank = root.post("/admin/project/bobs-thing/release/1.0/yank/", {"reason": reason})
    assert (yank.status, yank.headers["location"]) == (303, "/admin/project/bobs-thing/")
    info = json.loads(request(site.index, "GET", "/pypi/bobs-thing/1.0/json").body)["info"]
    assert (info["yanked"], info["yanked_reason"]) == (True, reason)
    assert "&lt;b&gt;malware&lt;/b&gt; found" in root.get("/admin/project/bobs-thing/").text
    # The owner sees who did it in the project's own audit log.
    history = bob.get("/manage/project/bobs-thing/history/").text
    assert '<td class="actor">root</td>' in _row(history, "data-serial=")
    assert "yank release (&lt;b&gt;malware&lt;/b&gt; found)" in _row(history, "data-serial=")
    assert root.post("/admin/project/bobs-thing/release/1.0/unyank/", {}).status == 303
    info = json.loads(request(site.index, "GET", "/pypi/bobs-thing/1.0/json").body)["info"]
    assert (info["yanked"], info["yanked_reason"]) == (False, None)
    assert _journal(site, root, 2) == [
        ("root", "unyank release"),
        ("root", "yank release (&lt;b&gt;malware&lt;/b&gt; found)"),
    ]


def test_release_actions_refuse_forgeries_strangers_and_bad_input(
    site: Site, root: HttpSession
) -> None:
    alice, bob = signed_in(site.index, "alice"), signed_in(site.index, "bob")
    unchanged = _unchanged(site)
    yank = "/admin/project/bobs-thing/release/1.0/yank/"
    assert root.post(yank, {"reason": "x"}, csrf=False).status == 403
    assert (
        root.post(yank, {"reason": "x"}, headers={"Origin": "https://evil.example"}).status == 403
    )
    too_long = root.post(yank, {"reason": "x" * 501})
    assert (too_long.status, "longer than 500 characters" in too_long.text) == (400, True)
    assert root.post(yank, {"reason": "x" * 1001}).status == 400  # over the field limit
    assert root.post(yank, {"reason": "bad\x00byte"}).status == 400
    assert root.post(yank, {"reason": "x", "version": "2.0"}).status == 400
    assert root.post("/admin/project/bobs-thing/release/1.0/unyank/", {}).status == 409
    assert root.post("/admin/project/bobs-thing/release/1.0/unyank/", {"reason": "x"}).status == 400
    assert root.post("/admin/project/bobs-thing/release/9.9/yank/", {}).status == 404
    assert root.post("/admin/project/no-such/release/1.0/yank/", {}).status == 404
    assert root.post("/admin/project/-bad-/release/1.0/yank/", {}).status == 404
    # bob owns the project, but is no admin: the admin pages are not his.
    for http in (alice, bob):
        assert http.post(yank, {"reason": "x"}).status == 403
        assert http.get("/admin/project/bobs-thing/").status == 403
    assert root.get("/admin/project/no-such/").status == 404
    unchanged()


def test_admin_deletes_a_file_and_its_name_stays_burnt(
    site: Site, root: HttpSession, tmp_path: Path
) -> None:
    token = site.index.create_token("alice")
    wheel = build_wheel(tmp_path, "webdemo", "4.0")
    assert upload_file(site.index, token, wheel, "webdemo", "4.0").status == 200
    files = json.loads(request(site.index, "GET", "/pypi/webdemo/4.0/json").body)["urls"]
    (url,) = [f["url"] for f in files]
    file_path = "/" + url.split("/", 3)[3]
    served = 302 if site.index.storage else 200  # S3: a redirect to a presigned URL
    assert request(site.index, "GET", file_path).status == served
    path = f"/admin/project/webdemo/file/{quote(wheel.name)}/delete/"
    alice = signed_in(site.index, "alice")
    unchanged = _unchanged(site)
    assert root.post(path, {}).status == 400  # not confirmed
    wrong = root.post(path, {"confirm": "webdemo-4.0.tar.gz"})
    assert (wrong.status, "to confirm its deletion" in wrong.text) == (400, True)
    assert root.post(path, {"confirm": wheel.name}, csrf=False).status == 403
    assert alice.post(path, {"confirm": wheel.name}).status == 403
    # A file of another project, through this project's path, is unknown here.
    other = root.post(f"/admin/project/webdemo/file/{BOBS}/delete/", {"confirm": BOBS})
    assert (other.status, "webdemo has no file named" in other.text) == (404, True)
    missing = "webdemo-9.9-py3-none-any.whl"
    assert (
        root.post(f"/admin/project/webdemo/file/{missing}/delete/", {"confirm": missing}).status
        == 404
    )
    unchanged()

    deleted = root.post(path, {"confirm": wheel.name})
    assert (deleted.status, deleted.headers["location"]) == (303, "/admin/project/webdemo/")
    assert request(site.index, "GET", file_path).status == 404
    assert f'data-filename="{wheel.name}"' not in root.get("/admin/project/webdemo/").text
    stored = site.index.stored_files()
    assert not [key for key in stored if wheel.name in key]  # the bytes are gone too
    assert _journal(site, root, 1) == [("root", f"remove file {wheel.name}")]
    again = upload_file(site.index, token, wheel, "webdemo", "4.0")
    assert again.status == 400
    assert again.reason.startswith("This filename was previously used by a file that has since")
    assert root.post(path, {"confirm": wheel.name}).status == 404  # gone already


# -- the whole journal, a page at a time -------------------------------------------------------


def _serials(html: str) -> list[int]:
    return [int(s) for s in re.findall(r'data-serial="(\d+)"', html)]


def _link(html: str, rel: str) -> str | None:
    found = re.search(rf'<a href="([^"]+)" rel="{rel}">', html)
    return found.group(1).replace("&amp;", "&") if found else None


def test_the_journal_pages_back_and_forth_without_gaps(site: Site, root: HttpSession) -> None:
    everything = _serials(root.get("/admin/journal/?limit=200").text)
    assert everything == sorted(everything, reverse=True)
    first = root.get("/admin/journal/?limit=7").text
    assert _serials(first) == everything[:7]
    assert _link(first, "prev") is None
    assert _link(first, "first") is None
    seen: list[int] = []
    path: str | None = "/admin/journal/?limit=7"
    pages = []
    while path is not None:
        html = root.get(path).text
        pages.append(path)
        seen += _serials(html)
        path = _link(html, "next")
    assert seen == everything[: len(seen)]
    assert seen[-1] == min(everything)
    # Back from the last page by the "newer" links reaches the newest again.
    html = root.get(pages[-1]).text
    assert _link(html, "first") == "/admin/journal/?limit=7"
    back = _link(html, "prev")
    assert back is not None
    assert _serials(root.get(back).text) == _serials(root.get(pages[-2]).text)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("before=abc", "before must be a whole number of at most 18 digits, not &#39;abc&#39;"),
        ("before=-1", "before must be a whole number"),
        ("after=1e3", "after must be a whole number"),
        ("before=" + "9" * 19, "before must be a whole number of at most 18 digits"),
        ("before=%EF%BC%91", "before must be a whole number"),  # a fullwidth digit
        ("before=5&after=1", "give before or after, not both"),
        ("before=5&before=6", "the parameter &#39;before&#39; is given more than once"),
        ("limit=0", "limit must be between 1 and 200, not 0"),
        ("limit=201", "limit must be between 1 and 200, not 201"),
        ("limit=9999", "limit must be a whole number of at most 3 digits"),
        ("limit=", "limit must be a whole number"),
    ],
)
def test_journal_pages_refuse_malformed_queries(
    site: Site, root: HttpSession, query: str, message: str
) -> None:
    for path in ("/admin/journal/", "/manage/project/webdemo/history/"):
        http = root if path.startswith("/admin/") else signed_in(site.index, "alice")
        answer = http.get(f"{path}?{query}")
        assert answer.status == 400, (path, query)
        assert message in answer.text


def test_the_journal_is_for_admins_only(site: Site, root: HttpSession) -> None:
    assert signed_in(site.index, "alice").get("/admin/journal/").status == 403
    moved = request(site.index, "GET", "/admin/journal/")
    assert (moved.status, moved.headers["location"]) == (
        303,
        "/account/login/?next=/admin/journal/",
    )
    assert root.get("/admin/journal/?before=1").status == 200  # past the end: an empty page
    assert "No entries on this page." in root.get("/admin/journal/?before=1").text


def _many_entries(site: Site) -> None:
    """A dozen more entries in webdemo's audit log (a maintainer invited, and revoked)."""
    alice = signed_in(site.index, "alice")
    for _ in range(6):
        alice.post(
            "/manage/project/webdemo/collaboration/", {"username": "bob", "role": "maintainer"}
        )
        alice.post("/manage/project/webdemo/invitations/bob/revoke/", {})


def test_project_audit_log_pages(site: Site) -> None:
    _many_entries(site)
    alice = signed_in(site.index, "alice")
    everything = _serials(alice.get("/manage/project/webdemo/history/?limit=200").text)
    assert len(everything) >= 14
    first = alice.get("/manage/project/webdemo/history/?limit=5").text
    assert _serials(first) == everything[:5]
    assert "5 a page" in first
    older = _link(first, "next")
    assert older == f"/manage/project/webdemo/history/?before={everything[4]}&limit=5"
    assert _serials(alice.get(older).text) == everything[5:10]
    default = alice.get("/manage/project/webdemo/history/").text
    assert _serials(default) == everything[:50]
    assert (
        signed_in(site.index, "bob").get("/manage/project/webdemo/history/?limit=5").status == 403
    )


# -- in the browser ----------------------------------------------------------------------------


def test_admin_actions_in_the_browser(
    page: Page, site: Site, root: HttpSession, tmp_path: Path, screenshot: Screenshot
) -> None:
    token = site.index.create_token("alice")
    wheel = build_wheel(tmp_path, "webdemo", "5.0")
    assert upload_file(site.index, token, wheel, "webdemo", "5.0").status == 200
    sign_in(page, "root")
    page.get_by_role("navigation", name="Account").get_by_role("link", name="Admin").click()
    expect(page).to_have_url("/admin/")
    carol = page.locator('tr[data-username="carol"]')
    expect(carol.locator(".status")).to_have_text("active")
    submit(carol.get_by_role("button", name="Disable carol"))
    expect(page).to_have_url("/admin/")
    expect(carol.locator(".status")).to_have_text("disabled")
    expect(page.locator('tr[data-username="root"] form.disable')).to_have_count(0)  # not oneself
    screenshot(page, "admin-users")
    submit(carol.get_by_role("button", name="Enable carol"))
    expect(carol.locator(".status")).to_have_text("active")

    tabs = page.get_by_role("navigation", name="Administration")
    tabs.get_by_role("link", name="Trusted issuers").click()
    expect(page).to_have_url("/admin/issuers/")
    expect(tabs.get_by_role("link", name="Trusted issuers")).to_have_attribute(
        "aria-current", "page"
    )
    screenshot(page, "admin-issuers")
    tabs.get_by_role("link", name="Projects").click()
    expect(page).to_have_url("/admin/projects/")
    screenshot(page, "admin-projects")
    page.locator('tr[data-project="webdemo"]').get_by_role("link", name="webdemo").click()
    expect(page).to_have_url("/admin/project/webdemo/")
    row = page.locator(f'tr[data-filename="{wheel.name}"]')
    row.get_by_label(f"Type {wheel.name} to confirm its deletion").fill(wheel.name)
    screenshot(page, "admin-project")
    submit(row.get_by_role("button", name=f"Delete {wheel.name}"))
    expect(page).to_have_url("/admin/project/webdemo/")
    expect(row).to_have_count(0)
    assert wheel.name not in request(site.index, "GET", "/simple/webdemo/").text

    page.goto("/admin/journal/?limit=3")
    actions = page.locator("table.history tbody tr .action")
    first = actions.all_inner_texts()
    assert first[0] == f"remove file {wheel.name}"
    assert len(first) == 3
    pager = page.get_by_role("navigation", name="Pages of the log")
    pager.get_by_role("link", name="Older entries").click()
    expect(page).to_have_url(re.compile(r"[?&]before=\d+"))
    expect(actions).to_have_count(3)
    expect(actions).not_to_have_text(first)
    screenshot(page, "admin-journal")
    pager.get_by_role("link", name="Newer entries").click()
    expect(actions).to_have_text(first)
