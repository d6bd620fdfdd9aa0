"""``trustyard publisher``: the trusted publishers (OIDC identities) that may publish a project."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from trustyard.cli.options import add_index_options, settings_from
from trustyard.index.context import open_index
from trustyard.index.services import publishers
from trustyard.index.services.roles import HOST
from trustyard.oidc.publishers import KINDS


def kind_parsers(parser: argparse.ArgumentParser, *, pending: bool) -> None:
    """A subcommand per publisher kind, with an option per field of its configuration."""
    kinds = parser.add_subparsers(dest="kind", required=True, metavar="KIND")
    for kind in KINDS.values():
        sub = kinds.add_parser(kind.name, help=kind.summary)
        # --issuer, which every kind has, comes after the kind's own options
        for field in sorted(kind.fields, key=lambda f: f.name == "issuer"):
            if field.pairs_option:
                sub.add_argument(
                    field.option,
                    dest=field.name,
                    action="append",
                    default=[],
                    metavar="NAME=VALUE",
                    help=field.help,
                )
            else:
                sub.add_argument(field.option, required=field.required, default="", help=field.help)
        if pending:
            sub.add_argument("--owner", required=True, help="the user who will own the project")
        add_index_options(sub)


def config_of(args: argparse.Namespace) -> dict[str, str]:
    """The configuration the chosen kind's options give (``kind_parsers``)."""
    return KINDS[args.kind].config_from_options(vars(args))


def list_and_remove_parsers(
    actions: Any, what: str, target: str, *, run_list: Any, run_remove: Any
) -> None:
    """``list TARGET [--json]`` and ``remove TARGET ID``, for publishers and reader policies
    alike (``target`` names the positional: a project, or a project or a team)."""
    listing = actions.add_parser("list", help=f"list the {what} of {target}")
    listing.add_argument("project", metavar=target.upper().replace(" ", "_"))
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    add_index_options(listing)
    listing.set_defaults(run=run_list)

    remove = actions.add_parser("remove", help=f"remove one of the {what}")
    remove.add_argument("project", metavar=target.upper().replace(" ", "_"))
    remove.add_argument("id", type=int)
    add_index_options(remove)
    remove.set_defaults(run=run_remove)


def register(commands: Any) -> None:
    """Add ``publisher add|add-pending|list|remove``."""
    group = commands.add_parser("publisher", help="manage the trusted publishers of projects")
    actions = group.add_subparsers(dest="action", required=True, metavar="ACTION")

    add = actions.add_parser("add", help="let a CI identity publish a project")
    add.add_argument("project_name", metavar="PROJECT")
    kind_parsers(add, pending=False)
    add.set_defaults(run=run_add)

    pending = actions.add_parser(
        "add-pending", help="a publisher whose first publish creates the project"
    )
    pending.add_argument("project_name", metavar="PROJECT")
    kind_parsers(pending, pending=True)
    pending.set_defaults(run=run_add_pending)

    list_and_remove_parsers(
        actions, "publishers", "project", run_list=run_list, run_remove=run_remove
    )


def run_add(args: argparse.Namespace) -> int:
    """Register a publisher and print its id."""
    ctx = open_index(settings_from(args))
    with ctx.db.write() as session:
        row = publishers.add_publisher(
            session, args.project_name, args.kind, config_of(args), actor=HOST
        )
        print(row.id)
    return 0


def run_add_pending(args: argparse.Namespace) -> int:
    """Register a pending publisher and print its id."""
    ctx = open_index(settings_from(args))
    with ctx.db.write() as session:
        row = publishers.add_pending_publisher(
            ctx.db,
            session,
            args.project_name,
            args.kind,
            config_of(args),
            owner=args.owner,
            limit=ctx.settings.max_pending_publishers,
        )
        print(row.id)
    return 0


def run_list(args: argparse.Namespace) -> int:
    """Print the publishers, one per line (or JSON)."""
    ctx = open_index(settings_from(args))
    with ctx.db.read() as session:
        views = publishers.list_publishers(session, args.project)
    if args.json:
        print(json.dumps([view.__dict__ for view in views], indent=2))
        return 0
    for view in views:
        state = "pending" if view.pending else "active"
        print(f"{view.id}\t{state}\t{view.kind}\t{view.issuer}\t{view.description}")
    return 0


def run_remove(args: argparse.Namespace) -> int:
    """Remove one publisher."""
    ctx = open_index(settings_from(args))
    with ctx.db.write() as session:
        publishers.remove_publisher(session, args.project, args.id, actor=HOST)
    print(f"removed publisher {args.id} of {args.project}", file=sys.stderr)
    return 0
