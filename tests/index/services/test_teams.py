"""Teams and the roles they give (issue 20): ``roles.roles_of`` unions a user's own role, their
teams' roles and Owner for an organisation's owners, so every permission check follows. Real
catalogue, real services."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from trustyard.errors import Conflict, Forbidden, InvalidInput, NotFound
from trustyard.index.db.engine import Database
from trustyard.index.db.models import JournalEntry, Team, TeamMember, TeamProjectRole
from trustyard.index.services import (
    accounts,
    collaborators,
    invitations,
    organisations,
    projects,
    publishers,
    teams,
)
from trustyard.index.services.roles import HOST, Permission, ProjectRole, permissions_of, roles_of


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Acme (owner olga, manager mia, members rita and max) owns Thing; Other is sam's."""
    path = tmp_path_factory.mktemp("teams") / "template.sqlite3"
    database = Database(f"sqlite:///{path}")
    database.migrate()
    with database.write() as session:
        for name in ("olga", "mia", "rita", "max", "sam", "dan"):
            accounts.create_user(session, name, "long enough password")
        projects.create_project(session, "Thing", owner="dan")
        projects.create_project(session, "Other", owner="sam")
        organisations.create_organisation(session, "Acme", "olga", actor=HOST)
        for name, role in (("mia", "manager"), ("rita", "member"), ("max", "member")):
            organisations.invite(session, "acme", name, role, actor=HOST)
            organisations.accept(session, "acme", invitee=name)
        organisations.add_project(session, "acme", "thing", actor=HOST)
        teams.create_team(session, "acme", "Readers", actor="mia")
        teams.add_member(session, "acme", "readers", "rita", actor="mia")
    database.dispose()
    return path


@pytest.fixture
def db(migrated: Path, tmp_path: Path) -> Iterator[Database]:
    copy = tmp_path / "teams.sqlite3"
    shutil.copyfile(migrated, copy)
    database = Database(f"sqlite:///{copy}")
    yield database
    database.dispose()


def _state(db: Database) -> tuple[int, ...]:
    with db.read() as session:
        return tuple(
            int(session.scalar(select(func.count()).select_from(model)) or 0)
            for model in (Team, TeamMember, TeamProjectRole, JournalEntry)
        )


def _perms(db: Database, username: str, project: str = "thing") -> frozenset[Permission]:
    with db.read() as session:
        return permissions_of(session, projects.get_project(session, project), username)


def _roles(db: Database, username: str, project: str = "thing") -> frozenset[ProjectRole]:
    with db.read() as session:
        user = accounts.get_user(session, username)
        return roles_of(session, projects.get_project(session, project), user.id)


def _set(db: Database, role: str | None, *, actor: object = "olga", team: str = "readers") -> str:
    with db.write() as session:
        return teams.set_team_role(session, "acme", team, "thing", role, actor=actor)  # type: ignore[arg-type]


def test_a_team_reader_reads_but_does_not_upload(db: Database) -> None:
    assert _perms(db, "rita") == frozenset()
    _set(db, "reader")
    assert _roles(db, "rita") == {ProjectRole.READER}
    assert _perms(db, "rita") == {Permission.READ}
    with db.read() as session:
        project = projects.get_project(session, "thing")
        user = accounts.get_user(session, "rita")
        with pytest.raises(
            Forbidden,
            match="only a maintainer or an owner of Thing can upload to it; you are a reader",
        ):
            collaborators.require_collaborator(session, "thing", user.id, Permission.UPLOAD)
        with pytest.raises(Forbidden):
            collaborators.check_token_scope(session, "thing", user.id)
        assert project.name == "Thing"
    assert _perms(db, "max") == frozenset()  # not on the team


def test_an_organisation_owner_may_do_everything_on_its_projects(db: Database) -> None:
    assert _roles(db, "olga") == {ProjectRole.OWNER}
    assert _perms(db, "olga") == frozenset(Permission)
    assert _perms(db, "olga", "other") == frozenset()  # not the organisation's
    assert _perms(db, "mia") == frozenset()  # a manager owns nothing by that
    with db.write() as session:  # and acts as one: she adds a publisher to Thing
        publishers.add_publisher(
            session,
            "thing",
            "github",
            {"repository": "acme/thing", "workflow": "release.yml"},
            actor="olga",
        )


def test_removing_a_team_member_removes_the_rights(db: Database) -> None:
    _set(db, "maintainer")
    assert Permission.UPLOAD in _perms(db, "rita")
    with db.write() as session:
        teams.remove_member(session, "acme", "readers", "rita", actor="mia")
    assert _perms(db, "rita") == frozenset()


def test_roles_union_the_highest_wins(db: Database) -> None:
    with db.write() as session:
        collaborators.add_collaborator(session, "thing", "rita", "reader", actor=HOST)
    _set(db, "owner")
    assert _roles(db, "rita") == {ProjectRole.READER, ProjectRole.OWNER}
    assert _perms(db, "rita") == frozenset(Permission)


