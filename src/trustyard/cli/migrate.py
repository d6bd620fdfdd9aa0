"""``trustyard migrate``: bring the catalogue's schema up to this trustyard's revision.

A separate, deliberate step (``serve`` refuses a schema that is behind), so that operators of
several instances upgrade once, after a backup, rather than on whichever instance starts first.
"""

from __future__ import annotations

import argparse
from typing import Any

from trustyard.cli.options import add_index_options, settings_from


def register(commands: Any) -> None:
    """Add the ``migrate`` command."""
    parser: argparse.ArgumentParser = commands.add_parser(
        "migrate",
        help="upgrade the index's database schema",
        description="Upgrade the index's database schema to this trustyard's revision (Alembic).",
    )
    add_index_options(parser)
    parser.add_argument(
        "--check",
        action="store_true",
        help="change nothing; exit 1 when the schema is not current",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Upgrade (or with ``--check`` only report) and print the revision reached."""
    from trustyard.index.db.engine import Database  # noqa: PLC0415 - SQLAlchemy only here

    settings = settings_from(args)
    if settings.database is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.database_url)
    try:
        before, head = db.schema_status()
        if args.check:
            print(f"schema at {before or 'nothing'}, this trustyard needs {head}")
            return 0 if before == head else 1
        db.migrate()
        after, _ = db.schema_status()
    finally:
        db.dispose()
    if before == after:
        print(f"schema already at {after}")
    else:
        print(f"schema upgraded from {before or 'nothing'} to {after}")
    return 0
