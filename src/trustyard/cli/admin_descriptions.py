"""``trustyard admin descriptions rerender``: render every stored description again, for
releases uploaded before a renderer upgrade (issue 20: images hosted elsewhere become links)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from trustyard.cli.options import add_index_options, settings_from
from trustyard.index.context import open_index
from trustyard.index.services import descriptions

HELP = "render every release's description again with today's renderer"


def register(groups: Any) -> None:
    """Add ``admin descriptions rerender`` to the ``admin`` groups."""
    group = groups.add_parser("descriptions", help="stored descriptions").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    p: argparse.ArgumentParser = group.add_parser(
        "rerender",
        help=HELP,
        description=HELP
        + " (descriptions are rendered once, at upload; run this after an upgrade whose"
        " changelog says the renderer changed). Safe to re-run, and while the index serves.",
    )
    add_index_options(p)
    p.add_argument("--dry-run", action="store_true", help="count what would change; change nothing")
    p.set_defaults(run=rerender)


def rerender(args: argparse.Namespace) -> int:
    """Re-render, then print ``releases changed`` counts (journalled unless a dry run)."""
    ctx = open_index(settings_from(args))
    try:
        done = descriptions.rerender_all(ctx.db, ctx.descriptions, dry_run=args.dry_run)
    finally:
        ctx.descriptions.close()
    verb = "would change" if args.dry_run else "changed"
    print(f"{done.releases} releases read, {done.changed} {verb}", file=sys.stderr)
    return 0
