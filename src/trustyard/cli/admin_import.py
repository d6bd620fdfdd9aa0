"""``trustyard admin import-dir``: files published elsewhere (pypiserver, devpi), as they are."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from trustyard.cli.options import add_index_options, settings_from
from trustyard.index.context import open_index
from trustyard.index.services import import_dir


def register(groups: Any) -> None:
    """Add ``admin import-dir DIR --owner NAME [--upload-time FROM-MTIME|ISO]``."""
    description = (
        "import the distribution files under DIR (a pypiserver directory, flat or one"
        " directory per project, or a devpi export), checked for integrity but not re-judged"
        " by today's upload rules; new projects are owned by --owner (in a reserved namespace"
        " only if they own it); a file already here is skipped, a filename here with other"
        " bytes is refused; exit status 1 if any file was refused"
    )
    p: argparse.ArgumentParser = groups.add_parser(
        "import-dir", help="import files already published elsewhere", description=description
    )
    add_index_options(p)
    p.set_defaults(run=import_directory)
    p.add_argument("directory", type=Path)
    p.add_argument("--owner", required=True, help="the user who owns the projects it creates")
    p.add_argument(
        "--upload-time",
        default=import_dir.FROM_MTIME,
        metavar="FROM-MTIME|ISO",
        help="each file's modification time (default), or one ISO 8601 time for all"
        " (2024-05-01T12:00:00Z; without an offset: UTC)",
    )


def import_directory(args: argparse.Namespace) -> int:
    """Import, printing one line per file on stdout and the summary on stderr."""
    upload_time = import_dir.parse_upload_time(args.upload_time)
    ctx = open_index(settings_from(args))
    try:
        report = import_dir.import_directory(
            db=ctx.db,
            storage=ctx.storage,
            settings=ctx.settings,
            descriptions=ctx.descriptions,
            directory=args.directory,
            owner=args.owner,
            upload_time=upload_time,
        )
    finally:
        ctx.descriptions.close()
    for result in report.results:
        print(f"{result.outcome}\t{result.path}\t{result.detail}")
    print(f"import-dir {args.directory}: {report.summary()}", file=sys.stderr)
    return 1 if report.refused else 0
