"""Project settings beyond publishers (releases, collaborators, audit log), pending publishers
and the admin pages: over HTTP for authorisation, CSRF and bad input, and in Chromium."""

from __future__ import annotations

import json

from playwright.sync_api import Page, expect

from tests.index.conftest import request
from tests.index.web.conftest import (
    PASSWORD,
    HttpSession,
    Screenshot,
    Site,
    accept_invitation,
    sign_in,
    signed_in,
    submit,
)


def _yanked(site: Site, name: str, version: str) -> tuple[bool, str]:
    answer = request(site.index, "GET", f"/pypi/{name}/{version}/json")
    assert answer.status == 200, answer.text
    info = json.loads(answer.body)["info"]
    return info["yanked"], info["yanked_reason"] or ""


def _row(html: str, marker: str) -> str:
    assert marker in html, f"{marker} is not on the page"
    return html.split(marker, 1)[1].split("</tr>", 1)[0]


# -- releases: yank and unyank -----------------------------------------------------------------


def test_owner_yanks_and_unyanks_a_release_with_a_reason(site: Site) -> None:
    alice = signed_in(site.index, "alice")
    page = alice.get("/manage/project/webdemo/releases/")
    assert page.status == 200
    assert 'data-version="2.0"' in page.text
    reason = "<script>alert(1)</script> bad wheel"
    yank = alice.post("/manage/project/webdemo/release/2.0/yank/", {"reason": reason})
    assert (yank.status, yank.headers["location"]) == (303, "/manage/project/webdemo/releases/")
    assert _yanked(site, "webdemo", "2.0") == (True, reason)
    listed = alice.get("/manage/project/webdemo/releases/").text
    assert "<script>alert(1)" not in listed
    assert "&lt;script&gt;alert(1)&lt;/script&gt; bad wheel" in _row(listed, 'data-version="2.0"')
    public = request(site.index, "GET", "/project/webdemo/2.0/").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; bad wheel" in public
    assert alice.post("/manage/project/webdemo/release/2.0/unyank/", {}).status == 303
    assert _yanked(site, "webdemo", "2.0") == (False, "")
    # Unyanking what is not yanked is a conflict, and changes nothing.
    assert alice.post("/manage/project/webdemo/release/2.0/unyank/", {}).status == 409
    history = alice.get("/manage/project/webdemo/history/").text
    assert "yank release (&lt;script&gt;alert(1)&lt;/script&gt; bad wheel)" in history
    assert "unyank release" in _row(history, "data-serial=")  # newest first
    assert '<td class="actor">alice</td>' in _row(history, "data-serial=")


def test_yank_forms_refuse_bad_input_forgeries_and_strangers(site: Site) -> None:
    alice = signed_in(site.index, "alice")
    path = "/manage/project/webdemo/release/2.0/yank/"
    assert alice.post(path, {"reason": "x" * 501}).status == 400
    assert alice.post(path, {"reason": "x", "yanked": "1"}).status == 400
    assert alice.post("/manage/project/webdemo/release/2.0/unyank/", {"reason": "x"}).status == 400
    assert alice.post(path, {"reason": "no token"}, csrf=False).status == 403
    assert (
        alice.post(path, {"reason": "x"}, headers={"Origin": "https://evil.example"}).status == 403
    )
    assert alice.post("/manage/project/webdemo/release/9.9/yank/", {}).status == 404
    assert alice.post("/manage/project/no-such/release/1.0/yank/", {}).status == 404
    assert alice.post("/manage/project/-bad-/release/1.0/yank/", {}).status == 404
    bob = signed_in(site.index, "bob")
    assert bob.get("/manage/project/webdemo/releases/").status == 403
    assert bob.post(path, {"reason": "sabotage"}).status == 403
    assert bob.post("/manage/project/webdemo/release/1.0/unyank/", {}).status == 403
    signed_out = HttpSession(site.index)
    signed_out.get("/account/login/")
    assert signed_out.post(path, {"reason": "x"}).status == 401
    moved = request(site.index, "GET", "/manage/project/webdemo/releases/")
    assert moved.status == 303
    assert _yanked(site, "webdemo", "2.0") == (False, "")
    assert _yanked(site, "webdemo", "1.0") == (True, "broken <b>build</b>")


