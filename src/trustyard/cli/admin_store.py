"""``trustyard admin store sweep``: remove stored files that no catalogue row names."""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta
from typing import Any, NoReturn

from trustyard.cli.options import add_index_options, settings_from
from trustyard.errors import InvalidInput
from trustyard.index.context import open_index
from trustyard.index.services import store_hygiene
from trustyard.index.storage.base import StoredObject


class _OneLineErrors(argparse.ArgumentParser):
    """A usage error as one line and exit status 2, like every other trustyard error."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def _grace(text: str) -> timedelta:
    try:
        return store_hygiene.parse_grace(text)
    except InvalidInput as exc:
        raise argparse.ArgumentTypeError(exc.message) from exc


def register(groups: Any) -> None:
    """Add ``admin store sweep`` to the ``admin`` groups."""
    store = groups.add_parser("store", help="the file store").add_subparsers(
        dest="action", required=True, metavar="ACTION", parser_class=_OneLineErrors
    )
    description = (
        "remove stored files that no catalogue row names (left by a crash between storing an"
        " upload and committing it), once they are older than the grace period"
    )
    p = store.add_parser("sweep", help="remove orphaned stored files", description=description)
    add_index_options(p)
    p.add_argument(
        "--dry-run", action="store_true", help="list what would be removed; change nothing"
    )
    p.add_argument(
        "--grace",
        type=_grace,
        default="1h",
        metavar="DURATION",
        help="keep orphans younger than this: uploads in flight store before they commit"
        " (default 1h; 0 for none)",
    )
    p.set_defaults(run=store_sweep)


def _line(stored: StoredObject) -> str:
    return f"{stored.key}\t{stored.size}\t{stored.modified.isoformat(timespec='seconds')}"


def store_sweep(args: argparse.Namespace) -> int:
    """Print each orphan (key, bytes, written) on stdout and a summary on stderr."""
    ctx = open_index(settings_from(args))
    report = store_hygiene.sweep_orphans(
        ctx.db, ctx.storage, grace=args.grace, dry_run=args.dry_run
    )
    for stored in report.orphans if args.dry_run else report.removed:
        print(_line(stored))
    if args.dry_run:
        size = sum(stored.size for stored in report.orphans)
        done = f"would remove {len(report.orphans)} orphaned files ({size} bytes)"
    else:
        done = f"removed {len(report.removed)} orphaned files ({report.removed_bytes} bytes)"
    notes = [f"{report.scanned} keys scanned"]
    if report.recent:
        notes.append(f"{len(report.recent)} orphans kept: younger than the grace period")
    if report.foreign:
        notes.append(f"{len(report.foreign)} keys left alone: not shaped as the index's keys")
    print(f"{done}; {'; '.join(notes)}", file=sys.stderr)
    return 0
