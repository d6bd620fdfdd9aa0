"""Changing a collaborator's role in place, PyPI's rules: only owners change roles, the last
owner can be neither demoted nor removed; over HTTP (every refusal leaves the roles and the
journal as they were) and in Chromium."""

from __future__ import annotations

from tests.index.conftest import snapshot
from tests.index.web.conftest import HttpSession, Site, signed_in
from tests.index.web.test_browser import sign_in
from tests.index.web.webdriver import Browser

PATH = "/manage/project/bobs-thing/collaboration/"


def _roles(http: HttpSession) -> dict[str, str]:
    html = http.get(PATH).text
    rows = html.split('<tr data-username="')[1:]
    return {row.split('"', 1)[0]: row.split('<td class="role">')[1].split("<")[0] for row in rows}


def test_owners_promote_and_demote_and_the_last_owner_stays(site: Site) -> None:
    bob = signed_in(site.index, "bob")
    assert bob.post(PATH, {"username": "alice", "role": "maintainer"}).status == 303
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
    assert "the role must be one of owner, maintainer, not &#39;admin&#39;" in bad.text
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


def test_roles_in_the_browser(fresh_browser: Browser, site: Site) -> None:
    browser = fresh_browser
    sign_in(browser, site, "alice")
    browser.get(site.index.url + "/manage/project/webdemo/collaboration/")
    browser.find("#collab-username").type("carol")
    browser.find("#collab-role").select("maintainer")
    browser.find("#add-collaborator button").click_and_load()
    carol = 'tr[data-username="carol"]'
    assert browser.text(f"{carol} .role") == "maintainer"
    assert browser.text(f"{carol} form.change-role button") == "Make owner"
    browser.find(f"{carol} form.change-role button").click_and_load()
    assert browser.url == site.index.url + "/manage/project/webdemo/collaboration/"
    assert browser.text(f"{carol} .role") == "owner"
    browser.screenshot("manage-roles")
    alice = 'tr[data-username="alice"]'
    browser.find(f"{alice} form.change-role button").click_and_load()  # alice steps down
    assert browser.text(f"{alice} .role") == "maintainer"
    assert browser.find_all("form.change-role") == []  # a maintainer changes no roles
    # carol, the last owner, cannot demote herself: the page says why.
    browser.find("header nav button").click_and_load()
    sign_in(browser, site, "carol")
    browser.get(site.index.url + "/manage/project/webdemo/collaboration/")
    browser.find(f"{carol} form.change-role button").click_and_load()
    assert "carol is the last owner of webdemo" in browser.text(".problem")
    browser.get(site.index.url + "/manage/project/webdemo/history/")
    assert (
        browser.text("table.history tbody tr .action")
        == "change role of alice from owner to maintainer"
    )