# -- the audit log -----------------------------------------------------------------------------


def test_audit_log_shows_uploads_and_publisher_changes_to_collaborators_only(site: Site) -> None:
    added = site.index.cli(
        "publisher", "add", "hostile", "github", "--repository", "alice/h", "--workflow", "r.yml"
    ).stdout.strip()
    site.index.cli("publisher", "remove", "hostile", added)
    alice = signed_in(site.index, "alice")
    page = alice.get("/manage/project/hostile/history/")
    assert page.status == 200
    text = page.text
    assert f"remove trusted publisher {added}" in text
    assert f"add trusted publisher {added}" in text
    assert "hostile-0.1-py3-none-any.whl" in text  # the upload, with its file
    # Newest first: the removal precedes the addition.
    assert text.index(f"remove trusted publisher {added}") < text.index(
        f"add trusted publisher {added}"
    )
    # Only this project's entries: nothing about webdemo or bobs-thing.
    assert "webdemo-" not in text
    assert "bobs_thing" not in text
    assert "bobs-thing" not in text
    assert signed_in(site.index, "bob").get("/manage/project/hostile/history/").status == 403
    assert request(site.index, "GET", "/manage/project/hostile/history/").status == 303
    assert alice.get("/manage/project/no-such/history/").status == 404


# -- collaborators -----------------------------------------------------------------------------


def test_collaborators_roles_are_enforced(site: Site) -> None:
    path = "/manage/project/hostile/collaboration/"
    alice = signed_in(site.index, "alice")
    page = alice.get(path)
    assert page.status == 200
    assert '<td class="role">owner</td>' in _row(page.text, 'data-username="alice"')
    assert alice.post(path, {"username": "bob", "role": "maintainer"}).status == 303
    assert alice.post(path, {"username": "bob", "role": "owner"}).status == 409  # invited
    accept_invitation(site.index, "bob", "hostile")
    assert alice.post(path, {"username": "bob", "role": "owner"}).status == 409  # has a role
    assert alice.post(path, {"username": "nobody", "role": "maintainer"}).status == 404
    assert alice.post(path, {"username": "carol", "role": "admin"}).status == 400
    assert alice.post(path, {"username": "", "role": "maintainer"}).status == 400
    assert alice.post(path, {"username": "carol", "role": "owner", "x": "1"}).status == 400
    assert alice.post(path, {"username": "carol", "role": "owner"}, csrf=False).status == 403

    # bob, a maintainer, sees the settings read-only and changes nothing (PyPI's roles).
    bob = signed_in(site.index, "bob")
    shown = bob.get(path)
    assert shown.status == 200
    assert 'id="add-collaborator"' not in shown.text  # no form offered to a maintainer
    assert bob.post(path, {"username": "carol", "role": "owner"}).status == 403
    assert bob.post(path + "alice/remove/", {}).status == 403
    assert bob.post(path, {"username": "carol", "role": "maintainer"}).status == 403
    assert alice.post(path, {"username": "carol", "role": "maintainer"}).status == 303
    accept_invitation(site.index, "carol", "hostile")
    assert bob.post(path + "carol/remove/", {}).status == 403
    assert alice.post(path + "carol/remove/", {}).status == 303
    assert alice.post(path + "carol/remove/", {}).status == 404  # no longer a collaborator
    # Yanks are the owners' too; the log names who did what.
    assert bob.post("/manage/project/hostile/release/0.1/yank/", {"reason": "r"}).status == 403
    assert alice.post("/manage/project/hostile/release/0.1/yank/", {"reason": "r"}).status == 303
    assert alice.post("/manage/project/hostile/release/0.1/unyank/", {}).status == 303
    history = alice.get("/manage/project/hostile/history/").text
    assert "invite maintainer bob" in history
    assert "accepted maintainer bob" in history
    assert "accepted maintainer carol" in history
    assert "remove maintainer carol" in history

    # The last owner cannot leave; with a second owner, she can.
    assert alice.post(path + "alice/remove/", {}).status == 409
    assert alice.post(path, {"username": "carol", "role": "owner"}).status == 303
    accept_invitation(site.index, "carol", "hostile")
    carol = signed_in(site.index, "carol")
    assert carol.post(path + "alice/remove/", {}).status == 303
    assert alice.get(path).status == 403  # alice is a stranger now
    assert carol.post(path + "carol/remove/", {}).status == 409  # carol is the last owner
    assert carol.post(path + "bob/remove/", {}).status == 303
    assert bob.get(path).status == 403
    roles = carol.get(path).text
    assert roles.count("data-username=") == 1


