"""``trustyard admin org``: organisations, their members, invitations and projects (issue 20)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from trustyard.cli.options import settings_from, subcommand
from trustyard.index.context import open_index
from trustyard.index.services import organisation_requests, organisations
from trustyard.index.services.organisations import OrgRole
from trustyard.index.services.roles import HOST


def register(groups: Any) -> None:
    """Add ``admin org create|requests|approve|decline|rename|delete|list|invite|revoke|role|
    remove|members`` and ``admin org project add|remove``."""
    group = groups.add_parser(
        "org", help="organisations: own projects, have members (by invitation) and teams"
    ).add_subparsers(dest="action", required=True, metavar="ACTION")
    p = subcommand(group, "create", "create an organisation with its first owner", org_create)
    p.add_argument("name")
    p.add_argument("--owner", required=True, metavar="USER", help="its first owner")
    p.add_argument("--display-name", default="", help="how it presents itself (default: NAME)")
    p = subcommand(
        group,
        "requests",
        "list the organisations users asked for, waiting for a decision",
        org_requests,
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p = subcommand(
        group, "approve", "create the organisation a user asked for, owned by them", org_approve
    )
    p.add_argument("id", type=int, help="the request's number (admin org requests)")
    p = subcommand(group, "decline", "refuse a user's request for an organisation", org_decline)
    p.add_argument("id", type=int, help="the request's number (admin org requests)")
    p.add_argument("--reason", default="", help="shown to the user who asked")
    p = subcommand(
        group,
        "rename",
        "rename an organisation (the old name stays reserved for it and redirects)",
        org_rename,
    )
    p.add_argument("org")
    p.add_argument("new_name", metavar="NEW_NAME")
    p = subcommand(
        group,
        "delete",
        "delete an organisation that owns no projects (its names stay reserved)",
        org_delete,
    )
    p.add_argument("org")
    p = subcommand(group, "list", "list the organisations", org_list)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p = subcommand(
        group,
        "invite",
        "invite a user into an organisation (they join by accepting on their account page)",
        org_invite,
    )
    p.add_argument("org")
    p.add_argument("user")
    p.add_argument("--role", choices=[r.value for r in OrgRole], default=OrgRole.MEMBER.value)
    p = subcommand(group, "revoke", "withdraw a user's invitation", org_revoke)
    p.add_argument("org")
    p.add_argument("user")
    p = subcommand(group, "role", "change a member's role (not the last owner's)", org_role)
    p.add_argument("org")
    p.add_argument("user")
    p.add_argument("role", choices=[r.value for r in OrgRole])
    p = subcommand(
        group, "remove", "take a member out of the organisation and its teams", org_remove
    )
    p.add_argument("org")
    p.add_argument("user")
    p = subcommand(group, "members", "list an organisation's members and invitations", org_members)
    p.add_argument("org")

    projects = group.add_parser("project", help="an organisation's projects").add_subparsers(
        dest="project_action", required=True, metavar="ACTION"
    )
    p = subcommand(
        projects,
        "add",
        "give a project to the organisation (its owners become the project's owners)",
        project_add,
    )
    p.add_argument("org")
    p.add_argument("project")
    p = subcommand(
        projects,
        "remove",
        "take a project out of the organisation, with its teams' roles on it",
        project_remove,
    )
    p.add_argument("org")
    p.add_argument("project")


def org_create(args: argparse.Namespace) -> int:
    """Create an organisation (journalled)."""
    ctx = open_index(settings_from(args))
    with ctx.db.write() as session:
        view = organisations.create_organisation(
            session, args.name, args.owner, actor=HOST, display_name=args.display_name
        )
    print(f"created organisation {view.name} (owner: {', '.join(view.owners)})", file=sys.stderr)
    return 0


def org_list(args: argparse.Namespace) -> int:
    """One line per organisation: name, owners, counts."""
    ctx = open_index(settings_from(args))
    with ctx.db.read() as session:
        views = organisations.list_organisations(session)
    if args.json:
        rows = [
            {**view.__dict__, "owners": list(view.owners), "created": view.created.isoformat()}
            for view in views
        ]
        print(json.dumps(rows, indent=2))
        return 0
    for v in views:
        print(
            f"{v.name}\towners: {', '.join(v.owners)}\t{v.members} members\t{v.teams} teams"
            f"\t{v.projects} projects"
        )
    return 0


def org_invite(args: argparse.Namespace) -> int:
    """Invite a user (journalled); the invitation waits on their account page."""
    ctx = open_index(settings_from(args))
    with ctx.db.write() as session:
        view = organisations.invite(session, args.org, args.user, args.role, actor=HOST)
    until = view.expires.strftime("%Y-%m-%d %H:%M UTC")
    print(
        f"invited {view.username} into {view.organisation} as {view.role}, open until {until}",
        file=sys.stderr,
    )
    return 0


def org_revoke(args: argparse.Namespace) -> int:
    """Withdraw an invitation (journalled)."""
    ctx = open_index(settings_from(args))
    with ctx.db.write() as session:
        view = organisations.revoke(session, args.org, args.user, actor=HOST)
    print(f"revoked {view.username}'s invitation into {view.organisation}", file=sys.stderr)
    return 0


def org_role(args: argparse.Namespace) -> int:
    """Change a member's role (journalled)."""
    ctx = open_index(settings_from(args))
    with ctx.db.write() as session:
        member = organisations.change_member_role(
            session, args.org, args.user, args.role, actor=HOST
        )
    print(f"{member.username} is now {member.role} of {args.org}", file=sys.stderr)
    return 0


