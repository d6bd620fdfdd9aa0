"""project limits: an admin's per-project file and total size limits

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.add_column(sa.Column("upload_limit", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("total_size_limit", sa.BigInteger(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_projects_upload_limit"), ["upload_limit"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_projects_upload_limit"))
        batch_op.drop_column("total_size_limit")
        batch_op.drop_column("upload_limit")
