"""Role invitations (issue 14, finding 3): nobody gets a role on a project without accepting
it. Every rule runs against a real catalogue through the real services, no server between;
time moves by passing ``now``, never by waiting."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from trustyard.errors import Conflict, Forbidden, InvalidInput, NotFound
from trustyard.index.db.engine import Database
from trustyard.index.db.models import JournalEntry, Role, RoleInvitation
from trustyard.index.services import accounts, collaborators, invitations, journal, projects
from trustyard.index.services.roles import HOST

T0 = datetime(2026, 12, 7, 12, 0)
LATER = T0 + invitations.LIFETIME + timedelta(seconds=1)


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("invitations") / "template.sqlite3"
    database = Database(f"sqlite:///{path}")
    database.migrate()
    database.dispose()
    return path


def _populate(database: Database) -> None:
    """olga owns thing; mia maintains it (granted by the host); sam and dan are strangers."""
    with database.write() as session:
        for name in ("olga", "mia", "sam", "dan"):
            accounts.create_user(session, name, "long enough password")
        projects.create_project(session, "Thing", owner="olga")
        collaborators.add_collaborator(session, "thing", "mia", "maintainer", actor=HOST)


@pytest.fixture
def db(migrated: Path, tmp_path: Path) -> Iterator[Database]:
    copy = tmp_path / "invitations.sqlite3"
    shutil.copyfile(migrated, copy)
    database = Database(f"sqlite:///{copy}")
    _populate(database)
    yield database
    database.dispose()


def _roles(db: Database) -> dict[str, str]:
    with db.read() as session:
        return {c.username: c.role for c in collaborators.list_collaborators(session, "thing")}


def _pending(db: Database) -> list[tuple[str, str, str]]:
    with db.read() as session:
        return [
            (i.username, i.role, i.invited_by)
            for i in invitations.project_invitations(session, "thing", now=T0)
        ]


def _actions(db: Database) -> list[tuple[str, str | None]]:
    """The project's journal since the fixture's entries, oldest first."""
    with db.read() as session:
        entries = journal.project_history(session, "thing")
    return [(e.action, e.actor) for e in reversed(entries)][2:]


def _invite(db: Database, username: str, role: str, *, actor: str = "olga") -> None:
    with db.write() as session:
        invitations.invite(session, "thing", username, role, actor=actor, now=T0)


def _state(db: Database) -> tuple[object, ...]:
    """Everything an invitation may change: roles, invitations, journal length."""
    with db.read() as session:
        rows = session.scalar(select(func.count()).select_from(RoleInvitation))
        entries = session.scalar(select(func.count()).select_from(JournalEntry))
    return (_roles(db), _pending(db), rows, entries)


def test_nothing_is_granted_before_the_invitee_accepts(db: Database) -> None:
    _invite(db, "sam", "owner")
    assert _roles(db) == {"olga": "owner", "mia": "maintainer"}
    assert _pending(db) == [("sam", "owner", "olga")]
    with db.read() as session:
        mine = invitations.invitations_of(session, "SAM", now=T0)
    assert [(i.project, i.role, i.invited_by, i.expired) for i in mine] == [
        ("Thing", "owner", "olga", False)
    ]
    assert mine[0].expires == T0 + invitations.LIFETIME

    with db.write() as session:
        role = invitations.accept(session, "thing", invitee="sam", now=T0 + timedelta(hours=1))
    assert role == "owner"
    assert _roles(db) == {"olga": "owner", "sam": "owner", "mia": "maintainer"}
    assert _pending(db) == []
    assert _actions(db) == [("invite owner sam", "olga"), ("accepted owner sam", "sam")]
    # The owner who invited is the one who granted (the removal page's "who they added").
    with db.read() as session:
        project = projects.get_project(session, "thing")
        olga = accounts.get_user(session, "olga")
        added = collaborators.leftovers_of(session, project, olga).collaborators
    assert [c.username for c in added] == ["sam"]


def test_owners_cannot_grant_a_role_directly(db: Database) -> None:
    """The old door: an owner adding a collaborator without their consent."""
    before = _state(db)
    with pytest.raises(Forbidden, match="send an invitation"), db.write() as session:
        collaborators.add_collaborator(session, "thing", "sam", "maintainer", actor="olga")
    assert _state(db) == before


def test_only_owners_invite_or_revoke(db: Database) -> None:
    before = _state(db)
    for actor in ("mia", "sam"):  # a maintainer, a stranger
        with pytest.raises(Forbidden), db.write() as session:
            invitations.invite(session, "thing", "dan", "maintainer", actor=actor, now=T0)
    assert _state(db) == before
    _invite(db, "dan", "maintainer")
    with pytest.raises(Forbidden), db.write() as session:
        invitations.revoke(session, "thing", "dan", actor="mia", now=T0)
    assert _pending(db) == [("dan", "maintainer", "olga")]


def test_refused_invitations_change_nothing(db: Database) -> None:
    before = _state(db)
    cases: list[tuple[type[Exception], str, str, str]] = [
        (InvalidInput, "sam", "admin", "must be one of owner, maintainer"),
        (NotFound, "nobody", "maintainer", "no user named 'nobody'"),
        (Conflict, "mia", "maintainer", "already a maintainer of Thing$"),
        (Conflict, "mia", "owner", "change their role in the list above instead"),
        (Conflict, "olga", "maintainer", "already an owner of Thing"),
    ]
    for error, username, role, message in cases:
        with pytest.raises(error, match=message), db.write() as session:
            invitations.invite(session, "thing", username, role, actor="olga", now=T0)
    with pytest.raises(NotFound, match="no project"), db.write() as session:
        invitations.invite(session, "nothing", "sam", "owner", actor="olga", now=T0)
    assert _state(db) == before


def test_a_disabled_account_cannot_be_invited(db: Database) -> None:
    with db.write() as session:
        accounts.set_disabled(session, "sam", disabled=True, actor="admin")
    before = _state(db)
    with pytest.raises(Conflict, match="disabled"), db.write() as session:
        invitations.invite(session, "thing", "sam", "maintainer", actor="olga", now=T0)
    assert _state(db) == before


def test_one_open_invitation_per_user_and_project(db: Database) -> None:
    _invite(db, "sam", "maintainer")
    before = _state(db)
    for role in ("maintainer", "owner"):
        with pytest.raises(Conflict, match="revoke it first"), db.write() as session:
            invitations.invite(session, "thing", "sam", role, actor="olga", now=T0)
    assert _state(db) == before
    # Another project is another invitation.
    with db.write() as session:
        projects.create_project(session, "Other", owner="olga")
        invitations.invite(session, "other", "sam", "owner", actor="olga", now=T0)
        assert [i.project for i in invitations.invitations_of(session, "sam", now=T0)] == [
            "Other",
            "Thing",
        ]


def test_the_invitee_declines(db: Database) -> None:
    _invite(db, "sam", "maintainer")
    with pytest.raises(NotFound, match="you have no invitation"), db.write() as session:
        invitations.decline(session, "thing", invitee="dan", now=T0)  # not dan's to decline
    with db.write() as session:
        declined = invitations.decline(session, "thing", invitee="sam", now=T0)
    assert (declined.role, declined.expired) == ("maintainer", False)
    assert _pending(db) == []
    assert _roles(db) == {"olga": "owner", "mia": "maintainer"}
    assert _actions(db)[-1] == ("decline_invite maintainer sam", "sam")
    with pytest.raises(NotFound, match="you have no invitation"), db.write() as session:
        invitations.accept(session, "thing", invitee="sam", now=T0)


def test_only_the_invitee_accepts(db: Database) -> None:
    _invite(db, "sam", "owner")
    before = _state(db)
    for someone in ("dan", "olga", "nobody"):
        with pytest.raises(NotFound, match="you have no invitation"), db.write() as session:
            invitations.accept(session, "thing", invitee=someone, now=T0)
    with pytest.raises(NotFound, match="you have no invitation"), db.write() as session:
        invitations.accept(session, "no-such-project", invitee="sam", now=T0)
    assert _state(db) == before


def test_the_owner_revokes(db: Database) -> None:
    _invite(db, "sam", "owner")
    with pytest.raises(NotFound, match="no invitation for 'dan'"), db.write() as session:
        invitations.revoke(session, "thing", "dan", actor="olga", now=T0)
    with db.write() as session:
        invitations.revoke(session, "thing", "sam", actor="olga", now=T0)
    assert _pending(db) == []
    assert _actions(db)[-1] == ("revoke_invite owner sam", "olga")
    with pytest.raises(NotFound), db.write() as session:
        invitations.accept(session, "thing", invitee="sam", now=T0)
    assert _roles(db) == {"olga": "owner", "mia": "maintainer"}


def test_an_expired_invitation_cannot_be_accepted(db: Database) -> None:
    _invite(db, "sam", "owner")
    before = _state(db)
    with pytest.raises(invitations.Expired, match="ask an owner") as refused, db.write() as s:
        invitations.accept(s, "thing", invitee="sam", now=LATER)
    assert refused.value.status == 410
    assert _state(db) == before
    with db.read() as session:
        [shown] = invitations.project_invitations(session, "thing", now=LATER)
        [theirs] = invitations.invitations_of(session, "sam", now=LATER)
    assert shown.expired
    assert theirs.expired
    # Inviting again replaces it, and the journal says that the old one expired.
    with db.write() as session:
        invitations.invite(session, "thing", "sam", "maintainer", actor="olga", now=LATER)
    assert _actions(db)[-2:] == [
        ("expire_invite owner sam", "olga"),
        ("invite maintainer sam", "olga"),
    ]
    with db.write() as session:
        invitations.accept(session, "thing", invitee="sam", now=LATER + timedelta(hours=71))
    assert _roles(db)["sam"] == "maintainer"


def test_expired_invitations_are_declined_or_revoked_as_expired(db: Database) -> None:
    _invite(db, "sam", "owner")
    _invite(db, "dan", "maintainer")
    with db.write() as session:
        invitations.decline(session, "thing", invitee="sam", now=LATER)
        invitations.revoke(session, "thing", "dan", actor="olga", now=LATER)
    assert _actions(db)[-2:] == [
        ("decline_invite owner sam (expired)", "sam"),
        ("revoke_invite maintainer dan (expired)", "olga"),
    ]
    assert _pending(db) == []


def test_an_invitation_dies_with_its_senders_ownership(db: Database) -> None:
    """A removed owner's invitation to an accomplice cannot bring them back (finding 3)."""
    _invite(db, "sam", "owner")
    with pytest.raises(Forbidden), db.write() as session:  # invited is not yet an owner
        invitations.invite(session, "thing", "dan", "owner", actor="sam", now=T0)
    assert _pending(db) == [("sam", "owner", "olga")]
    with db.write() as session:
        invitations.accept(session, "thing", invitee="sam", now=T0)
        invitations.invite(session, "thing", "dan", "owner", actor="sam", now=T0)
        collaborators.remove_collaborator(session, "thing", "sam", actor="olga")
    before = _state(db)
    gone = "sam, who invited you, is no longer an owner"
    with pytest.raises(Forbidden, match=gone), db.write() as session:
        invitations.accept(session, "thing", invitee="dan", now=T0)
    assert _state(db) == before
    assert "dan" not in _roles(db)


