"""upload validation: burnt distribution keys, the file a release's dependencies come from,
normalised release versions (issue 14, findings 11, 12 and 14)

Revision ID: 0014
Revises: 0011
Create Date: 2026-12-07 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from packaging.version import InvalidVersion, Version

from trustyard.dists.filenames import InvalidFilename, distribution_key, parse_dist_filename

revision = "0014"
down_revision = "0011"
branch_labels = None
depends_on = None

_registry = sa.table(
    "filename_registry", sa.column("filename", sa.String), sa.column("dist_key", sa.String)
)
_releases = sa.table("releases", sa.column("id", sa.Integer), sa.column("version", sa.String))


def upgrade() -> None:
    with op.batch_alter_table("filename_registry", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dist_key", sa.String(length=600), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_filename_registry_dist_key"), ["dist_key"], unique=False
        )
    with op.batch_alter_table("releases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("metadata_file", sa.String(length=400), nullable=True))

    bind = op.get_bind()
    # Every name ever accepted burns its distribution key too, deleted files' names included.
    for (filename,) in bind.execute(sa.select(_registry.c.filename)).all():
        try:
            key = distribution_key(parse_dist_filename(filename))
        except InvalidFilename:
            continue
        bind.execute(
            _registry.update().where(_registry.c.filename == filename).values(dist_key=key)
        )
    # Releases are named by their normalised version, as PyPI stores it (str(Version)).
    for release_id, version in bind.execute(sa.select(_releases.c.id, _releases.c.version)).all():
        try:
            normalised = str(Version(version))
        except InvalidVersion:
            continue
        if normalised != version:
            bind.execute(
                _releases.update().where(_releases.c.id == release_id).values(version=normalised)
            )


def downgrade() -> None:
    with op.batch_alter_table("releases", schema=None) as batch_op:
        batch_op.drop_column("metadata_file")
    with op.batch_alter_table("filename_registry", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_filename_registry_dist_key"))
        batch_op.drop_column("dist_key")
