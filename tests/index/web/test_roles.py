"""Changing a collaborator's role in place, PyPI's rules: only owners change roles, the last
owner can be neither demoted nor removed; over HTTP (every refusal leaves the roles and the
journal as they were) and in Chromium."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.index.conftest import snapshot
from tests.index.web.conftest import (
    HttpSession,
    Screenshot,
    Site,
    accept_invitation,
    sign_in,
    signed_in,
    submit,
)

PATH = "/manage/project/bobs-thing/collaboration/"


def _roles(http: HttpSession) -> dict[str, str]:
    html = http.get(PATH).text
    rows = html.split('<tr data-username="')[1:]
    return {row.split('"', 1)[0]: row.split('<td class="role">')[1].split("<")[0] for row in rows}


def test_owners_promote_and_demote_and_the_last_owner_stays(site: Site) -> None:
    bob = signed_in(site.index, "bob")
    assert bob.post(PATH, {"username": "alice", "role": "maintainer"}).status == 303
    accept_invitation(site.index, "alice", "bobs-thing")
    page = bob.get(PATH).text
    assert f'action="{PATH}alice/role/"' in page  # owners see the role forms
    alice = signed_in(site.index, "alice")
    assert "/role/" not in alice.get(PATH).text  # maintainers do not

    promoted = bob.post(PATH + "alice/role/", {"role": "owner"})
    assert (promoted.status, promoted.headers["location"]) == (303, PATH)
    assert _roles(bob) == {"alice": "owner", "bob": "owner"}
    # Two owners: bob steps down; then alice is the last owner and stays one.
    assert bob.post(PATH + "bob/role/", {"role": "maintainer"}).status == 303
    assert _roles(alice) == {"alice": "owner", "bob": "maintainer"}
    last = alice.post(PATH + "alice/role/", {"role": "maintainer"})
    assert last.status == 409
    assert "alice is the last owner of bobs-thing: make another owner first" in last.text
    assert alice.post(PATH + "alice/remove/", {}).status == 409
    # bob, a maintainer now, changes no role, not even his own back.
    assert bob.post(PATH + "bob/role/", {"role": "owner"}).status == 403
    assert bob.post(PATH + "alice/role/", {"role": "maintainer"}).status == 403
    assert alice.post(PATH + "bob/role/", {"role": "owner"}).status == 303
    assert _roles(alice) == {"alice": "owner", "bob": "owner"}
    history = alice.get("/manage/project/bobs-thing/history/").text
    for action in (
        "change role of bob from maintainer to owner",
        "change role of bob from owner to maintainer",
        "change role of alice from maintainer to owner",
    ):
        assert action in history
    assert history.index("from maintainer to owner") < history.index("from owner to maintainer")


def test_role_changes_refuse_forgeries_strangers_and_bad_input(site: Site) -> None:
    bob = signed_in(site.index, "bob")
    carol = signed_in(site.index, "carol")
    signed_out = HttpSession(site.index)
    signed_out.get("/account/login/")
    before = snapshot(site.index)
    role = PATH + "bob/role/"
    assert bob.post(role, {"role": "maintainer"}, csrf=False).status == 403
    forged = bob.post(role, [("role", "maintainer"), ("csrf_token", "y" * 43)], csrf=False)
    assert (forged.status, "CSRF token is missing or wrong" in forged.text) == (403, True)
    assert bob.post(role, {"role": "maintainer"}, headers={"Origin": "https://evil"}).status == 403
    assert carol.post(role, {"role": "maintainer"}).status == 403  # a stranger
    assert signed_out.post(role, {"role": "maintainer"}).status == 401
    bad = bob.post(PATH + "alice/role/", {"role": "admin"})
    assert bad.status == 400
    assert "the role must be one of owner, maintainer, reader, not &#39;admin&#39;" in bad.text
    assert bob.post(PATH + "alice/role/", {"role": ""}).status == 400
    assert bob.post(PATH + "alice/role/", {}).status == 400
    assert bob.post(PATH + "alice/role/", {"role": "owner", "username": "carol"}).status == 400
    assert bob.post(PATH + "alice/role/", {"role": "o" * 1001}).status == 400
    assert bob.post(PATH + "alice/role/", [("role", "owner"), ("role", "owner")]).status == 400
    assert bob.post(PATH + "alice/role/", {}, body=b"role=" + b"o" * 17000).status == 413
    same = bob.post(PATH + "bob/role/", {"role": "owner"})
    assert (same.status, "bob is already an owner of bobs-thing" in same.text) == (409, True)
    assert bob.post(PATH + "carol/role/", {"role": "owner"}).status == 404  # no role here
    assert bob.post(PATH + "nobody/role/", {"role": "owner"}).status == 404
    assert bob.post(PATH + "n" * 3000 + "/role/", {"role": "owner"}).status == 404
    assert (
        bob.post("/manage/project/no-such/collaboration/bob/role/", {"role": "owner"}).status == 404
    )
    assert bob.post("/manage/project/-x-/collaboration/bob/role/", {"role": "owner"}).status == 404
    # alice's project, where bob has no role at all.
    assert (
        bob.post("/manage/project/webdemo/collaboration/alice/role/", {"role": "maintainer"}).status
        == 403
    )
    assert snapshot(site.index) == before


def test_roles_in_the_browser(page: Page, screenshot: Screenshot, site: Site) -> None:
    sign_in(page, "alice")
    page.goto("/manage/project/webdemo/collaboration/")
    page.get_by_label("Username").fill("carol")
    page.get_by_label("Role").select_option("maintainer")
    submit(page.get_by_role("button", name="Send invitation"))
    accept_invitation(site.index, "carol", "webdemo")
    page.reload()
    carol = page.locator('table.collaborators tr[data-username="carol"]')
    expect(carol.locator(".role")).to_have_text("maintainer")
    expect(carol.locator("form.change-role button")).to_have_text("Make owner")
    submit(carol.get_by_role("button", name="Make carol an owner"))
    expect(page).to_have_url("/manage/project/webdemo/collaboration/")
    expect(carol.locator(".role")).to_have_text("owner")
    screenshot(page, "manage-roles")
    alice = page.locator('tr[data-username="alice"]')
    submit(alice.get_by_role("button", name="Make alice a maintainer"))  # alice steps down
    expect(alice.locator(".role")).to_have_text("maintainer")
    expect(page.locator("form.change-role")).to_have_count(0)  # a maintainer changes no roles
    # carol, the last owner, cannot demote herself: the page says why.
    account = page.get_by_role("navigation", name="Account")
    submit(account.get_by_role("button", name="Sign out"))
    sign_in(page, "carol")
    page.goto("/manage/project/webdemo/collaboration/")
    submit(carol.get_by_role("button", name="Make carol a maintainer"))
    expect(page.get_by_role("alert")).to_contain_text("carol is the last owner of webdemo")
    page.goto("/manage/project/webdemo/history/")
    expect(page.locator("table.history tbody tr .action").first).to_have_text(
        "change role of alice from owner to maintainer"
    )


def test_removing_a_collaborator_in_the_browser(page: Page, screenshot: Screenshot) -> None:
    """Issue 14, finding 3: the owner sees what the collaborator set up, ticked for removal,
    and one confirmation takes it all away with the role."""
    sign_in(page, "alice")  # an owner of bobs-thing since the first test of this module
    page.goto("/manage/project/bobs-thing/")
    github = page.get_by_role("form", name="GitHub Actions", exact=True)
    github.get_by_label("Repository (OWNER/REPO)").fill("alice/side-door")
    github.get_by_label("Workflow file name").fill("release.yml")
    submit(github.get_by_role("button", name="Add GitHub publisher"))
    expect(page.locator("table.publishers tbody tr")).to_contain_text(["alice/side-door"])
    account = page.get_by_role("navigation", name="Account")
    submit(account.get_by_role("button", name="Sign out"))
    sign_in(page, "bob")
    page.goto("/manage/project/bobs-thing/collaboration/")
    submit(page.get_by_role("link", name="Remove alice"))
    box = page.get_by_role("checkbox", name="alice/side-door")
    expect(box).to_be_checked()
    screenshot(page, "manage-remove-collaborator")
    submit(page.get_by_role("main").get_by_role("button", name="Remove alice"))
    expect(page.locator('tr[data-username="alice"]')).to_have_count(0)
    page.goto("/manage/project/bobs-thing/")
    expect(page.get_by_role("main")).to_contain_text("No trusted publishers")
    page.goto("/manage/project/bobs-thing/history/")
    actions = page.locator("table.history tbody tr .action")
    expect(actions.first).to_have_text("remove owner alice")
    expect(actions.nth(1)).to_contain_text("remove trusted publisher")
