"""policy exceptions: admins' exceptions to the cooldown of upstream files (issue 18)

The cooldown itself and the emergency cut-off are index settings (``index_settings`` rows
``min_release_age`` and ``policy_cutoff``): no schema change.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 16:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "policy_exceptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project", sa.String(length=200), nullable=False),
        sa.Column("version", sa.String(length=100), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("expires", sa.DateTime(), nullable=True),
        sa.Column("revoked", sa.DateTime(), nullable=True),
        sa.Column("revoked_by", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("policy_exceptions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_policy_exceptions_project"), ["project"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("policy_exceptions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_policy_exceptions_project"))
    op.drop_table("policy_exceptions")
