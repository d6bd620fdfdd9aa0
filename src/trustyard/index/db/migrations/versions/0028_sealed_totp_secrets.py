"""TOTP keys sealed at rest: room for the sealed form (issue 20)

Revision ID: 0028
Revises: 0026
Create Date: 2026-12-07 22:00:00.000000

The column grows from 64 characters to 200: a sealed key (``ty1:<key id>:<nonce, ciphertext
and tag in base64url>``, services/secret_keys.py) is about 100. The keys themselves are sealed
by the server when it starts (the key file is the server's, not the migration's: a migration
run on another host, or before the file exists, cannot see it); until then a key in clear still
works. A downgrade refuses while sealed keys remain: the older code cannot open them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from trustyard.errors import ConfigurationError

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None


def _table(length: int) -> sa.Table:
    """The table as 0026 made it, with ``secret`` this long: given to batch mode so that SQLite's
    copy-and-move needs no reflection (which cannot read the users table's expression index)."""
    return sa.Table(
        "totp_secrets",
        sa.MetaData(),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), primary_key=True),
        sa.Column("secret", sa.String(length=length), nullable=False),
        sa.Column("confirmed", sa.Boolean(), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("last_step", sa.BigInteger(), nullable=True),
    )


class SealedSecretsRemain(ConfigurationError):
    """A downgrade below 0028 with sealed TOTP keys, which older code cannot open."""


def upgrade() -> None:
    with op.batch_alter_table("totp_secrets", copy_from=_table(64)) as batch_op:
        batch_op.alter_column(
            "secret",
            existing_type=sa.String(length=64),
            type_=sa.String(length=200),
            existing_nullable=False,
        )


def downgrade() -> None:
    sealed = (
        op.get_bind()
        .execute(sa.text("SELECT COUNT(*) FROM totp_secrets WHERE secret LIKE 'ty1:%'"))
        .scalar()
    )
    if sealed:
        raise SealedSecretsRemain(
            f"{sealed} TOTP key(s) are sealed with the index's key file, which the older"
            " trustyard cannot open: remove those factors (`trustyard admin user reset-2fa`)"
            " or restore a backup taken before the upgrade; nothing was changed"
        )
    with op.batch_alter_table("totp_secrets", copy_from=_table(200)) as batch_op:
        batch_op.alter_column(
            "secret",
            existing_type=sa.String(length=200),
            type_=sa.String(length=64),
            existing_nullable=False,
        )
