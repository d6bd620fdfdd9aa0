"""``index/context.py`` in-process: a new database gets its schema, a database behind or
ahead of this code is refused with the command to run, and the admin's command names the
database without its password."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from trustyard.index.context import SchemaBehind, migrate_command, open_index
from trustyard.index.db.engine import Database
from trustyard.settings import Settings


def test_a_new_database_is_created_only_when_asked(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    with pytest.raises(SchemaBehind, match="has no trustyard schema"):
        open_index(settings, migrate=False)
    ctx = open_index(settings)
    try:
        assert ctx.audience.startswith("trustyard-")
        again = open_index(settings, migrate=False)
        assert again.audience == ctx.audience
        again.db.dispose()
    finally:
        ctx.db.dispose()


def test_a_schema_behind_or_ahead_is_refused(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    open_index(settings).db.dispose()
    db = Database(settings.database_url)
    try:
        first = sorted(db.known_revisions())[0]
        with db.write() as session:
            session.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": first})
        with pytest.raises(SchemaBehind, match="run `trustyard migrate --data"):
            open_index(settings)
        with db.write() as session:
            session.execute(text("UPDATE alembic_version SET version_num = 'ffffffff'"))
        with pytest.raises(SchemaBehind, match="upgrade trustyard"):
            open_index(settings)
    finally:
        db.dispose()


def test_the_migrate_command_hides_the_password(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path, database="postgresql+psycopg://user:secret@db.example/trustyard"
    )
    command = migrate_command(settings)
    assert "secret" not in command
    assert command.startswith("trustyard migrate --database 'postgresql+psycopg://user:***@")
