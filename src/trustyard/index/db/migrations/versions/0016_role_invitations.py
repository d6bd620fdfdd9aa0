"""role invitations: a role is offered, and granted when the invitee accepts (issue 14,
finding 3)

Revision ID: 0016
Revises: 0010
Create Date: 2026-12-07 12:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "role_invitations",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("invited_by", sa.String(length=100), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("expires", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"]),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("user_id", "project_id"),
    )
    with op.batch_alter_table("role_invitations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_role_invitations_project_id"), ["project_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("role_invitations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_role_invitations_project_id"))
    op.drop_table("role_invitations")
