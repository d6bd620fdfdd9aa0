"""description html: each release's description rendered once and stored

Revision ID: 0011
Revises: 0008
Create Date: 2026-12-07 09:00:00.000000

Pages used to render the description on every view (issue 14, finding 2); uploads now render
it once, in a worker process under a time budget, and store the HTML. This migration adds the
column and renders the releases already in the catalogue the same way (a description that fails
keeps an escaped plain-text fallback), so that no page view ever renders.
"""

from __future__ import annotations

import os

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("releases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("description_html", sa.Text(), nullable=True))
    # Imported here: the renderer (docutils, markdown-it) is only needed when upgrading.
    from trustyard.index.services.descriptions import (  # noqa: PLC0415
        DescriptionRenderer,
        render_missing,
    )

    renderer = DescriptionRenderer(workers=max(1, min(4, os.cpu_count() or 1)))
    try:
        render_missing(op.get_bind(), renderer)
    finally:
        renderer.close()


def downgrade() -> None:
    with op.batch_alter_table("releases", schema=None) as batch_op:
        batch_op.drop_column("description_html")
