"""``trustyard admin team``: an organisation's teams, their members and their roles on the
organisation's projects (issue 20)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from trustyard.cli.options import settings_from, subcommand
from trustyard.index.context import open_index
from trustyard.index.services import teams
from trustyard.index.services.roles import HOST, ProjectRole


def register(groups: Any) -> None:
    """Add ``admin team create|delete|list|role`` and ``admin team member add|remove``."""
    group = groups.add_parser(
        "team", help="an organisation's teams and their roles on its projects"
    ).add_subparsers(dest="action", required=True, metavar="ACTION")
    p = subcommand(group, "create", "create a team in an organisation", team_create)
    p.add_argument("org")
    p.add_argument("team")
    p = subcommand(group, "delete", "delete a team, its memberships and its roles", team_delete)
    p.add_argument("org")
    p.add_argument("team")
    p = subcommand(group, "list", "list an organisation's teams, members and roles", team_list)
    p.add_argument("org")
    p = subcommand(
        group,
        "role",
        "give a team a role on one of its organisation's projects, or take it away (none)",
        team_role,
    )
    p.add_argument("org")
    p.add_argument("team")
    p.add_argument("project")
    p.add_argument("role", choices=[*(r.value for r in ProjectRole), "none"])

    members = group.add_parser("member", help="a team's members").add_subparsers(
        dest="member_action", required=True, metavar="ACTION"
    )
    p = subcommand(members, "add", "put a member of the organisation on the team", member_add)
    p.add_argument("org")
    p.add_argument("team")
    p.add_argument("user")
    p = subcommand(members, "remove", "take a user off the team", member_remove)
    p.add_argument("org")
    p.add_argument("team")
    p.add_argument("user")


def team_create(args: argparse.Namespace) -> int:
    """Create a team (journalled)."""
    ctx = open_index(settings_from(args))
    with ctx.db.write() as session:
        view = teams.create_team(session, args.org, args.team, actor=HOST)
    print(f"created team {view.name} in {view.organisation}", file=sys.stderr)
    return 0


def team_delete(args: argparse.Namespace) -> int:
    """Delete a team (journalled)."""
    ctx = open_index(settings_from(args))
    with ctx.db.write() as session:
        view = teams.delete_team(session, args.org, args.team, actor=HOST)
    print(f"deleted team {view.name} of {view.organisation}", file=sys.stderr)
    return 0


def team_list(args: argparse.Namespace) -> int:
    """One line per team: name, members, roles."""
    ctx = open_index(settings_from(args))
    with ctx.db.read() as session:
        views = teams.list_teams(session, args.org)
    for v in views:
        roles = ", ".join(f"{project} ({role})" for project, role in v.roles)
        print(f"{v.name}\tmembers: {', '.join(v.members)}\troles: {roles}")
    return 0


def team_role(args: argparse.Namespace) -> int:
    """Set a team's role on a project (journalled on the project)."""
    ctx = open_index(settings_from(args))
    role = None if args.role == "none" else args.role
    with ctx.db.write() as session:
        action = teams.set_team_role(session, args.org, args.team, args.project, role, actor=HOST)
    print(f"{args.project}: {action}", file=sys.stderr)
    return 0


def member_add(args: argparse.Namespace) -> int:
    """Put a user on a team (journalled)."""
    ctx = open_index(settings_from(args))
    with ctx.db.write() as session:
        teams.add_member(session, args.org, args.team, args.user, actor=HOST)
    print(f"{args.user} is now on the team {args.team} of {args.org}", file=sys.stderr)
    return 0


def member_remove(args: argparse.Namespace) -> int:
    """Take a user off a team (journalled)."""
    ctx = open_index(settings_from(args))
    with ctx.db.write() as session:
        teams.remove_member(session, args.org, args.team, args.user, actor=HOST)
    print(f"{args.user} is no longer on the team {args.team} of {args.org}", file=sys.stderr)
    return 0
