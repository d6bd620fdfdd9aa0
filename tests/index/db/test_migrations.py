"""The schema is created only through migrations, and they match the models.

Single-backend by nature: these are SQLite's migrations (PostgreSQL's are checked in
``test_postgresql.py``); no index server runs here.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

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


def minted_tokens_survive_the_token_publishers_migration(db: Database) -> None:
    """A token minted before 0009 (bound to one publisher by ``tokens.publisher_id``) keeps
    working after it: bound to that publisher in ``token_publishers``, named by its identity.
    Shared with ``test_postgresql.py``."""
    command.upgrade(db.alembic_config(), "0008")
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO projects (id, name, normalized_name, created, last_serial)"
                " VALUES (1, 'p', 'p', '2026-12-01 00:00:00', 0)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO publishers (id, project_id, kind, issuer, lookup, config, added_by,"
                " created) VALUES (7, 1, 'github', 'https://token.actions.githubusercontent.com',"
                " 'octo/widgets', '{}', 'alice', '2026-12-01 00:00:00')"
            )
        )
        for token, publisher in (("minted", 7), ("users", None)):
            conn.execute(
                text(
                    "INSERT INTO tokens (id, publisher_id, secret_hash, description, created,"
                    " revoked) VALUES (:id, :publisher, 'x', '', '2026-12-01 00:00:00', false)"
                ),
                {"id": token, "publisher": publisher},
            )
    db.migrate()
    with db.engine.connect() as conn:
        tokens = conn.execute(text("SELECT id, publisher_identity FROM tokens ORDER BY id"))
        assert [tuple(row) for row in tokens] == [
            ("minted", "github:octo/widgets@https://token.actions.githubusercontent.com"),
            ("users", None),
        ]
        bound = conn.execute(text("SELECT token_id, publisher_id FROM token_publishers"))
        assert [tuple(row) for row in bound] == [("minted", 7)]
        tables = inspect(conn).get_table_names()
        assert "token_publishers_0009" not in tables
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    # And back: the one publisher returns to the token's own column.
    command.downgrade(db.alembic_config(), "0008")
    with db.engine.connect() as conn:
        rows = conn.execute(text("SELECT id, publisher_id FROM tokens ORDER BY id"))
        assert [tuple(row) for row in rows] == [("minted", 7), ("users", None)]


def test_minted_tokens_survive_the_token_publishers_migration(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'x.sqlite3'}")
    try:
        minted_tokens_survive_the_token_publishers_migration(db)
    finally:
        db.dispose()