def test_strangers_cannot_change_collaborators(site: Site) -> None:
    alice = signed_in(site.index, "alice")
    path = "/manage/project/bobs-thing/collaboration/"
    assert alice.get(path).status == 403
    assert alice.post(path, {"username": "alice", "role": "owner"}).status == 403
    assert alice.post(path + "bob/remove/", {}).status == 403
    assert (
        alice.post(
            "/manage/project/no-such/collaboration/", {"username": "alice", "role": "maintainer"}
        ).status
        == 404
    )
    signed_out = HttpSession(site.index)
    signed_out.get("/account/login/")
    assert signed_out.post(path, {"username": "alice", "role": "owner"}).status == 401
    bob = signed_in(site.index, "bob")
    assert bob.get(path).text.count("data-username=") == 1


# -- pending publishers ------------------------------------------------------------------------


def test_pending_publishers_for_projects_not_yet_created(site: Site) -> None:
    path = "/manage/account/publishing/"
    alice = signed_in(site.index, "alice")
    assert alice.get(path).status == 200
    github = {
        "kind": "github",
        "project_name": "future-thing",
        "repository": "alice/future",
        "workflow": "release.yml",
    }
    assert alice.post(path, github).status == 303
    page = alice.get(path).text
    row = _row(page, "data-publisher-id=")
    assert "future-thing" in row
    assert "alice/future" in row
    listed = site.index.cli("publisher", "list", "future-thing").stdout
    assert "alice/future" in listed
    publisher_id = page.split('data-publisher-id="', 1)[1].split('"', 1)[0]

    assert alice.post(path, {**github, "project_name": "webdemo"}).status == 409  # exists
    assert alice.post(path, {**github, "project_name": "-bad-"}).status == 400
    assert alice.post(path, {**github, "project_name": ""}).status == 400
    assert alice.post(path, {**github, "repository": "no-slash"}).status == 400
    assert alice.post(path, {**github, "kind": "svn"}).status == 400
    assert alice.post(path, {**github, "email": "a@b.c"}).status == 400
    assert alice.post(path, github, csrf=False).status == 403

    # Another user neither sees nor removes alice's pending publisher.
    bob = signed_in(site.index, "bob")
    assert "alice/future" not in bob.get(path).text
    assert bob.post(f"{path}{publisher_id}/remove/", {}).status == 404
    assert alice.post(f"{path}{publisher_id}/remove/", {}, csrf=False).status == 403
    assert alice.post(f"{path}{publisher_id}/remove/", {}).status == 303
    assert "data-publisher-id=" not in alice.get(path).text
    assert alice.post(f"{path}{publisher_id}/remove/", {}).status == 404
    assert request(site.index, "GET", path).status == 303


# -- admin -------------------------------------------------------------------------------------


