"""journal actions unbounded

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21 11:08:55.169092
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("journal", schema=None) as batch_op:
        batch_op.alter_column(
            "action", existing_type=sa.VARCHAR(length=200), type_=sa.Text(), existing_nullable=False
        )


def downgrade() -> None:
    with op.batch_alter_table("journal", schema=None) as batch_op:
        batch_op.alter_column(
            "action", existing_type=sa.Text(), type_=sa.VARCHAR(length=200), existing_nullable=False
        )
