"""publisher continuity: identities first seen or pinned, and per-file verdicts (issue 18)

Revision ID: 0022
Revises: 0020
Create Date: 2026-12-07 16:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "publisher_continuity",
        sa.Column("project", sa.String(length=200), nullable=False),
        sa.Column("identity", sa.JSON(), nullable=True),
        sa.Column("pinned", sa.Boolean(), nullable=False),
        sa.Column("baseline_sha256", sa.String(length=64), nullable=True),
        sa.Column("baseline_time", sa.String(length=40), nullable=True),
        sa.Column("set_by", sa.String(length=200), nullable=False),
        sa.Column("set_at", sa.DateTime(), nullable=False),
        sa.Column("hold_token_uploads", sa.Boolean(), nullable=True),
        sa.PrimaryKeyConstraint("project"),
    )
    op.create_table(
        "file_verdicts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("origin", sa.String(length=20), nullable=False),
        sa.Column("project", sa.String(length=200), nullable=False),
        sa.Column("filename", sa.String(length=400), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("verdict", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("expected", sa.JSON(), nullable=True),
        sa.Column("found", sa.JSON(), nullable=True),
        sa.Column("provenance", sa.JSON(), nullable=True),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.Column("decided", sa.DateTime(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("origin", "sha256", name="uq_file_verdicts_origin_sha256"),
    )
    op.create_index("ix_file_verdicts_project", "file_verdicts", ["project"])
    op.create_index("ix_file_verdicts_verdict", "file_verdicts", ["verdict"])


def downgrade() -> None:
    op.drop_index("ix_file_verdicts_verdict", table_name="file_verdicts")
    op.drop_index("ix_file_verdicts_project", table_name="file_verdicts")
    op.drop_table("file_verdicts")
    op.drop_table("publisher_continuity")