def test_a_direct_grant_by_the_host_supersedes_the_invitation(db: Database) -> None:
    _invite(db, "sam", "owner")
    with db.write() as session:
        change = collaborators.set_role(session, "thing", "sam", "maintainer", actor=HOST)
    assert change.action == "add maintainer sam"
    assert _pending(db) == []
    assert _actions(db)[-2:] == [
        ("revoke_invite owner sam (superseded by a direct grant)", "admin"),
        ("add maintainer sam", "admin"),
    ]


def test_accepting_a_role_held_meanwhile_is_refused(db: Database) -> None:
    """A role that came another way (a race with the host) is not doubled or changed."""
    _invite(db, "sam", "owner")
    with db.write() as session:
        project = projects.get_project(session, "thing")
        sam = accounts.get_user(session, "sam")
        session.add(Role(user_id=sam.id, project_id=project.id, role="maintainer"))
    held = "already a maintainer of Thing: decline"
    with pytest.raises(Conflict, match=held), db.write() as session:
        invitations.accept(session, "thing", invitee="sam", now=T0)
    assert _roles(db)["sam"] == "maintainer"


def test_invitations_on_each_backend(migrated_db: Database) -> None:
    """The table's key and the accept path on SQLite and PostgreSQL alike."""
    _populate(migrated_db)
    with migrated_db.write() as session:
        invitations.invite(session, "thing", "sam", "owner", actor="olga", now=T0)
    with pytest.raises(Conflict), migrated_db.write() as session:
        invitations.invite(session, "thing", "sam", "owner", actor="olga", now=T0)
    with migrated_db.write() as session:
        invitations.accept(session, "thing", invitee="sam", now=T0)
    assert _roles(migrated_db)["sam"] == "owner"
    with migrated_db.read() as session:
        assert invitations.invitations_of(session, "sam", now=T0) == []
