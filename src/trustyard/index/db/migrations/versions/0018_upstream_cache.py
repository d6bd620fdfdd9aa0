"""upstream cache: project pages, files and counters of the pull-through proxy (issue 17)

Revision ID: 0018
Revises: 0016
Create Date: 2026-12-07 15:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "upstream_projects",
        sa.Column("normalized_name", sa.String(length=200), nullable=False),
        sa.Column("found", sa.Boolean(), nullable=False),
        sa.Column("document", sa.JSON(), nullable=True),
        sa.Column("etag", sa.Text(), nullable=True),
        sa.Column("fetched", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("normalized_name"),
    )
    op.create_table(
        "upstream_files",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("project", sa.String(length=200), nullable=False),
        sa.Column("filename", sa.String(length=400), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("stored", sa.DateTime(), nullable=True),
        sa.Column("metadata_sha256", sa.String(length=64), nullable=True),
        sa.Column("metadata_stored", sa.DateTime(), nullable=True),
        sa.Column("provenance", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("sha256"),
    )
    with op.batch_alter_table("upstream_files", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_upstream_files_project"), ["project"], unique=False)
    op.create_table(
        "upstream_counters",
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("upstream_counters")
    with op.batch_alter_table("upstream_files", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_upstream_files_project"))
    op.drop_table("upstream_files")
    op.drop_table("upstream_projects")
