"""The rules of project settings hold in the service layer itself, whatever page calls it:
run against a real (SQLite) catalogue, no server in between."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from trustyard.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthenticated
from trustyard.index.db.engine import Database
from trustyard.index.db.migrations import SCHEMA_HEAD
from trustyard.index.db.models import WebSession
from trustyard.index.services import accounts, collaborators, journal, projects, sessions
from trustyard.index.services.roles import HOST


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
        collaborators.add_collaborator(session, "thing", "mia", "maintainer", actor=HOST)
    yield database
    database.dispose()


def _roles(db: Database) -> dict[str, str]:
    with db.read() as session:
        return {c.username: c.role for c in collaborators.list_collaborators(session, "thing")}


def test_maintainers_cannot_add_or_remove_owners(db: Database) -> None:
    """PyPI's roles (issue 14, finding 3): only owners manage collaborators; anyone may leave."""
    with pytest.raises(Forbidden), db.write() as session:
        collaborators.add_collaborator(session, "thing", "sam", "owner", actor="mia")
    with pytest.raises(Forbidden), db.write() as session:
        collaborators.add_collaborator(session, "thing", "sam", "maintainer", actor="mia")
    with pytest.raises(Forbidden), db.write() as session:
        collaborators.remove_collaborator(session, "thing", "olga", actor="mia")
    with pytest.raises(Forbidden), db.write() as session:  # a stranger can do nothing
        collaborators.add_collaborator(session, "thing", "sam", "maintainer", actor="sam")
    assert _roles(db) == {"olga": "owner", "mia": "maintainer"}
    with db.write() as session:
        collaborators.remove_collaborator(session, "thing", "mia", actor="mia")  # mia leaves
    assert _roles(db) == {"olga": "owner"}


def test_the_last_owner_stays(db: Database) -> None:
    with pytest.raises(Conflict, match="last owner"), db.write() as session:
        collaborators.remove_collaborator(session, "thing", "olga", actor="olga")
    with db.write() as session:
        collaborators.add_collaborator(session, "thing", "sam", "owner", actor=HOST)
        collaborators.remove_collaborator(session, "thing", "olga", actor="sam")
    with pytest.raises(Conflict, match="last owner"), db.write() as session:
        collaborators.remove_collaborator(session, "thing", "sam", actor="sam")
    assert _roles(db) == {"sam": "owner", "mia": "maintainer"}


def test_bad_roles_and_unknown_users_are_refused(db: Database) -> None:
    with pytest.raises(InvalidInput), db.write() as session:
        collaborators.add_collaborator(session, "thing", "sam", "admin", actor=HOST)
    with pytest.raises(NotFound), db.write() as session:
        collaborators.add_collaborator(session, "thing", "nobody", "maintainer", actor=HOST)
    with pytest.raises(NotFound), db.write() as session:
        collaborators.remove_collaborator(session, "thing", "sam", actor="olga")
    with pytest.raises(Conflict), db.write() as session:
        collaborators.add_collaborator(session, "thing", "mia", "owner", actor=HOST)


def test_history_lists_the_projects_entries_newest_first(db: Database) -> None:
    with db.read() as session:
        entries = journal.project_history(session, "THING")
    assert [e.action for e in entries] == ["add maintainer mia", "create"]
    assert [e.actor for e in entries] == ["admin", "olga"]
    assert entries[0].serial > entries[1].serial


def test_admin_flag_is_required(db: Database) -> None:
    with db.read() as session:
        root_id = accounts.get_user(session, "root").id
    with pytest.raises(Forbidden), db.read() as session:
        accounts.require_admin(session, root_id)
    with db.write() as session:
        accounts.set_admin(session, "root", admin=True, actor=None)
    with db.read() as session:
        assert accounts.require_admin(session, root_id).username == "root"
        assert [u.username for u in accounts.all_users(session) if u.is_admin] == ["root"]
        (row,) = projects.all_projects(session)
        assert (row.name, row.owners, row.releases) == ("Thing", ["olga"], 0)


