"""organisations requested from the web, their name catalogue and display names; team reader
policies and the tokens minted through them (issue 20)

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-07 22:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("organisations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("display_name", sa.String(length=100), server_default="", nullable=False)
        )
    op.create_table(
        "organisation_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("normalized_name", sa.String(length=100), nullable=False),
        sa.Column("display_name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.Column("decided", sa.DateTime(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["organisation_id"], ["organisations.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("organisation_requests", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_organisation_requests_normalized_name"), ["normalized_name"]
        )
        batch_op.create_index(batch_op.f("ix_organisation_requests_status"), ["status"])
        batch_op.create_index(batch_op.f("ix_organisation_requests_user_id"), ["user_id"])
    op.create_table(
        "organisation_names",
        sa.Column("normalized_name", sa.String(length=100), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=True),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("retired", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["organisation_id"], ["organisations.id"]),
        sa.PrimaryKeyConstraint("normalized_name"),
    )
    with op.batch_alter_table("organisation_names", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_organisation_names_organisation_id"), ["organisation_id"]
        )
    # Every organisation's current name enters the catalogue.
    op.execute(
        "INSERT INTO organisation_names (normalized_name, organisation_id, created)"
        " SELECT normalized_name, id, created FROM organisations"
    )
    op.create_table(
        "team_reader_policies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("issuer", sa.String(length=500), nullable=False),
        sa.Column("lookup", sa.String(length=500), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("added_by", sa.String(length=200), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("team_reader_policies", schema=None) as batch_op:
        batch_op.create_index("ix_team_reader_policies_match", ["kind", "issuer", "lookup"])
        batch_op.create_index(batch_op.f("ix_team_reader_policies_team_id"), ["team_id"])
    op.create_table(
        "token_team_readers",
        sa.Column("token_id", sa.String(length=32), nullable=False),
        sa.Column("team_reader_policy_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["token_id"], ["tokens.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["team_reader_policy_id"], ["team_reader_policies.id"], ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("token_id", "team_reader_policy_id"),
    )
    with op.batch_alter_table("token_team_readers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_token_team_readers_team_reader_policy_id"), ["team_reader_policy_id"]
        )


def downgrade() -> None:
    """Back to project reader policies only; the tokens minted through a team's policy lose
    what they read through it (their rows go with the table)."""
    op.drop_table("token_team_readers")
    op.drop_table("team_reader_policies")
    op.drop_table("organisation_names")
    op.drop_table("organisation_requests")
    op.drop_column("organisations", "display_name")  # SQLite >= 3.35 drops columns in place
