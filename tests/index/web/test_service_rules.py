"""The rules of project settings hold in the service layer itself, whatever page calls it:
run against a real (SQLite) catalogue, no server in between."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from trustyard.errors import Conflict, Forbidden, InvalidInput, NotFound
from trustyard.index.db.engine import Database
from trustyard.index.db.migrations import SCHEMA_HEAD
from trustyard.index.services import accounts, collaborators, journal, projects
from trustyard.index.web import service


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty catalogue at the newest schema, migrated once for the module."""
    path = tmp_path_factory.mktemp("rules") / "template.sqlite3"
    database = Database(f"sqlite:///{path}")
    database.migrate()
    database.dispose()
    return path


@pytest.fixture
def db(migrated: Path, tmp_path: Path) -> Iterator[Database]:
    copy = tmp_path / "rules.sqlite3"
    shutil.copyfile(migrated, copy)
    database = Database(f"sqlite:///{copy}")
    assert database.current_revision() == SCHEMA_HEAD
    with database.write() as session:
        for name in ("olga", "mia", "sam", "root"):
            accounts.create_user(session, name, "long enough password")
        projects.create_project(session, "Thing", owner="olga")
        collaborators.add_collaborator(session, "thing", "mia", "maintainer", actor="olga")
    yield database
    database.dispose()


def _roles(db: Database) -> dict[str, str]:
    with db.read() as session:
        return {c.username: c.role for c in collaborators.list_collaborators(session, "thing")}


def test_maintainers_cannot_add_or_remove_owners(db: Database) -> None:
    with pytest.raises(Forbidden), db.write() as session:
        collaborators.add_collaborator(session, "thing", "sam", "owner", actor="mia")
    with pytest.raises(Forbidden), db.write() as session:
        collaborators.remove_collaborator(session, "thing", "olga", actor="mia")
    with pytest.raises(Forbidden), db.write() as session:  # a stranger can do nothing
        collaborators.add_collaborator(session, "thing", "sam", "maintainer", actor="sam")
    assert _roles(db) == {"olga": "owner", "mia": "maintainer"}
    with db.write() as session:
        collaborators.add_collaborator(session, "thing", "sam", "maintainer", actor="mia")
    assert _roles(db) == {"olga": "owner", "mia": "maintainer", "sam": "maintainer"}


def test_the_last_owner_stays(db: Database) -> None:
    with pytest.raises(Conflict, match="last owner"), db.write() as session:
        collaborators.remove_collaborator(session, "thing", "olga", actor="olga")
    with db.write() as session:
        collaborators.add_collaborator(session, "thing", "sam", "owner", actor="olga")
        collaborators.remove_collaborator(session, "thing", "olga", actor="sam")
    with pytest.raises(Conflict, match="last owner"), db.write() as session:
        collaborators.remove_collaborator(session, "thing", "sam", actor="sam")
    assert _roles(db) == {"sam": "owner", "mia": "maintainer"}


def test_bad_roles_and_unknown_users_are_refused(db: Database) -> None:
    with pytest.raises(InvalidInput), db.write() as session:
        collaborators.add_collaborator(session, "thing", "sam", "admin", actor="olga")
    with pytest.raises(NotFound), db.write() as session:
        collaborators.add_collaborator(session, "thing", "nobody", "maintainer", actor="olga")
    with pytest.raises(NotFound), db.write() as session:
        collaborators.remove_collaborator(session, "thing", "sam", actor="olga")
    with pytest.raises(Conflict), db.write() as session:
        collaborators.add_collaborator(session, "thing", "mia", "owner", actor="olga")


def test_history_lists_the_projects_entries_newest_first(db: Database) -> None:
    with db.read() as session:
        entries = journal.project_history(session, "THING")
    assert [e.action for e in entries] == ["add maintainer mia", "create"]
    assert [e.actor for e in entries] == ["olga", "olga"]
    assert entries[0].serial > entries[1].serial


def test_admin_flag_is_required(db: Database) -> None:
    with db.read() as session:
        root_id = accounts.get_user(session, "root").id
    with pytest.raises(Forbidden), db.read() as session:
        service.require_admin(session, root_id)
    with db.write() as session:
        accounts.set_admin(session, "root", admin=True, actor=None)
    with db.read() as session:
        assert service.require_admin(session, root_id).username == "root"
        assert [u.username for u in service.all_users(session) if u.is_admin] == ["root"]
        (row,) = service.all_projects(session)
        assert (row.name, row.owners, row.releases) == ("Thing", ["olga"], 0)
