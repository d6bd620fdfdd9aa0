"""Organisations (issue 20): creation by the host, membership by invitation, the last owner,
projects given to an organisation, and what each refusal leaves (nothing). Real catalogue,
real services; time moves by passing ``now``."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from trustyard.errors import Conflict, Forbidden, InvalidInput, NotFound
from trustyard.index.db.engine import Database
from trustyard.index.db.models import (
    JournalEntry,
    OrganisationInvitation,
    OrganisationMember,
    OrganisationProject,
    TeamMember,
)
from trustyard.index.services import (
    accounts,
    collaborators,
    invitations,
    organisations,
    projects,
    teams,
)
from trustyard.index.services.invitations import Expired
from trustyard.index.services.roles import HOST

T0 = datetime(2026, 12, 7, 12, 0)
LATER = T0 + invitations.LIFETIME + timedelta(seconds=1)


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("orgs") / "template.sqlite3"
    database = Database(f"sqlite:///{path}")
    database.migrate()
    with database.write() as session:
        for name in ("olga", "mia", "sam", "dan"):
            accounts.create_user(session, name, "long enough password")
        projects.create_project(session, "Thing", owner="olga")
        projects.create_project(session, "Other", owner="sam")
        organisations.create_organisation(session, "Acme", "olga", actor=HOST, now=T0)
    database.dispose()
    return path


@pytest.fixture
def db(migrated: Path, tmp_path: Path) -> Iterator[Database]:
    copy = tmp_path / "orgs.sqlite3"
    shutil.copyfile(migrated, copy)
    database = Database(f"sqlite:///{copy}")
    yield database
    database.dispose()


def _state(db: Database) -> tuple[int, ...]:
    """Row counts of everything an organisation's actions change, with the journal."""
    with db.read() as session:
        return tuple(
            int(session.scalar(select(func.count()).select_from(model)) or 0)
            for model in (
                OrganisationMember,
                OrganisationInvitation,
                OrganisationProject,
                TeamMember,
                JournalEntry,
            )
        )


def _join(db: Database, username: str, role: str = "member") -> None:
    with db.write() as session:
        organisations.invite(session, "acme", username, role, actor="olga", now=T0)
    with db.write() as session:
        organisations.accept(session, "ACME", invitee=username, now=T0)


def _members(db: Database) -> dict[str, str]:
    with db.read() as session:
        return {m.username: m.role for m in organisations.members(session, "acme")}


def test_the_host_creates_an_organisation_with_its_first_owner(db: Database) -> None:
    with db.read() as session:
        [view] = organisations.list_organisations(session)
    assert (view.name, view.owners, view.members, view.teams, view.projects) == (
        "Acme",
        ("olga",),
        1,
        0,
        0,
    )


@pytest.mark.parametrize(
    ("name", "owner", "actor", "error"),
    [
        ("ACME", "mia", HOST, Conflict),  # the same normal form
        ("acme!", "mia", HOST, InvalidInput),
        ("-acme", "mia", HOST, InvalidInput),
        ("x" * 51, "mia", HOST, InvalidInput),
        ("Beta", "nobody", HOST, NotFound),
        ("Beta", "mia", "olga", Forbidden),  # users do not create organisations
    ],
)
def test_creation_refusals_leave_nothing(
    db: Database, name: str, owner: str, actor: object, error: type[Exception]
) -> None:
    before = _state(db)
    with pytest.raises(error), db.write() as session:
        organisations.create_organisation(session, name, owner, actor=actor)  # type: ignore[arg-type]
    assert _state(db) == before


def test_membership_comes_by_invitation_and_acceptance(db: Database) -> None:
    with db.write() as session:
        view = organisations.invite(session, "acme", "mia", "manager", actor="olga", now=T0)
    assert (view.role, view.invited_by, view.expired) == ("manager", "olga", False)
    assert _members(db) == {"olga": "owner"}
    with db.read() as session:
        [mine] = organisations.invitations_of(session, "mia", now=T0)
    assert mine.organisation == "Acme"
    with db.write() as session:
        assert organisations.accept(session, "acme", invitee="mia", now=T0) == "manager"
    assert _members(db) == {"olga": "owner", "mia": "manager"}
    with db.read() as session:
        assert organisations.invitations_of(session, "mia", now=T0) == []


def test_invitation_refusals(db: Database) -> None:
    _join(db, "mia", "manager")
    before = _state(db)
    cases: list[tuple[str, str, str, type[Exception]]] = [
        ("mia", "sam", "member", Forbidden),  # managers do not invite
        ("dan", "sam", "member", Forbidden),  # nor strangers
        ("olga", "mia", "member", Conflict),  # a member already
        ("olga", "ghost", "member", NotFound),
        ("olga", "sam", "billing-manager", InvalidInput),
    ]
    for actor, username, role, error in cases:
        with pytest.raises(error), db.write() as session:
            organisations.invite(session, "acme", username, role, actor=actor, now=T0)
    assert _state(db) == before


def test_an_expired_invitation_cannot_be_accepted_and_is_replaced(db: Database) -> None:
    with db.write() as session:
        organisations.invite(session, "acme", "sam", "member", actor="olga", now=T0)
    with pytest.raises(Conflict), db.write() as session:
        organisations.invite(session, "acme", "sam", "member", actor="olga", now=T0)
    with pytest.raises(Expired) as refused, db.write() as session:
        organisations.accept(session, "acme", invitee="sam", now=LATER)
    assert refused.value.status == 410
    with db.write() as session:
        organisations.invite(session, "acme", "sam", "owner", actor="olga", now=LATER)
    with db.write() as session:
        assert organisations.accept(session, "acme", invitee="sam", now=LATER) == "owner"


