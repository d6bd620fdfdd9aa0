"""The organisation pages (issue 20) through the real app in this process: an owner invites,
the invitee accepts on their account's invitations page, teams get roles, the project's
collaborators page shows them; every refusal is a precise status and changes nothing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from tests.index.conftest import LocalBrowser, LocalIndex
from trustyard.index.db.models import JournalEntry
from trustyard.index.services import organisations, projects, roles
from trustyard.index.services.roles import HOST, Permission

MANAGE = "/manage/organisation/Acme/"


@pytest.fixture
def site(local_index: LocalIndex) -> LocalIndex:
    """Acme (owner olga) exists; olga owns web-thing, sam owns web-other; rita and max are
    users of the index."""
    for user in ("olga", "rita", "max", "sam"):
        local_index.create_user(user)
    with local_index.db.write() as session:
        projects.create_project(session, "web-thing", owner="olga")
        projects.create_project(session, "web-other", owner="sam")
        organisations.create_organisation(session, "Acme", "olga", actor=HOST)
    return local_index


@pytest.fixture
def browsers(site: LocalIndex) -> Iterator[dict[str, LocalBrowser]]:
    opened = {name: LocalBrowser(site) for name in ("olga", "rita", "max", "anonymous")}
    for name, browser in opened.items():
        if name != "anonymous":
            browser.sign_in(name)
    yield opened
    for browser in opened.values():
        browser.close()


def _journal(site: LocalIndex) -> int:
    with site.db.read() as session:
        return int(session.scalar(select(func.count()).select_from(JournalEntry)) or 0)


def test_an_owner_invites_the_invitee_accepts_and_a_team_reads(
    site: LocalIndex, browsers: dict[str, LocalBrowser]
) -> None:
    olga, rita = browsers["olga"], browsers["rita"]
    page = olga.get(MANAGE)
    assert page.status_code == 200
    assert 'id="invite-member"' in page.text
    answer = olga.post(MANAGE + "invitations/", {"username": "rita", "role": "member"})
    assert answer.status_code == 200
    assert '<tr data-username="rita">' in answer.text  # among the invitations

    offered = rita.get("/manage/account/invitations/")
    assert '<tr data-organisation="Acme">' in offered.text
    joined = rita.post("/manage/account/invitations/org/Acme/accept/")
    assert joined.status_code == 200
    assert str(joined.url).endswith(MANAGE)
    assert 'id="invite-member"' not in joined.text  # a member sees, without the forms
    with site.db.read() as session:
        assert [(m.username, m.role) for m in organisations.members(session, "acme")] == [
            ("olga", "owner"),
            ("rita", "member"),
        ]

    olga.get(MANAGE)
    olga.post(MANAGE + "projects/", {"project": "web-thing"})
    olga.post(MANAGE + "teams/", {"team": "Readers"})
    olga.post(MANAGE + "teams/Readers/members/", {"username": "rita"})
    done = olga.post(MANAGE + "teams/Readers/roles/", {"project": "web-thing", "role": "reader"})
    assert "web-thing</a>: reader" in done.text
    with site.db.read() as session:
        project = projects.get_project(session, "web-thing")
        assert roles.permissions_of(session, project, "rita") == {Permission.READ}

    collaborators_page = olga.get("/manage/project/web-thing/collaboration/")
    assert '<tr data-team="Readers">' in collaborators_page.text
    assert "belongs to the organisation" in collaborators_page.text
    assert "/project/web-thing/" in site.get("/org/Acme/").text
    moved = site.get("/org/acme/")
    assert (moved.status_code, moved.headers["location"]) == (301, "/org/Acme/")
    account = rita.get("/manage/account/").text
    assert '<a href="/project/web-thing/">' in account  # her projects, through the team
    assert "/manage/project/web-thing/" not in account  # a reader has no settings pages

    olga.get(MANAGE)
    olga.post(MANAGE + "teams/Readers/members/rita/remove/")
    with site.db.read() as session:
        project = projects.get_project(session, "web-thing")
        assert roles.permissions_of(session, project, "rita") == frozenset()


def test_refusals_are_precise_and_change_nothing(
    site: LocalIndex, browsers: dict[str, LocalBrowser]
) -> None:
    olga, rita, max_ = browsers["olga"], browsers["rita"], browsers["max"]
    with site.db.write() as session:
        organisations.invite(session, "acme", "rita", "member", actor="olga")
        organisations.accept(session, "acme", invitee="rita")
    before = _journal(site)

    assert max_.get(MANAGE).status_code == 403  # not a member
    assert site.get("/manage/organisation/Nope/").status_code in (303, 307)  # sign in first
    assert olga.get("/manage/organisation/Nope/").status_code == 404
    assert olga.get("/manage/organisation/-bad-/").status_code == 404
    assert site.get("/org/nope/").status_code == 404

    rita.get(MANAGE)
    refused = rita.post(MANAGE + "invitations/", {"username": "max", "role": "member"})
    assert refused.status_code == 403
    assert "only an owner of Acme can invite members" in refused.text
    olga.get(MANAGE)
    outside = olga.post(MANAGE + "teams/", {"team": "Devs"})
    assert outside.status_code == 200
    before = _journal(site)
    for path, fields, status, words in [
        (
            "teams/Devs/roles/",
            {"project": "web-other", "role": "reader"},
            403,
            "not an owner or maintainer",
        ),
        ("teams/Devs/members/", {"username": "max"}, 409, "not a member of Acme"),
        ("members/olga/remove/", {}, 409, "last owner"),
        ("invitations/", {"username": "rita", "role": "member"}, 409, "already a member"),
        ("invitations/", {"username": "max", "role": "boss"}, 400, "must be one of"),
        ("invitations/", {"username": "max", "extra": "x"}, 400, "unknown form fields"),
        ("projects/", {"project": "web-other"}, 403, "only an owner of web-other"),
    ]:
        answer = olga.post(MANAGE + path, fields)
        assert (answer.status_code, words in answer.text) == (status, True), (path, answer.text)
    forged = olga.post(MANAGE + "teams/", {"team": "Sneaky"}, csrf=False)
    assert forged.status_code == 403
    assert _journal(site) == before


def test_a_team_role_on_a_project_outside_the_organisation_is_refused(
    site: LocalIndex, browsers: dict[str, LocalBrowser]
) -> None:
    olga = browsers["olga"]
    with site.db.write() as session:
        organisations.invite(session, "acme", "sam", "member", actor="olga")
        organisations.accept(session, "acme", invitee="sam")
        projects.create_project(session, "web-mine", owner="olga")
    olga.get(MANAGE)
    olga.post(MANAGE + "teams/", {"team": "Devs"})
    before = _journal(site)
    answer = olga.post(MANAGE + "teams/Devs/roles/", {"project": "web-mine", "role": "reader"})
    assert answer.status_code == 409
    assert "not a project of Acme" in answer.text
    assert _journal(site) == before


def test_declining_an_organisations_invitation(
    site: LocalIndex, browsers: dict[str, LocalBrowser]
) -> None:
    with site.db.write() as session:
        organisations.invite(session, "acme", "max", "manager", actor="olga")
    max_ = browsers["max"]
    max_.get("/manage/account/invitations/")
    answer = max_.post("/manage/account/invitations/org/Acme/decline/")
    assert answer.status_code == 200
    assert "No organisation has invited you." in answer.text
    again = max_.post("/manage/account/invitations/org/Acme/accept/")
    assert again.status_code == 404
    with site.db.read() as session:
        assert [m.username for m in organisations.members(session, "acme")] == ["olga"]
