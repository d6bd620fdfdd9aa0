"""Organisations from the web (issue 20) through the real app in this process: a user asks
for one, an admin approves or declines it on the admin page (or creates one directly), an
owner renames it (the old address redirects) and deletes it; a team's page carries its
reader policies. Every refusal is a precise status and changes nothing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from tests.index.conftest import LocalBrowser, LocalIndex
from trustyard.index.db.models import JournalEntry
from trustyard.index.services import organisation_requests, organisations, reader_policies, teams
from trustyard.index.services.roles import HOST

MINE = "/manage/organisations/"
ADMIN = "/admin/organisations/"


@pytest.fixture
def browsers(local_index: LocalIndex) -> Iterator[dict[str, LocalBrowser]]:
    local_index.create_user("root", admin=True)
    for user in ("mia", "sam"):
        local_index.create_user(user)
    opened = {name: LocalBrowser(local_index) for name in ("root", "mia", "sam")}
    for name, browser in opened.items():
        browser.sign_in(name)
    yield opened
    for browser in opened.values():
        browser.close()


def _journal(index: LocalIndex) -> int:
    with index.db.read() as session:
        return int(session.scalar(select(func.count()).select_from(JournalEntry)) or 0)


def test_a_user_asks_an_admin_approves_the_owner_renames_and_deletes(
    local_index: LocalIndex, browsers: dict[str, LocalBrowser]
) -> None:
    root, mia = browsers["root"], browsers["mia"]
    assert 'href="/manage/organisations/"' in mia.get("/manage/account/").text
    form = mia.get(MINE)
    assert 'id="request-organisation"' in form.text
    asked = mia.post(
        MINE, {"name": "Acme", "display_name": "Acme Corp", "description": "our build tools"}
    )
    assert asked.status_code == 200
    assert "pending" in asked.text

    # Only an admin sees the requests.
    assert mia.get(ADMIN).status_code == 403
    listing = root.get(ADMIN)
    assert '<tr data-request="1">' in listing.text
    assert "our build tools" in listing.text
    assert mia.post(f"{ADMIN}requests/1/approve/").status_code == 403
    approved = root.post(f"{ADMIN}requests/1/approve/")
    assert approved.status_code == 200
    assert 'data-organisation="Acme"' in approved.text
    assert "approved" in mia.get(MINE).text
    org_page = local_index.get("/org/Acme/")
    assert "Acme Corp" in org_page.text

    manage = mia.get("/manage/organisation/Acme/")
    assert 'id="rename-organisation"' in manage.text
    renamed = mia.post("/manage/organisation/Acme/rename/", {"name": "Widgets"})
    assert renamed.status_code == 200
    assert str(renamed.url).endswith("/manage/organisation/Widgets/")
    moved = local_index.get("/org/acme/")
    assert (moved.status_code, moved.headers["location"]) == (301, "/org/Widgets/")
    # Nobody else may ask for the old name.
    refused = browsers["sam"].post(MINE, {"name": "acme"})
    browsers["sam"].get(MINE)
    assert (refused.status_code, "is taken (by Widgets" in refused.text) == (409, True)

    mia.get("/manage/organisation/Widgets/")
    wrong = mia.post("/manage/organisation/Widgets/delete/", {"confirm": "Acme"})
    assert (wrong.status_code, "Widgets, to delete it" in wrong.text) == (400, True)
    mia.get("/manage/organisation/Widgets/")
    gone = mia.post("/manage/organisation/Widgets/delete/", {"confirm": "widgets"})
    assert gone.status_code == 200
    assert str(gone.url).endswith(MINE)
    assert local_index.get("/org/Widgets/").status_code == 404


def test_an_admin_declines_with_a_reason_and_creates_directly(
    local_index: LocalIndex, browsers: dict[str, LocalBrowser]
) -> None:
    root, mia = browsers["root"], browsers["mia"]
    mia.post(MINE, {"name": "Spam"})
    root.get(ADMIN)
    root.post(f"{ADMIN}requests/1/decline/", {"reason": "not a real group"})
    assert "declined: not a real group" in mia.get(MINE).text
    again = root.post(f"{ADMIN}requests/1/approve/")
    assert (again.status_code, "was declined already" in again.text) == (409, True)
    root.get(ADMIN)
    made = root.post(f"{ADMIN}create/", {"name": "Direct", "owner": "sam"})
    assert 'data-organisation="Direct"' in made.text
    with local_index.db.read() as session:
        assert organisations.organisation(session, "direct").owners == ("sam",)


def test_request_refusals_are_precise_and_change_nothing(
    local_index: LocalIndex, browsers: dict[str, LocalBrowser]
) -> None:
    mia = browsers["mia"]
    mia.get(MINE)
    before = _journal(local_index)
    for fields, status, words in [
        ({"name": ""}, 400, "give the organisation"),
        ({"name": "-bad-"}, 400, "not a valid organisation name"),
        ({"name": "Fine", "description": "x" * 1001}, 400, "longer than 1000"),
        ({"name": "Fine", "extra": "x"}, 400, "unknown form fields"),
    ]:
        answer = mia.post(MINE, fields)
        assert (answer.status_code, words in answer.text) == (status, True), answer.text
    assert mia.post(MINE, {"name": "Fine"}, csrf=False).status_code == 403
    assert _journal(local_index) == before
    for n in range(organisation_requests.MAX_PENDING):
        assert mia.post(MINE, {"name": f"org{n}"}).status_code == 200
    over = mia.post(MINE, {"name": "one-more"})
    assert (over.status_code, "requests waiting for an admin" in over.text) == (409, True)


def test_a_teams_page_shows_its_reader_policies_and_owners_change_them(
    local_index: LocalIndex, browsers: dict[str, LocalBrowser]
) -> None:
    local_index.trust_issuer("https://token.actions.githubusercontent.com")
    with local_index.db.write() as session:
        organisations.create_organisation(session, "Acme", "mia", actor=HOST)
        organisations.invite(session, "acme", "sam", "manager", actor="mia")
        organisations.accept(session, "acme", invitee="sam")
        teams.create_team(session, "acme", "CI", actor="mia")
    mia, sam = browsers["mia"], browsers["sam"]
    page = mia.get("/manage/organisation/Acme/teams/CI/")
    assert page.status_code == 200
    assert 'id="reader-github"' in page.text
    added = mia.post(
        "/manage/organisation/Acme/teams/CI/readers/",
        {"kind": "github", "repository": "octo/app", "workflow": "ci.yml"},
    )
    assert added.status_code == 200
    assert '<tr data-reader-id="1">' in added.text
    # A manager sees the policies, without the forms, and may not change them.
    seen = sam.get("/manage/organisation/Acme/teams/CI/")
    assert '<tr data-reader-id="1">' in seen.text
    assert 'id="reader-github"' not in seen.text
    refused = sam.post("/manage/organisation/Acme/teams/CI/readers/1/remove/")
    assert refused.status_code == 403
    mia.get("/manage/organisation/Acme/teams/CI/")
    mia.post("/manage/organisation/Acme/teams/CI/readers/1/remove/")
    with local_index.db.read() as session:
        assert reader_policies.list_team_reader_policies(session, "acme", "ci", actor="mia") == []
