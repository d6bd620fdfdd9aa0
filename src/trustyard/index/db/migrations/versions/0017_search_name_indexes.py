"""search name indexes: PostgreSQL finds name fragments and prefixes by index (issue 14,
finding 7)

A trigram index of ``normalized_name`` alone (where pg_trgm is available) and a byte-ordered
("C" collation) index of it, so that a name fragment reads only names holding its trigrams and
a prefix is one range of names in SQLite's order. SQLite needs neither: this revision changes
nothing there.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 15:10:00.000000
"""

from __future__ import annotations

from alembic import op

from trustyard.index.db import search_schema

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    search_schema.install_name_indexes(op.get_bind())


def downgrade() -> None:
    search_schema.uninstall_name_indexes(op.get_bind())
