"""reserved namespaces (PEP 752): prefixes only their owners may create projects under
(issue 17)

Revision ID: 0019
Revises: 0016
Create Date: 2026-12-07 15:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "namespaces",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("prefix", sa.String(length=200), nullable=False),
        sa.Column("normalized_prefix", sa.String(length=200), nullable=False),
        sa.Column("added_by", sa.String(length=200), nullable=True),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("normalized_prefix"),
    )
    op.create_table(
        "namespace_owners",
        sa.Column("namespace_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("added_by", sa.String(length=200), nullable=True),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["namespace_id"], ["namespaces.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("namespace_id", "user_id"),
    )
    with op.batch_alter_table("namespace_owners", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_namespace_owners_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("namespace_owners", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_namespace_owners_user_id"))
    op.drop_table("namespace_owners")
    op.drop_table("namespaces")
