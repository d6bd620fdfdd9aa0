"""trusted publishing

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 10:04:28.785609
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "oidc_key_sets",
        sa.Column("issuer", sa.String(length=500), nullable=False),
        sa.Column("keys", sa.JSON(), nullable=False),
        sa.Column("fetched", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("issuer"),
    )
    op.create_table(
        "used_jtis",
        sa.Column("issuer", sa.String(length=500), nullable=False),
        sa.Column("jti", sa.String(length=500), nullable=False),
        sa.Column("expires", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("issuer", "jti"),
    )
    with op.batch_alter_table("used_jtis", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_used_jtis_expires"), ["expires"], unique=False)

    op.create_table(
        "publishers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=True),
        sa.Column("pending_name", sa.String(length=200), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("issuer", sa.String(length=500), nullable=False),
        sa.Column("lookup", sa.String(length=500), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("added_by", sa.String(length=200), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("publishers", schema=None) as batch_op:
        batch_op.create_index("ix_publishers_match", ["kind", "issuer", "lookup"], unique=False)
        batch_op.create_index(batch_op.f("ix_publishers_project_id"), ["project_id"], unique=False)

    with op.batch_alter_table("tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("publisher_id", sa.Integer(), nullable=True))
        batch_op.alter_column("user_id", existing_type=sa.INTEGER(), nullable=True)
        batch_op.create_foreign_key(
            "fk_tokens_publisher_id", "publishers", ["publisher_id"], ["id"], ondelete="CASCADE"
        )


def downgrade() -> None:
    with op.batch_alter_table("tokens", schema=None) as batch_op:
        batch_op.drop_constraint("fk_tokens_publisher_id", type_="foreignkey")
        batch_op.alter_column("user_id", existing_type=sa.INTEGER(), nullable=False)
        batch_op.drop_column("publisher_id")

    with op.batch_alter_table("publishers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_publishers_project_id"))
        batch_op.drop_index("ix_publishers_match")

    op.drop_table("publishers")
    with op.batch_alter_table("used_jtis", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_used_jtis_expires"))

    op.drop_table("used_jtis")
    op.drop_table("oidc_key_sets")