# -- roles changed in place --------------------------------------------------------------------


def test_only_owners_change_roles_and_the_last_owner_stays(db: Database) -> None:
    with pytest.raises(Forbidden, match="only an owner"), db.write() as session:
        collaborators.change_role(session, "thing", "mia", "owner", actor="mia")
    with pytest.raises(Forbidden), db.write() as session:  # a stranger
        collaborators.change_role(session, "thing", "mia", "owner", actor="sam")
    with pytest.raises(Conflict, match="last owner"), db.write() as session:
        collaborators.change_role(session, "thing", "olga", "maintainer", actor="olga")
    assert _roles(db) == {"olga": "owner", "mia": "maintainer"}
    with db.write() as session:
        collaborators.change_role(session, "thing", "mia", "owner", actor="olga")
    assert _roles(db) == {"olga": "owner", "mia": "owner"}
    with db.write() as session:  # two owners: one may step down to maintainer
        collaborators.change_role(session, "thing", "olga", "maintainer", actor="olga")
    assert _roles(db) == {"mia": "owner", "olga": "maintainer"}
    with pytest.raises(Forbidden), db.write() as session:  # olga is no longer an owner
        collaborators.change_role(session, "thing", "olga", "owner", actor="olga")
    with db.read() as session:
        actions = [e.action for e in journal.project_history(session, "thing")][:2]
    assert actions == [
        "change role of olga from owner to maintainer",
        "change role of mia from maintainer to owner",
    ]


def test_role_changes_refuse_bad_roles_unknown_users_and_no_change(db: Database) -> None:
    with pytest.raises(InvalidInput, match="must be one of owner, maintainer"), db.write() as s:
        collaborators.change_role(s, "thing", "mia", "admin", actor="olga")
    with pytest.raises(NotFound, match="no collaborator 'sam'"), db.write() as s:
        collaborators.change_role(s, "thing", "sam", "owner", actor="olga")
    with pytest.raises(NotFound, match="no collaborator 'nobody'"), db.write() as s:
        collaborators.change_role(s, "thing", "nobody", "owner", actor="olga")
    with pytest.raises(Conflict, match="already a maintainer"), db.write() as s:
        collaborators.change_role(s, "thing", "mia", "maintainer", actor="olga")
    with pytest.raises(NotFound), db.write() as s:
        collaborators.change_role(s, "no-such", "mia", "owner", actor="olga")
    assert _roles(db) == {"olga": "owner", "mia": "maintainer"}


# -- journal pages -----------------------------------------------------------------------------


def _churn(db: Database, times: int) -> None:
    """2 x ``times`` journal entries about thing (sam added and removed)."""
    for _ in range(times):
        with db.write() as session:
            collaborators.add_collaborator(session, "thing", "sam", "maintainer", actor=HOST)
        with db.write() as session:
            collaborators.remove_collaborator(session, "thing", "sam", actor="olga")


def test_history_pages_cover_every_entry_once_and_stay_put(db: Database) -> None:
    _churn(db, 4)  # thing: 2 + 8 = 10 entries
    with db.read() as session:
        everything = [e.serial for e in journal.project_history(session, "thing")]
        assert len(everything) == 10
        first = journal.history_page(session, "thing", limit=3)
    assert [e.serial for e in first.entries] == everything[:3]
    assert first.newer is None
    assert first.older == everything[2]
    _churn(db, 1)  # two newer entries arrive while someone pages
    seen = [e.serial for e in first.entries]
    cursor: int | None = first.older
    with db.read() as session:
        while cursor is not None:
            page = journal.history_page(session, "thing", before=cursor, limit=3)
            seen += [e.serial for e in page.entries]
            assert page.newer == page.entries[0].serial  # there is always a newer page here
            cursor = page.older
    assert seen == everything  # no entry lost or shown twice, the new ones did not shift pages
    with db.read() as session:
        back = journal.history_page(session, "thing", after=everything[3], limit=3)
        assert [e.serial for e in back.entries] == everything[:3]
        assert back.newer is not None  # the two entries added meanwhile
        assert back.older == everything[2]
        newest = journal.history_page(session, "thing", after=back.newer, limit=3)
        assert len(newest.entries) == 2
        assert newest.newer is None
        beyond = journal.history_page(session, "thing", before=1, limit=3)
        assert (beyond.entries, beyond.older, beyond.newer) == ([], None, None)