def test_admin_pages_need_the_admin_flag(site: Site) -> None:
    site.index.cli(
        "admin", "user", "create", "root", "--password-stdin", "--admin", stdin=PASSWORD + "\n"
    )
    site.index.cli(
        "publisher", "add", "bobs-thing", "github", "--repository", "bob/t", "--workflow", "r.yml"
    )
    root = signed_in(site.index, "root")
    users = root.get("/admin/")
    assert users.status == 200
    assert 'href="/admin/"' in users.text  # the header links admins to the admin pages
    for name in ("alice", "bob", "carol", "root"):
        assert f'data-username="{name}"' in users.text
    assert '<td class="admin">admin</td>' in _row(users.text, 'data-username="root"')
    assert '<td class="admin"></td>' in _row(users.text, 'data-username="alice"')
    projects = root.get("/admin/projects/").text
    for name in ("webdemo", "hostile", "bobs-thing"):
        assert f'data-project="{name}"' in projects
    assert '<td class="owners">bob</td>' in _row(projects, 'data-project="bobs-thing"')
    issuers = root.get("/admin/issuers/").text
    assert "https://token.actions.githubusercontent.com" in issuers

    alice = signed_in(site.index, "alice")
    assert 'href="/admin/"' not in alice.get("/manage/account/").text
    for path in ("/admin/", "/admin/projects/", "/admin/issuers/"):
        assert alice.get(path).status == 403
        moved = request(site.index, "GET", path)
        assert (moved.status, moved.headers["location"]) == (303, "/account/login/?next=" + path)
    site.index.cli("admin", "user", "grant-admin", "alice")
    assert alice.get("/admin/").status == 200  # the flag is read on every request
    site.index.cli("admin", "user", "revoke-admin", "alice")
    assert alice.get("/admin/").status == 403
    assert site.index.cli("admin", "user", "grant-admin", "nobody", check=False).returncode != 0


# -- in the browser ----------------------------------------------------------------------------


def test_yank_and_unyank_in_the_browser(page: Page, site: Site, screenshot: Screenshot) -> None:
    sign_in(page, "alice")
    page.goto("/manage/project/webdemo/")
    tabs = page.get_by_role("navigation", name="Project settings")
    tabs.get_by_role("link", name="Releases").click()
    expect(page).to_have_url("/manage/project/webdemo/releases/")
    row = page.locator('tr[data-version="1.0"]')
    expect(row.locator(".status")).to_contain_text("yanked: broken <b>build</b>")
    submit(row.get_by_role("button", name="Unyank webdemo 1.0"))
    expect(page).to_have_url("/manage/project/webdemo/releases/")
    expect(row.locator(".status")).to_have_text("available")
    assert _yanked(site, "webdemo", "1.0") == (False, "")
    row.get_by_label("Reason for yanking 1.0").fill("superseded by 2.0")
    submit(row.get_by_role("button", name="Yank webdemo 1.0"))
    expect(row.locator(".status")).to_have_text("yanked: superseded by 2.0")
    screenshot(page, "manage-releases")
    assert _yanked(site, "webdemo", "1.0") == (True, "superseded by 2.0")
    page.goto("/project/webdemo/1.0/")
    expect(page.get_by_role("note")).to_contain_text("Reason: superseded by 2.0")
    page.goto("/manage/project/webdemo/history/")
    expect(page.locator("table.history tbody tr .action").first).to_have_text(
        "yank release (superseded by 2.0)"
    )
    screenshot(page, "manage-history")


def test_collaborators_in_the_browser(page: Page, screenshot: Screenshot, site: Site) -> None:
    sign_in(page, "alice")
    page.goto("/manage/project/webdemo/collaboration/")
    page.get_by_label("Username").fill("carol")
    page.get_by_label("Role").select_option("maintainer")
    submit(page.get_by_role("button", name="Send invitation"))
    expect(page).to_have_url("/manage/project/webdemo/collaboration/")
    accept_invitation(site.index, "carol", "webdemo")
    page.reload()
    carol = page.locator('table.collaborators tr[data-username="carol"]')
    expect(carol.locator(".role")).to_have_text("maintainer")
    screenshot(page, "manage-collaborators")
    # The last owner is offered no way out: the page says why.
    alice = page.locator('tr[data-username="alice"]')
    expect(alice.get_by_role("link", name="Leave webdemo")).to_have_count(0)
    expect(alice.locator(".note")).to_have_text("the last owner")
    # Removing asks first, listing what carol set up for the project (nothing here).
    submit(carol.get_by_role("link", name="Remove carol"))
    expect(page.get_by_role("heading", name="Remove carol")).to_be_visible()
    expect(page.get_by_role("main")).to_contain_text("carol added no trusted publishers")
    submit(page.get_by_role("main").get_by_role("button", name="Remove carol"))
    expect(page).to_have_url("/manage/project/webdemo/collaboration/")
    expect(carol).to_have_count(0)
