"""user names unique whatever their case (a unique index on lower(username))

Revision ID: 0015
Revises: 0012
Create Date: 2026-12-07 09:00:00.000000

Accounts that already differ only in case are neither merged nor dropped: which of them is the
real one is the operator's call, so the migration stops, names them, and changes nothing until
all but one of each group are renamed.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from trustyard.errors import ConfigurationError

revision = "0015"
down_revision = "0012"
branch_labels = None
depends_on = None

INDEX = "ix_users_username_lower"


class CaseDuplicateUsers(ConfigurationError):
    """Existing accounts whose names differ only in case block the unique index."""


def _case_duplicates() -> list[list[tuple[int, str]]]:
    rows = op.get_bind().execute(sa.text("SELECT id, username FROM users ORDER BY id")).all()
    groups: dict[str, list[tuple[int, str]]] = {}
    for user_id, username in rows:
        groups.setdefault(str(username).lower(), []).append((int(user_id), str(username)))
    return [group for group in groups.values() if len(group) > 1]


def upgrade() -> None:
    duplicates = _case_duplicates()
    if duplicates:
        listed = "; ".join(
            ", ".join(repr(name) for _id, name in group)
            + " (ids "
            + ", ".join(str(user_id) for user_id, _name in group)
            + ")"
            for group in duplicates
        )
        raise CaseDuplicateUsers(
            "cannot make user names unique whatever their case: these accounts' names differ"
            f" only in case: {listed}. Keep one name of each group, give the others new names"
            " in the database (column users.username, by id) and start again; nothing was"
            " changed"
        )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.create_index(INDEX, [sa.text("lower(username)")], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_index(INDEX)
