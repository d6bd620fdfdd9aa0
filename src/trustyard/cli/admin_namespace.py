"""``trustyard admin namespace``: reserved namespaces (PEP 752) and their owners."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from trustyard.cli.options import settings_from, subcommand
from trustyard.index.context import open_index
from trustyard.index.services import namespaces


def register(groups: Any) -> None:
    """Add ``admin namespace add|list|remove`` and ``admin namespace owner add|remove``."""
    group = groups.add_parser(
        "namespace",
        help="reserved namespaces: PREFIX and PREFIX-* only for their owners (PEP 752)",
    ).add_subparsers(dest="action", required=True, metavar="ACTION")
    p = subcommand(
        group,
        "add",
        "reserve PREFIX: the project PREFIX and every PREFIX-* (separators '.', '_' and '-'"
        " alike) are local-only and only the owners may create them",
        namespace_add,
    )
    p.add_argument("prefix")
    p.add_argument(
        "--owner",
        action="append",
        required=True,
        metavar="NAME",
        help="a user who may create projects in it (repeat for several)",
    )
    p = subcommand(group, "list", "list the reserved namespaces and their owners", namespace_list)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p = subcommand(
        group, "remove", "release a namespace (its projects stay as they are)", namespace_remove
    )
    p.add_argument("prefix")

    owners = group.add_parser("owner", help="a namespace's owners").add_subparsers(
        dest="owner_action", required=True, metavar="ACTION"
    )
    p = subcommand(owners, "add", "make a user an owner of a namespace", owner_add)
    p.add_argument("prefix")
    p.add_argument("user")
    p = subcommand(
        owners, "remove", "take an owner off a namespace (not its last owner)", owner_remove
    )
    p.add_argument("prefix")
    p.add_argument("user")


def namespace_add(args: argparse.Namespace) -> int:
    """Reserve a namespace (journalled); say which existing pending publishers it now stops."""
    ctx = open_index(settings_from(args))
    with ctx.db.write() as session:
        namespace = namespaces.add_namespace(session, args.prefix, args.owner, actor=None)
        stopped = namespaces.pending_outside_owners(session, args.prefix)
        shown = namespace.normalized_prefix
    print(f"reserved namespace {args.prefix} ({shown} and {shown}-*)", file=sys.stderr)
    if stopped:
        print("these can no longer create their project (their owner does not own it):")
        print("\n".join(f"  {line}" for line in stopped))
    return 0


def namespace_list(args: argparse.Namespace) -> int:
    """Print the namespaces, one per line: prefix, owners, projects it covers."""
    ctx = open_index(settings_from(args))
    with ctx.db.read() as session:
        views = namespaces.list_namespaces(session)
    if args.json:
        rows = [
            {**view.__dict__, "owners": list(view.owners), "created": view.created.isoformat()}
            for view in views
        ]
        print(json.dumps(rows, indent=2))
        return 0
    for view in views:
        print(f"{view.prefix}\towners: {', '.join(view.owners)}\t{view.projects} projects")
    return 0


def namespace_remove(args: argparse.Namespace) -> int:
    """Release a namespace (journalled)."""
    ctx = open_index(settings_from(args))
    with ctx.db.write() as session:
        namespaces.remove_namespace(session, args.prefix, actor=None)
    print(f"released namespace {args.prefix}", file=sys.stderr)
    return 0


def owner_add(args: argparse.Namespace) -> int:
    """Add an owner to a namespace (journalled)."""
    ctx = open_index(settings_from(args))
    with ctx.db.write() as session:
        added = namespaces.add_owner(session, args.prefix, args.user, actor=None)
    said = "is now" if added else "was already"
    print(f"{args.user} {said} an owner of namespace {args.prefix}", file=sys.stderr)
    return 0


def owner_remove(args: argparse.Namespace) -> int:
    """Remove an owner from a namespace (journalled); the last one is refused."""
    ctx = open_index(settings_from(args))
    with ctx.db.write() as session:
        namespaces.remove_owner(session, args.prefix, args.user, actor=None)
    print(f"{args.user} is no longer an owner of namespace {args.prefix}", file=sys.stderr)
    return 0