def test_the_whole_journal_pages_across_projects_and_refuses_bad_limits(db: Database) -> None:
    with db.read() as session:
        page = journal.history_page(session, None, limit=200)
        names = {e.project_name for e in page.entries}
        assert names == {None, "thing"}  # users created (no project) and the project's entries
        assert "create user olga" in [e.action for e in page.entries]
        for limit in (0, 201):
            with pytest.raises(ValueError, match="limit"):
                journal.history_page(session, None, limit=limit)
        with pytest.raises(ValueError, match="not both"):
            journal.history_page(session, None, before=5, after=1)


# -- disabling users, revoking tokens ----------------------------------------------------------


def test_a_disabled_user_cannot_sign_in_or_use_tokens_until_enabled(db: Database) -> None:
    with db.write() as session:
        token = accounts.create_token(session, "mia")
        assert sessions.sign_in(session, "mia", "long enough password", "127.0.0.1") is not None
    with db.read() as session:
        root_id = accounts.get_user(session, "root").id
    with db.write() as session:
        accounts.set_admin(session, "root", admin=True, actor=None)
    with pytest.raises(Forbidden), db.write() as session:  # mia is no admin
        accounts.set_user_disabled(
            session, accounts.get_user(session, "mia").id, "sam", disabled=True
        )
    with db.write() as session:
        accounts.set_user_disabled(session, root_id, "mia", disabled=True)
    with db.write() as session:
        assert sessions.sign_in(session, "mia", "long enough password", "127.0.0.1") is None
        with pytest.raises(Unauthenticated, match="the token's user is disabled"):
            accounts.authenticate_token(session, token)
        assert session.scalar(select(func.count()).select_from(WebSession)) == 0
    with pytest.raises(Conflict, match="already disabled"), db.write() as session:
        accounts.set_user_disabled(session, root_id, "mia", disabled=True)
    with pytest.raises(Conflict, match="your own account"), db.write() as session:
        accounts.set_user_disabled(session, root_id, "root", disabled=True)
    with pytest.raises(NotFound, match="no user named 'nobody'"), db.write() as session:
        accounts.set_user_disabled(session, root_id, "nobody", disabled=True)
    with db.write() as session:
        accounts.set_user_disabled(session, root_id, "mia", disabled=False)
    with db.write() as session:
        assert sessions.sign_in(session, "mia", "long enough password", "127.0.0.1") is not None
        assert accounts.authenticate_token(session, token).username == "mia"
    with db.read() as session:
        actions = [e.action for e in journal.history_page(session, None, limit=5).entries]
    assert "enable user mia" in actions
    assert "disable user mia" in actions


def test_revoking_all_tokens_of_a_user(db: Database) -> None:
    with db.write() as session:
        accounts.set_admin(session, "root", admin=True, actor=None)
        root_id = accounts.get_user(session, "root").id
        tokens = [accounts.create_token(session, "sam") for _ in range(3)]
        other = accounts.create_token(session, "mia")
        accounts.revoke_token(session, "sam", tokens[0].removeprefix("trustyard-").split(".")[0])
    with db.write() as session:
        assert accounts.revoke_user_tokens(session, root_id, "sam") == 2
    with db.write() as session:
        for token in tokens:
            with pytest.raises(Unauthenticated, match="revoked"):
                accounts.authenticate_token(session, token)
        assert accounts.authenticate_token(session, other).username == "mia"
        assert accounts.revoke_user_tokens(session, root_id, "sam") == 0
    with db.read() as session:
        actions = [e.action for e in journal.history_page(session, None, limit=2).entries]
    assert actions == ["revoke all 0 tokens of sam", "revoke all 2 tokens of sam"]
