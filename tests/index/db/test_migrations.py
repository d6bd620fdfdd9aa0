"""The schema is created only through migrations, and they match the models.

Single-backend by nature: these are SQLite's migrations (PostgreSQL's are checked in
``test_postgresql.py``); no index server runs here.
"""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from trustyard.index.db.engine import Database
from trustyard.index.db.migrations import SCHEMA_HEAD
from trustyard.index.db.models import Base
from trustyard.index.db.search_schema import is_schema_object


def test_schema_head_constant_is_alembics_head(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'x.sqlite3'}")
    assert ScriptDirectory.from_config(db.alembic_config()).get_current_head() == SCHEMA_HEAD


def test_migrations_produce_exactly_the_models(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'x.sqlite3'}")
    assert db.schema_status() == (None, SCHEMA_HEAD)
    db.migrate()
    assert db.schema_status() == (SCHEMA_HEAD, SCHEMA_HEAD)
    with db.engine.connect() as conn:
        assert (
            compare_metadata(
                MigrationContext.configure(conn, opts={"include_name": is_schema_object}),
                Base.metadata,
            )
            == []
        )
    db.migrate()  # idempotent
    db.dispose()
