"""project visibility: a project may be private on a public index (issue 20)

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07 18:10:00.000000

Plain ``ALTER TABLE`` on both backends (SQLite has ADD and DROP COLUMN since 3.35): a batch
rebuild of ``projects`` would drop a table every other table references, which SQLite refuses
while rows point at it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "projects",
        sa.Column("visibility", sa.String(length=20), nullable=False, server_default="public"),
    )
    op.create_index("ix_projects_visibility", "projects", ["visibility"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_projects_visibility", table_name="projects")
    op.drop_column("projects", "visibility")
