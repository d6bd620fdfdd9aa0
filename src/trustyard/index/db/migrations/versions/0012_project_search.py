"""project search: a derived search table, its triggers and text index (issue 14, finding 7)

Revision ID: 0012
Revises: 0009
Create Date: 2026-12-07 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from trustyard.index.db import search_schema

revision = "0012"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "project_search",
        sa.Column("project_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("normalized_name", sa.String(length=200), nullable=False),
        sa.Column("version", sa.String(length=100), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("project_id"),
    )
    with op.batch_alter_table("project_search", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_project_search_normalized_name"), ["normalized_name"], unique=False
        )
    # The FTS5 table or trigram index, the triggers, and a row for every existing project.
    search_schema.install(op.get_bind())


def downgrade() -> None:
    search_schema.uninstall(op.get_bind())
    with op.batch_alter_table("project_search", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_project_search_normalized_name"))
    op.drop_table("project_search")