def org_remove(args: argparse.Namespace) -> int:
    """Remove a member from the organisation and its teams (journalled)."""
    ctx = open_index(settings_from(args))
    with ctx.db.write() as session:
        left = organisations.remove_member(session, args.org, args.user, actor=HOST)
    also = f" and its teams {', '.join(left)}" if left else ""
    print(f"removed {args.user} from {args.org}{also}", file=sys.stderr)
    return 0


def org_members(args: argparse.Namespace) -> int:
    """Print the members (name, role) and the invitations (name, role, state)."""
    ctx = open_index(settings_from(args))
    with ctx.db.read() as session:
        people = organisations.members(session, args.org)
        offered = organisations.organisation_invitations(session, args.org)
    for member in people:
        print(f"{member.username}\t{member.role}")
    for invitation in offered:
        state = "expired" if invitation.expired else "invited"
        print(f"{invitation.username}\t{invitation.role}\t{state}")
    return 0


def project_add(args: argparse.Namespace) -> int:
    """Give a project to the organisation (journalled on the project)."""
    ctx = open_index(settings_from(args))
    with ctx.db.write() as session:
        name = organisations.add_project(session, args.org, args.project, actor=HOST)
    print(f"{name} now belongs to the organisation {args.org}", file=sys.stderr)
    return 0


def project_remove(args: argparse.Namespace) -> int:
    """Take a project out of the organisation (journalled on the project)."""
    ctx = open_index(settings_from(args))
    with ctx.db.write() as session:
        organisations.remove_project(session, args.org, args.project, actor=HOST)
    print(f"{args.project} no longer belongs to the organisation {args.org}", file=sys.stderr)
    return 0


def org_requests(args: argparse.Namespace) -> int:
    """One line per pending request: number, name, requester, date, display name, purpose."""
    ctx = open_index(settings_from(args))
    with ctx.db.read() as session:
        views = organisation_requests.pending_requests(session)
    if args.json:
        rows = [
            {**view.__dict__, "created": view.created.isoformat(), "decided": None}
            for view in views
        ]
        print(json.dumps(rows, indent=2))
        return 0
    for v in views:
        when = v.created.strftime("%Y-%m-%d %H:%M UTC")
        purpose = " ".join(v.description.split())
        print(f"{v.id}\t{v.name}\t{v.requested_by}\t{when}\t{v.display_name}\t{purpose}")
    return 0


def org_approve(args: argparse.Namespace) -> int:
    """Approve a request: the organisation is created, its requester its owner (journalled)."""
    ctx = open_index(settings_from(args))
    with ctx.db.write() as session:
        view = organisation_requests.approve(session, args.id, actor=HOST)
    print(f"created organisation {view.name} (owner: {', '.join(view.owners)})", file=sys.stderr)
    return 0


def org_decline(args: argparse.Namespace) -> int:
    """Decline a request, with the reason its requester sees (journalled)."""
    ctx = open_index(settings_from(args))
    with ctx.db.write() as session:
        view = organisation_requests.decline(session, args.id, args.reason, actor=HOST)
    print(f"declined {view.requested_by}'s request for {view.name}", file=sys.stderr)
    return 0


def org_rename(args: argparse.Namespace) -> int:
    """Rename an organisation (journalled); the old name keeps pointing at it."""
    ctx = open_index(settings_from(args))
    with ctx.db.write() as session:
        view = organisations.rename_organisation(session, args.org, args.new_name, actor=HOST)
    print(f"renamed {args.org} to {view.name} ({args.org} stays reserved for it)", file=sys.stderr)
    return 0


def org_delete(args: argparse.Namespace) -> int:
    """Delete an organisation without projects (journalled)."""
    ctx = open_index(settings_from(args))
    with ctx.db.write() as session:
        view = organisations.delete_organisation(session, args.org, actor=HOST)
    print(f"deleted organisation {view.name} (its names stay reserved)", file=sys.stderr)
    return 0
