"""token publishers: a minted token acts for a CI identity and the publishers it matched

Revision ID: 0009
Revises: 0014
Create Date: 2026-12-07 09:00:00.000000

A Trusted Publishing token was bound to one publisher row (``tokens.publisher_id``); it now
names its CI identity (``tokens.publisher_identity``) and may upload to the project of every
publisher in ``token_publishers`` (issue 14, findings 6 and 17). Tokens minted before keep
working for their one publisher: the upgrade copies the binding over.

The old binding is parked in a plain table while ``tokens`` is rebuilt: on SQLite the batch
rebuild drops ``tokens``, and with foreign keys on that would empty a table referencing it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0014"
branch_labels = None
depends_on = None

_PARKED = "token_publishers_0009"


def upgrade() -> None:
    with op.batch_alter_table("tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("publisher_identity", sa.Text(), nullable=True))
    op.execute(
        "UPDATE tokens SET publisher_identity = (SELECT publishers.kind || ':' ||"
        " publishers.lookup || '@' || publishers.issuer FROM publishers"
        " WHERE publishers.id = tokens.publisher_id) WHERE publisher_id IS NOT NULL"
    )
    op.create_table(
        _PARKED,
        sa.Column("token_id", sa.String(length=32), nullable=False),
        sa.Column("publisher_id", sa.Integer(), nullable=False),
    )
    op.execute(
        "INSERT INTO token_publishers_0009 (token_id, publisher_id)"
        " SELECT id, publisher_id FROM tokens WHERE publisher_id IS NOT NULL"
    )
    with op.batch_alter_table("tokens", schema=None) as batch_op:
        batch_op.drop_constraint("fk_tokens_publisher_id", type_="foreignkey")
        batch_op.drop_column("publisher_id")
    op.create_table(
        "token_publishers",
        sa.Column("token_id", sa.String(length=32), nullable=False),
        sa.Column("publisher_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["publisher_id"], ["publishers.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["token_id"], ["tokens.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("token_id", "publisher_id"),
    )
    with op.batch_alter_table("token_publishers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_token_publishers_publisher_id"), ["publisher_id"], unique=False
        )
    op.execute(
        "INSERT INTO token_publishers (token_id, publisher_id)"
        " SELECT token_id, publisher_id FROM token_publishers_0009"
    )
    op.drop_table(_PARKED)


def downgrade() -> None:
    """Back to one publisher per token: the lowest of its publishers (as it was chosen)."""
    op.create_table(
        _PARKED,
        sa.Column("token_id", sa.String(length=32), nullable=False),
        sa.Column("publisher_id", sa.Integer(), nullable=False),
    )
    op.execute(
        "INSERT INTO token_publishers_0009 (token_id, publisher_id)"
        " SELECT token_id, min(publisher_id) FROM token_publishers GROUP BY token_id"
    )
    with op.batch_alter_table("token_publishers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_token_publishers_publisher_id"))
    op.drop_table("token_publishers")
    with op.batch_alter_table("tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("publisher_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            "fk_tokens_publisher_id", "publishers", ["publisher_id"], ["id"], ondelete="CASCADE"
        )
    op.execute(
        "UPDATE tokens SET publisher_id = (SELECT parked.publisher_id"
        " FROM token_publishers_0009 AS parked WHERE parked.token_id = tokens.id)"
    )
    # A minted token whose publishers are all gone would read as a user's token: revoke it.
    op.execute(
        "UPDATE tokens SET revoked = true WHERE publisher_identity IS NOT NULL"
        " AND publisher_id IS NULL"
    )
    with op.batch_alter_table("tokens", schema=None) as batch_op:
        batch_op.drop_column("publisher_identity")
    op.drop_table(_PARKED)
