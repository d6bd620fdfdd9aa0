"""``trustyard reader``: CI identities that may mint read tokens for a project (Trusted Reading).

The same kinds and options as ``trustyard publisher add``; a project's publishers may read it
without a policy. From the index's host, like the other management commands.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from typing import Any

from trustyard.cli.options import add_index_options, settings_from
from trustyard.cli.publisher import kind_parsers
from trustyard.index.context import open_index
from trustyard.index.services import reader_policies
from trustyard.index.services.roles import HOST
from trustyard.oidc.publishers import KINDS


def register(commands: Any) -> None:
    """Add ``reader add|list|remove``."""
    group = commands.add_parser(
        "reader", help="manage the CI identities that may mint read tokens for projects"
    )
    actions = group.add_subparsers(dest="action", required=True, metavar="ACTION")

    add = actions.add_parser(
        "add", help="let a CI identity read a project (Trusted Reading), without publishing"
    )
    add.add_argument("project_name", metavar="PROJECT")
    kind_parsers(add, pending=False)
    add.set_defaults(run=run_add)

    listing = actions.add_parser("list", help="list a project's reader policies")
    listing.add_argument("project")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    add_index_options(listing)
    listing.set_defaults(run=run_list)

    remove = actions.add_parser("remove", help="remove a reader policy")
    remove.add_argument("project")
    remove.add_argument("id", type=int)
    add_index_options(remove)
    remove.set_defaults(run=run_remove)


def run_add(args: argparse.Namespace) -> int:
    """Register a reader policy and print its id."""
    ctx = open_index(settings_from(args))
    config = KINDS[args.kind].config_from_options(vars(args))
    with ctx.db.write() as session:
        row = reader_policies.add_reader_policy(
            session, args.project_name, args.kind, config, actor=HOST
        )
        print(row.id)
    return 0


def run_list(args: argparse.Namespace) -> int:
    """Print the policies, one per line (or JSON)."""
    ctx = open_index(settings_from(args))
    with ctx.db.read() as session:
        views = reader_policies.list_reader_policies(session, args.project, actor=HOST)
    if args.json:
        print(json.dumps([asdict(view) for view in views], indent=2))
        return 0
    for view in views:
        print(f"{view.id}\t{view.kind}\t{view.issuer}\t{view.description}")
    return 0


def run_remove(args: argparse.Namespace) -> int:
    """Remove one policy."""
    ctx = open_index(settings_from(args))
    with ctx.db.write() as session:
        reader_policies.remove_reader_policy(session, args.project, args.id, actor=HOST)
    print(f"removed reader policy {args.id} of {args.project}", file=sys.stderr)
    return 0
