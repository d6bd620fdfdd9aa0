"""trusted issuers and index settings: the admin's allow-list of OIDC issuers, and the index's
own Trusted Publishing audience (issue 14, findings 5 and 4)

Revision ID: 0010
Revises: 0015
Create Date: 2026-12-07 09:00:00.000000
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0015"
branch_labels = None
depends_on = None

# The public issuers allowed on every new index (an admin may remove them); kept here as
# literals: a migration must not change when the code's defaults do.
PUBLIC_ISSUERS = (
    "https://token.actions.githubusercontent.com",
    "https://gitlab.com",
    "https://accounts.google.com",
)
# What every index answered at /_/oidc/audience before this revision.
OLD_AUDIENCE = "trustyard"


def upgrade() -> None:
    issuers = op.create_table(
        "trusted_issuers",
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("allow_private_address", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("added_by", sa.String(length=200), nullable=True),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("url"),
    )
    settings = op.create_table(
        "index_settings",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    connection = op.get_bind()
    # The issuers existing publishers name keep working (without private addresses: an admin
    # re-adds an internal issuer with --allow-private-address), and the public ones are allowed.
    in_use = [
        row[0] for row in connection.execute(sa.text("SELECT DISTINCT issuer FROM publishers"))
    ]
    now = datetime.now(UTC).replace(tzinfo=None)
    wanted = dict.fromkeys([*PUBLIC_ISSUERS, *sorted(in_use)])
    op.bulk_insert(
        issuers,
        [
            {"url": url, "allow_private_address": False, "added_by": None, "created": now}
            for url in wanted
        ],
    )
    # An index whose CI jobs already mint tokens for "trustyard" keeps that audience; a new one
    # (no publishers yet) gets its own, so that no two indexes accept each other's tokens.
    audience = OLD_AUDIENCE if in_use else f"trustyard-{secrets.token_hex(8)}"
    op.bulk_insert(settings, [{"name": "oidc_audience", "value": audience}])


def downgrade() -> None:
    op.drop_table("index_settings")
    op.drop_table("trusted_issuers")