def test_a_team_role_outside_the_organisation_is_refused(db: Database) -> None:
    before = _state(db)
    with pytest.raises(Conflict, match="not a project of Acme"), db.write() as session:
        teams.set_team_role(session, "acme", "readers", "other", "reader", actor=HOST)
    assert _state(db) == before


def test_a_project_leaving_the_organisation_takes_its_team_roles(db: Database) -> None:
    _set(db, "maintainer")
    with db.write() as session:
        organisations.remove_project(session, "acme", "thing", actor="olga")
    assert _perms(db, "rita") == frozenset()
    assert _perms(db, "olga") == frozenset()
    with db.read() as session:
        assert teams.team_roles_on(session, projects.get_project(session, "thing")) == []


def test_who_may_give_a_team_a_role(db: Database) -> None:
    """A project's owners (the organisation's owners among them) give team roles; a manager
    cannot make their own team an owner of a project they do not own."""
    before = _state(db)
    for actor in ("mia", "rita", "sam"):
        with pytest.raises(Forbidden), db.write() as session:
            teams.set_team_role(session, "acme", "readers", "thing", "owner", actor=actor)
    assert _state(db) == before
    assert _set(db, "reader", actor="dan") == "add team Acme/Readers as reader"
    assert _set(db, "maintainer") == "change role of team Acme/Readers from reader to maintainer"
    with pytest.raises(Conflict, match="already a maintainer"):
        _set(db, "maintainer")
    with pytest.raises(InvalidInput):
        _set(db, "admin")
    assert _set(db, None) == "remove team Acme/Readers (maintainer)"
    with pytest.raises(NotFound):
        _set(db, None)


def test_team_refusals_leave_nothing(db: Database) -> None:
    before = _state(db)
    refusals: list[tuple[Callable[[Session], object], type[Exception]]] = [
        (lambda s: teams.create_team(s, "acme", "readers", actor="mia"), Conflict),  # taken
        (lambda s: teams.create_team(s, "acme", "-x", actor="mia"), InvalidInput),
        (lambda s: teams.create_team(s, "acme", "Devs", actor="rita"), Forbidden),  # a member
        (lambda s: teams.create_team(s, "nope", "Devs", actor=HOST), NotFound),
        (lambda s: teams.add_member(s, "acme", "readers", "sam", actor="mia"), Conflict),
        (lambda s: teams.add_member(s, "acme", "readers", "rita", actor="mia"), Conflict),
        (lambda s: teams.add_member(s, "acme", "readers", "max", actor="rita"), Forbidden),
        (lambda s: teams.add_member(s, "acme", "nope", "max", actor="mia"), NotFound),
        (lambda s: teams.remove_member(s, "acme", "readers", "max", actor="mia"), NotFound),
        (lambda s: teams.delete_team(s, "acme", "readers", actor="max"), Forbidden),
    ]
    for call, error in refusals:
        with pytest.raises(error), db.write() as session:
            call(session)
    assert _state(db) == before


def test_deleting_a_team_takes_its_members_and_roles(db: Database) -> None:
    _set(db, "maintainer")
    with db.write() as session:
        view = teams.delete_team(session, "acme", "READERS", actor="mia")
    assert (view.members, view.roles) == (("rita",), (("Thing", "maintainer"),))
    assert _perms(db, "rita") == frozenset()
    assert _state(db)[:3] == (0, 0, 0)


def test_the_reader_role_comes_by_invitation_too(db: Database) -> None:
    with db.write() as session:
        invitations.invite(session, "other", "max", "reader", actor="sam")
    with db.write() as session:
        assert invitations.accept(session, "other", invitee="max") == "reader"
    assert _perms(db, "max", "other") == {Permission.READ}
    with db.read() as session:
        people = collaborators.list_collaborators(session, "other")
        assert [(c.username, c.role) for c in people] == [("sam", "owner"), ("max", "reader")]
        assert collaborators.projects_of(session, accounts.get_user(session, "rita").id) == []
    _set(db, "reader")
    with db.read() as session:
        assert collaborators.projects_of(session, accounts.get_user(session, "rita").id) == [
            "Thing"
        ]


def test_a_manager_cannot_join_a_team_that_owns_what_she_does_not(db: Database) -> None:
    """Joining a team grants its roles: only an owner of each of its projects adds members."""
    _set(db, "owner")
    before = _state(db)
    refused = pytest.raises(Forbidden, match="only an owner of Thing may add members")
    with refused, db.write() as session:
        teams.add_member(session, "acme", "readers", "mia", actor="mia")
    assert _state(db) == before
    assert _perms(db, "mia") == frozenset()
    with db.write() as session:  # an owner of the organisation owns Thing, so she may
        teams.add_member(session, "acme", "readers", "mia", actor="olga")
    assert _perms(db, "mia") == frozenset(Permission)
