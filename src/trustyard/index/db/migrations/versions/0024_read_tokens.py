"""read tokens: read-only API tokens and Trusted Reading (issue 20)

Revision ID: 0024
Revises: 0022
Create Date: 2026-12-07 18:20:00.000000

``tokens.read_only`` (false for every existing token: they keep uploading) and
``tokens.reader_identity`` (the CI identity of a token minted by Trusted Reading); the
per-project reader policies and the projects each minted read token may read.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ALTER TABLE (no batch rebuild): SQLite adds a column with a constant default in
    # place, and a rebuild of ``tokens`` would reflect ``users``' expression index.
    op.add_column(
        "tokens", sa.Column("read_only", sa.Boolean(), server_default=sa.false(), nullable=False)
    )
    op.add_column("tokens", sa.Column("reader_identity", sa.Text(), nullable=True))
    op.create_table(
        "reader_policies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("issuer", sa.String(length=500), nullable=False),
        sa.Column("lookup", sa.String(length=500), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("added_by", sa.String(length=200), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"]),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("reader_policies", schema=None) as batch_op:
        batch_op.create_index("ix_reader_policies_match", ["kind", "issuer", "lookup"])
        batch_op.create_index(batch_op.f("ix_reader_policies_project_id"), ["project_id"])
    op.create_table(
        "token_readers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_id", sa.String(length=32), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("publisher_id", sa.Integer(), nullable=True),
        sa.Column("reader_policy_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["token_id"], ["tokens.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"]),
        sa.ForeignKeyConstraint(["publisher_id"], ["publishers.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["reader_policy_id"], ["reader_policies.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("token_readers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_token_readers_token_id"), ["token_id"])
        batch_op.create_index(batch_op.f("ix_token_readers_project_id"), ["project_id"])
        batch_op.create_index(batch_op.f("ix_token_readers_publisher_id"), ["publisher_id"])
        batch_op.create_index(batch_op.f("ix_token_readers_reader_policy_id"), ["reader_policy_id"])


def downgrade() -> None:
    """Back to upload tokens only: read tokens are revoked, or they would upload."""
    op.execute("UPDATE tokens SET revoked = true WHERE read_only = true")
    op.drop_table("token_readers")
    op.drop_table("reader_policies")
    op.drop_column("tokens", "reader_identity")  # SQLite >= 3.35 drops columns in place
    op.drop_column("tokens", "read_only")
