"""Organisations from the web (issue 20): a user's request, an admin's approval or decline,
renames whose old names stay the organisation's, deletion only without projects, and the
limits on requests. Real catalogue, real services; refusals change nothing."""

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
    Organisation,
    OrganisationName,
    OrganisationRequest,
    Team,
)
from trustyard.index.services import (
    accounts,
    organisation_names,
    organisation_requests,
    organisations,
    projects,
    teams,
)
from trustyard.index.services.roles import HOST, IndexAdmin

T0 = datetime(2026, 12, 7, 12, 0)
ROOT = IndexAdmin("root")


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("orgreq") / "template.sqlite3"
    database = Database(f"sqlite:///{path}")
    database.migrate()
    with database.write() as session:
        for name in ("olga", "mia", "sam"):
            accounts.create_user(session, name, "long enough password")
        projects.create_project(session, "Thing", owner="olga")
    database.dispose()
    return path


@pytest.fixture
def db(migrated: Path, tmp_path: Path) -> Iterator[Database]:
    copy = tmp_path / "orgreq.sqlite3"
    shutil.copyfile(migrated, copy)
    database = Database(f"sqlite:///{copy}")
    yield database
    database.dispose()


def _counts(db: Database) -> tuple[int, ...]:
    with db.read() as session:
        return tuple(
            int(session.scalar(select(func.count()).select_from(model)) or 0)
            for model in (Organisation, OrganisationRequest, OrganisationName, JournalEntry)
        )


def _request(db: Database, user: str, name: str, **kw: str) -> int:
    with db.write() as session:
        return organisation_requests.file_request(session, user, name, now=T0, **kw).id


def test_a_request_approved_creates_the_organisation_with_its_requester_as_owner(
    db: Database,
) -> None:
    rid = _request(db, "mia", "Acme", display_name="Acme Corp", description="our tools")
    with db.read() as session:
        [pending] = organisation_requests.pending_requests(session)
        assert (pending.name, pending.requested_by, pending.status) == ("Acme", "mia", "pending")
        assert organisations.find_organisation(session, "acme") is None  # reserves nothing
    with db.write() as session:
        view = organisation_requests.approve(session, rid, actor=ROOT)
    assert (view.name, view.display_name, view.owners) == ("Acme", "Acme Corp", ("mia",))
    with db.read() as session:
        assert organisation_requests.pending_requests(session) == []
        [mine] = organisation_requests.requests_of(session, "mia")
        assert (mine.status, mine.decided_by) == ("approved", "root")
        actions = list(session.scalars(select(JournalEntry.action).order_by(JournalEntry.id)))
    assert actions[-3:] == [
        "request organisation Acme (request 1)",
        "create organisation Acme (owner: mia)",
        "approve organisation request 1 (Acme, by mia)",
    ]
    with db.write() as session, pytest.raises(Conflict, match="approved already"):
        organisation_requests.decline(session, rid, actor=ROOT)


def test_a_declined_request_keeps_its_reason_and_creates_nothing(db: Database) -> None:
    rid = _request(db, "mia", "Acme")
    with db.write() as session:
        organisation_requests.decline(session, rid, "use your company's account", actor=ROOT)
    with db.read() as session:
        [mine] = organisation_requests.requests_of(session, "mia")
        assert (mine.status, mine.reason) == ("declined", "use your company's account")
        assert organisations.list_organisations(session) == []


def test_only_admins_decide_and_bad_requests_change_nothing(db: Database) -> None:
    rid = _request(db, "mia", "Acme")
    before = _counts(db)
    with db.write() as session:
        with pytest.raises(Forbidden):
            organisation_requests.approve(session, rid, actor="olga")  # type: ignore[arg-type]
        with pytest.raises(NotFound):
            organisation_requests.approve(session, 99, actor=ROOT)
        with pytest.raises(InvalidInput, match="not a valid organisation name"):
            organisation_requests.file_request(session, "sam", "-bad-")
        with pytest.raises(InvalidInput, match="longer than 1000"):
            organisation_requests.file_request(session, "sam", "Fine", description="x" * 1001)
        with pytest.raises(InvalidInput, match="control"):
            organisation_requests.file_request(session, "sam", "Fine", display_name="a\x1bb")
        with pytest.raises(Conflict, match="already requested"):
            organisation_requests.file_request(session, "mia", "ACME")
        session.rollback()
    assert _counts(db) == before


