"""project visibility: a project may be private on a public index (issue 20)

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07 18:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("visibility", sa.String(length=20), nullable=False, server_default="public")
        )
        batch_op.create_index(batch_op.f("ix_projects_visibility"), ["visibility"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_projects_visibility"))
        batch_op.drop_column("visibility")