def test_an_invitation_needs_its_sender_to_still_be_an_owner(db: Database) -> None:
    _join(db, "mia", "owner")
    with db.write() as session:
        organisations.invite(session, "acme", "sam", "owner", actor="mia", now=T0)
        organisations.change_member_role(session, "acme", "mia", "member", actor="olga")
    before = _state(db)
    with pytest.raises(Forbidden, match="no longer an owner"), db.write() as session:
        organisations.accept(session, "acme", invitee="sam", now=T0)
    assert _state(db) == before


def test_the_hosts_invitation_holds_without_an_owner_behind_it(db: Database) -> None:
    with db.write() as session:
        view = organisations.invite(session, "acme", "dan", "member", actor=HOST, now=T0)
    assert view.invited_by == "the index's admin"
    with db.write() as session:
        organisations.accept(session, "acme", invitee="dan", now=T0)
    assert _members(db)["dan"] == "member"


def test_only_the_invitee_answers_and_others_learn_nothing(db: Database) -> None:
    with db.write() as session:
        organisations.invite(session, "acme", "sam", "member", actor="olga", now=T0)
    for invitee, org in (("dan", "acme"), ("sam", "nope"), ("sam", "!!")):
        with pytest.raises(NotFound, match="you have no invitation"), db.write() as session:
            organisations.accept(session, org, invitee=invitee, now=T0)
    with db.write() as session:
        organisations.decline(session, "acme", invitee="sam", now=T0)
    assert "sam" not in _members(db)


def test_the_last_owner_can_neither_leave_nor_be_demoted(db: Database) -> None:
    _join(db, "mia")
    before = _state(db)
    with pytest.raises(Conflict, match="last owner"), db.write() as session:
        organisations.remove_member(session, "acme", "olga", actor="olga")
    with pytest.raises(Conflict, match="last owner"), db.write() as session:
        organisations.change_member_role(session, "acme", "olga", "member", actor="olga")
    with pytest.raises(Conflict, match="last owner"), db.write() as session:
        organisations.remove_member(session, "acme", "olga", actor=HOST)
    with pytest.raises(Forbidden), db.write() as session:
        organisations.remove_member(session, "acme", "olga", actor="mia")
    assert _state(db) == before
    with db.write() as session:
        organisations.change_member_role(session, "acme", "mia", "owner", actor="olga")
        organisations.remove_member(session, "acme", "olga", actor="olga")  # now she may leave
    assert _members(db) == {"mia": "owner"}


def test_leaving_an_organisation_leaves_its_teams(db: Database) -> None:
    _join(db, "mia")
    with db.write() as session:
        teams.create_team(session, "acme", "Core", actor="olga")
        teams.add_member(session, "acme", "core", "mia", actor="olga")
    with db.write() as session:
        assert organisations.remove_member(session, "acme", "mia", actor="mia") == ["Core"]
    with db.read() as session:
        [core] = teams.list_teams(session, "acme")
    assert core.members == ()


def test_a_project_joins_one_organisation_by_an_owner_of_both(db: Database) -> None:
    _join(db, "sam", "manager")
    before = _state(db)
    with pytest.raises(Forbidden, match="only an owner of Thing"), db.write() as session:
        organisations.add_project(session, "acme", "thing", actor="sam")  # sam: not its owner
    with pytest.raises(Forbidden), db.write() as session:
        organisations.add_project(session, "acme", "other", actor="dan")
    assert _state(db) == before
    with db.write() as session:
        assert organisations.add_project(session, "acme", "other", actor="sam") == "Other"
        organisations.add_project(session, "acme", "thing", actor="olga")
    with db.write() as session:
        organisations.create_organisation(session, "Beta", "dan", actor=HOST)
    with pytest.raises(Conflict, match="belongs to the organisation Acme"), db.write() as session:
        organisations.add_project(session, "beta", "thing", actor=HOST)
    with pytest.raises(Conflict, match="already belongs"), db.write() as session:
        organisations.add_project(session, "acme", "thing", actor=HOST)
    with db.read() as session:
        assert organisations.projects(session, "acme") == ["Other", "Thing"]


def test_a_project_of_an_organisation_may_lose_its_last_own_owner(db: Database) -> None:
    """Its organisation's owners own it; taking it out of the organisation then needs an
    owner of its own first."""
    with db.write() as session:
        organisations.add_project(session, "acme", "other", actor=HOST)
    with db.write() as session:
        collaborators.remove_collaborator(session, "other", "sam", actor="sam")
    with db.read() as session:
        assert collaborators.list_collaborators(session, "other") == []
        assert collaborators.projects_of(session, accounts.get_user(session, "olga").id) == [
            "Other",
            "Thing",
        ]
    before = _state(db)
    with pytest.raises(Conflict, match="no owner outside"), db.write() as session:
        organisations.remove_project(session, "acme", "other", actor="olga")
    assert _state(db) == before
    with db.write() as session:
        collaborators.add_collaborator(session, "other", "dan", "owner", actor=HOST)
        organisations.remove_project(session, "acme", "other", actor="olga")
    with db.read() as session:
        assert organisations.projects(session, "acme") == []
