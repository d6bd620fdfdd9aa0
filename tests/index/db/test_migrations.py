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


def test_schema_head_constant_is_alembics_head(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'x.sqlite3'}")
    assert ScriptDirectory.from_config(db.alembic_config()).get_current_head() == SCHEMA_HEAD


def test_migrations_produce_exactly_the_models(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'x.sqlite3'}")
    assert db.schema_status() == (None, SCHEMA_HEAD)
    db.migrate()
    assert db.schema_status() == (SCHEMA_HEAD, SCHEMA_HEAD)
    with db.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    db.migrate()  # idempotent
    db.dispose()


def test_0010_lists_public_and_existing_issuers_and_keeps_an_existing_indexs_audience(
    tmp_path: Path,
) -> None:
    """Issue 14, findings 5 and 4 on upgrade: the issuers existing publishers name stay allowed
    (without private addresses), and an index whose CI jobs already ask for the audience
    ``trustyard`` keeps it; a new index gets a generated one."""
    from alembic import command  # noqa: PLC0415
    from sqlalchemy import text  # noqa: PLC0415

    from trustyard.index.services.issuers import PUBLIC_ISSUERS  # noqa: PLC0415

    old = Database(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    command.upgrade(old.alembic_config(), "0008")
    with old.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO publishers (project_id, pending_name, kind, issuer, lookup, config,"
                " added_by, created) VALUES (NULL, 'x', 'oidc', 'https://ci.example.com', '',"
                " '{}', 'alice', '2026-01-01 00:00:00')"
            )
        )
    old.migrate()
    with old.engine.connect() as conn:
        rows = conn.execute(text("SELECT url, allow_private_address FROM trusted_issuers"))
        issuers = {str(url): bool(private) for url, private in rows}
        audience = conn.execute(text("SELECT value FROM index_settings")).scalars().all()
    old.dispose()
    assert set(issuers) == {*PUBLIC_ISSUERS, "https://ci.example.com"}
    assert not any(issuers.values())
    assert audience == ["trustyard"]

    new = Database(f"sqlite:///{tmp_path / 'new.sqlite3'}")
    new.migrate()
    with new.engine.connect() as conn:
        audience = conn.execute(text("SELECT value FROM index_settings")).scalars().all()
        listed = conn.execute(text("SELECT url FROM trusted_issuers")).scalars().all()
    new.dispose()
    assert set(listed) == set(PUBLIC_ISSUERS)
    assert len(audience) == 1
    assert audience[0].startswith("trustyard-")
    assert audience[0] != "trustyard"
