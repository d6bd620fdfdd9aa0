"""``trustyard reader``: CI identities that may mint read tokens (Trusted Reading) for a
project, or for every project of a team (``ORG/TEAM``: a project's name never holds a ``/``).

The same kinds and options as ``trustyard publisher add`` (its parsers, shared); a project's
publishers may read it without a policy. From the index's host, like the other management
commands.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from typing import Any

from sqlalchemy.orm import Session

from trustyard.cli.options import settings_from
from trustyard.cli.publisher import config_of, kind_parsers, list_and_remove_parsers
from trustyard.errors import InvalidInput
from trustyard.index.context import open_index
from trustyard.index.services import reader_policies
from trustyard.index.services.roles import HOST

TARGET = "project or ORG/TEAM"


def register(commands: Any) -> None:
    """Add ``reader add|list|remove``."""
    group = commands.add_parser(
        "reader",
        help="manage the CI identities that may mint read tokens for projects or teams",
    )
    actions = group.add_subparsers(dest="action", required=True, metavar="ACTION")

    add = actions.add_parser(
        "add",
        help="let a CI identity read a project, or every project of a team (ORG/TEAM),"
        " without publishing",
    )
    add.add_argument("project_name", metavar="PROJECT_OR_ORG/TEAM")
    kind_parsers(add, pending=False)
    add.set_defaults(run=run_add)
    list_and_remove_parsers(
        actions, "reader policies", TARGET, run_list=run_list, run_remove=run_remove
    )


def _team(target: str) -> tuple[str, str] | None:
    """``(org, team)`` for ``ORG/TEAM``, None for a project's name; 400 for other slashes."""
    if "/" not in target:
        return None
    org, _, team = target.partition("/")
    if not org or not team or "/" in team:
        raise InvalidInput(f"{target[:100]!r}: name a project, or a team as ORG/TEAM")
    return org, team


def run_add(args: argparse.Namespace) -> int:
    """Register a reader policy and print its id."""
    ctx = open_index(settings_from(args))
    config = config_of(args)
    team = _team(args.project_name)
    with ctx.db.write() as session:
        if team is None:
            row: Any = reader_policies.add_reader_policy(
                session, args.project_name, args.kind, config, actor=HOST
            )
        else:
            row = reader_policies.add_team_reader_policy(
                session, *team, args.kind, config, actor=HOST
            )
        print(row.id)
    return 0


def _list(session: Session, target: str) -> list[reader_policies.ReaderPolicyView]:
    team = _team(target)
    if team is None:
        return reader_policies.list_reader_policies(session, target, actor=HOST)
    return reader_policies.list_team_reader_policies(session, *team, actor=HOST)


def run_list(args: argparse.Namespace) -> int:
    """Print the policies, one per line (or JSON)."""
    ctx = open_index(settings_from(args))
    with ctx.db.read() as session:
        views = _list(session, args.project)
    if args.json:
        print(json.dumps([asdict(view) for view in views], indent=2))
        return 0
    for view in views:
        print(f"{view.id}\t{view.kind}\t{view.issuer}\t{view.description}")
    return 0


def run_remove(args: argparse.Namespace) -> int:
    """Remove one policy."""
    ctx = open_index(settings_from(args))
    team = _team(args.project)
    with ctx.db.write() as session:
        if team is None:
            reader_policies.remove_reader_policy(session, args.project, args.id, actor=HOST)
        else:
            reader_policies.remove_team_reader_policy(session, *team, args.id, actor=HOST)
    print(f"removed reader policy {args.id} of {args.project}", file=sys.stderr)
    return 0
