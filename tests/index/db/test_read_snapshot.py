"""``Database.read()`` sees one snapshot of the catalogue, on SQLite and on PostgreSQL alike.

Checks made of several statements (the upload's "file exists? else: filename used before?")
must not see a write that commits between two of them: on PostgreSQL's default READ COMMITTED
each statement would see it, so a losing upload in a race was told that its filename "was
previously used by a file that has since been deleted" when nothing had been deleted.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from trustyard.index.db.engine import Database
from trustyard.index.db.models import User
from trustyard.index.services.accounts import create_user


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'catalogue.sqlite3'}"
    else:
        url = request.getfixturevalue("database_url")
    database = Database(url)
    database.migrate()
    yield database
    database.dispose()


def _users(db: Database) -> int:
    with db.read() as session:
        return session.scalar(select(func.count()).select_from(User)) or 0


def test_a_read_session_does_not_see_a_commit_made_during_it(db: Database) -> None:
    count = select(func.count()).select_from(User)
    with db.read() as session:
        before = session.scalar(count)
        with db.write() as writer:  # another connection commits in between
            create_user(writer, "late", "correct horse battery")
        during = session.scalar(count)
        names = session.scalars(select(User.username)).all()
    assert (before, during, names) == (0, 0, [])
    assert _users(db) == 1  # the next read session sees it


def test_writes_still_see_every_earlier_commit(database_url: str) -> None:
    """Write sessions stay at READ COMMITTED on PostgreSQL: a writer that waited on
    ``serialise`` must see what the writer before it committed (SQLite: one writer at a time)."""
    db = Database(database_url)
    db.migrate()
    try:
        with db.write() as writer:
            db.serialise(writer, "users")
            assert writer.scalar(select(func.count()).select_from(User)) == 0
            with db.write() as other:
                create_user(other, "meanwhile", "correct horse battery")
            assert writer.scalar(select(func.count()).select_from(User)) == 1
    finally:
        db.dispose()