def test_a_user_cannot_file_a_thousand_requests(db: Database) -> None:
    for n in range(organisation_requests.MAX_PENDING):
        _request(db, "sam", f"org{n}")
    with db.write() as session, pytest.raises(Conflict, match="requests waiting"):
        organisation_requests.file_request(session, "sam", "one-more", now=T0)
    with db.write() as session:
        for view in organisation_requests.pending_requests(session):
            organisation_requests.decline(session, view.id, actor=ROOT)
    for n in range(organisation_requests.MAX_PENDING, organisation_requests.MAX_PER_WINDOW):
        with db.write() as session:
            row = organisation_requests.file_request(session, "sam", f"org{n}", now=T0)
            organisation_requests.decline(session, row.id, actor=ROOT)
    with db.write() as session, pytest.raises(Conflict, match="in 30 days"):
        organisation_requests.file_request(session, "sam", "again", now=T0)
    later = T0 + organisation_requests.WINDOW + timedelta(minutes=1)
    with db.write() as session:
        organisation_requests.file_request(session, "sam", "again", now=later)


def test_two_users_ask_for_one_name_and_the_second_approval_is_refused(db: Database) -> None:
    first, second = _request(db, "mia", "Acme"), _request(db, "sam", "acme")
    with db.write() as session:
        organisation_requests.approve(session, first, actor=ROOT)
    with db.write() as session, pytest.raises(Conflict, match="taken"):
        organisation_requests.approve(session, second, actor=ROOT)
    with db.write() as session, pytest.raises(Conflict, match="taken"):
        organisation_requests.file_request(session, "sam", "ACME")


def test_a_rename_keeps_the_old_name_for_the_organisation(db: Database) -> None:
    with db.write() as session:
        organisations.create_organisation(session, "Acme", "olga", actor=HOST)
        organisations.invite(session, "acme", "mia", "manager", actor="olga")
        organisations.accept(session, "acme", invitee="mia")
    with db.write() as session, pytest.raises(Forbidden, match="only an owner"):
        organisations.rename_organisation(session, "acme", "Widgets", actor="mia")
    with db.write() as session:
        view = organisations.rename_organisation(session, "acme", "Widgets", actor="olga")
    assert view.name == "Widgets"
    with db.read() as session:
        # The old name finds the organisation (pages redirect), and nobody may take it.
        assert organisations.get_organisation(session, "ACME").name == "Widgets"
        assert organisation_names.old_names(
            session, organisations.get_organisation(session, "widgets")
        ) == ["acme"]
    with db.write() as session:
        with pytest.raises(Conflict, match="taken"):
            organisation_requests.file_request(session, "sam", "acme")
        with pytest.raises(Conflict, match="taken"):
            organisations.create_organisation(session, "Acme", "sam", actor=HOST)
        session.rollback()
    with db.write() as session:
        organisations.create_organisation(session, "Other", "sam", actor=HOST)
    with db.write() as session, pytest.raises(Conflict, match="taken"):
        organisations.rename_organisation(session, "other", "acme", actor="sam")
    with db.write() as session:  # its own old name it may take back
        assert (
            organisations.rename_organisation(session, "widgets", "Acme", actor="olga").name
            == "Acme"
        )


def test_renames_cannot_hoard_names(db: Database) -> None:
    with db.write() as session:
        organisations.create_organisation(session, "n0", "olga", actor=HOST)
    for n in range(1, organisation_names.MAX_NAMES):
        with db.write() as session:
            organisations.rename_organisation(session, f"n{n - 1}", f"n{n}", actor="olga")
    with db.write() as session, pytest.raises(Conflict, match="most an organisation"):
        organisations.rename_organisation(session, "n9", "n10", actor="olga")
    with db.write() as session:  # the host is not bound; old names cost nothing
        organisations.rename_organisation(session, "n9", "n0", actor="olga")
        organisations.rename_organisation(session, "n0", "n10", actor=HOST)


def test_delete_needs_no_projects_and_keeps_the_name_reserved(db: Database) -> None:
    with db.write() as session:
        organisations.create_organisation(session, "Acme", "olga", actor=HOST)
        organisations.add_project(session, "acme", "Thing", actor="olga")
        teams.create_team(session, "acme", "Readers", actor="olga")
    with db.write() as session, pytest.raises(Conflict, match="still owns 1 project"):
        organisations.delete_organisation(session, "acme", actor="olga")
    with db.write() as session:
        organisations.remove_project(session, "acme", "Thing", actor="olga")
        organisations.delete_organisation(session, "acme", actor="olga")
    with db.read() as session:
        assert organisations.find_organisation(session, "acme") is None
        assert session.scalar(select(func.count()).select_from(Team)) == 0
    with db.write() as session, pytest.raises(Conflict, match="was deleted"):
        organisation_requests.file_request(session, "sam", "Acme")
    with db.write() as session:  # an admin may give it again, knowingly
        assert organisations.create_organisation(session, "ACME", "sam", actor=HOST).owners == (
            "sam",
        )
