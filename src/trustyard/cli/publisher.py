"""``trustyard publisher``: the trusted publishers (OIDC identities) that may publish a project."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from trustyard.cli.options import add_index_options, settings_from
from trustyard.errors import InvalidInput
from trustyard.index.context import open_index
from trustyard.index.services import publishers
from trustyard.index.services.roles import HOST


def _kind_parsers(parser: argparse.ArgumentParser, *, pending: bool) -> None:
    kinds = parser.add_subparsers(dest="kind", required=True, metavar="KIND")
    github = kinds.add_parser("github", help="a GitHub Actions workflow")
    github.add_argument("--repository", required=True, help="OWNER/REPO")
    github.add_argument("--workflow", required=True, help="the workflow file, e.g. release.yml")
    github.add_argument("--environment", default="", help="require this deployment environment")
    github.add_argument(
        "--owner-id", default="", help="the owner's numeric id (stops resurrection)"
    )
    github.add_argument(
        "--workflow-repository",
        default="",
        help="OWNER/REPO holding the reusable workflow, when it lives in another repository",
    )
    gitlab = kinds.add_parser("gitlab", help="a GitLab CI/CD pipeline")
    gitlab.add_argument("--project", required=True, help="NAMESPACE/PROJECT")
    gitlab.add_argument("--workflow-path", required=True, help="e.g. .gitlab-ci.yml")
    gitlab.add_argument("--environment", default="", help="require this environment")
    google = kinds.add_parser("google", help="a Google Cloud service account")
    google.add_argument("--email", required=True)
    google.add_argument("--sub", default="")
    generic = kinds.add_parser("oidc", help="any other OIDC issuer: listed claims must match")
    generic.add_argument(
        "--claim", action="append", default=[], metavar="NAME=VALUE", help="repeatable"
    )
    for sub in (github, gitlab, google, generic):
        sub.add_argument(
            "--issuer",
            default="",
            required=sub is generic,
            help="the issuer URL (default: the kind's public issuer)",
        )
        if pending:
            sub.add_argument("--owner", required=True, help="the user who will own the project")
        add_index_options(sub)


def _config(args: argparse.Namespace) -> dict[str, str]:
    if args.kind == "github":
        return {
            "repository": args.repository,
            "workflow": args.workflow,
            "environment": args.environment,
            "owner_id": args.owner_id,
            "workflow_repository": args.workflow_repository,
            "issuer": args.issuer,
        }
    if args.kind == "gitlab":
        return {
            "project": args.project,
            "workflow_path": args.workflow_path,
            "environment": args.environment,
            "issuer": args.issuer,
        }
    if args.kind == "google":
        return {"email": args.email, "sub": args.sub, "issuer": args.issuer}
    claims: dict[str, str] = {}
    for item in args.claim:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise InvalidInput(f"--claim takes NAME=VALUE, not {item!r}")
        claims[name] = value
    return {"issuer": args.issuer, "claims": json.dumps(claims, sort_keys=True)}


def register(commands: Any) -> None:
    """Add ``publisher add|add-pending|list|remove``."""
    group = commands.add_parser("publisher", help="manage the trusted publishers of projects")
    actions = group.add_subparsers(dest="action", required=True, metavar="ACTION")

    add = actions.add_parser("add", help="let a CI identity publish a project")
    add.add_argument("project_name", metavar="PROJECT")
    _kind_parsers(add, pending=False)
    add.set_defaults(run=run_add)

    pending = actions.add_parser(
        "add-pending", help="a publisher whose first publish creates the project"
    )
    pending.add_argument("project_name", metavar="PROJECT")
    _kind_parsers(pending, pending=True)
    pending.set_defaults(run=run_add_pending)

    listing = actions.add_parser("list", help="list a project's publishers")
    listing.add_argument("project")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    add_index_options(listing)
    listing.set_defaults(run=run_list)

    remove = actions.add_parser("remove", help="remove a publisher")
    remove.add_argument("project")
    remove.add_argument("id", type=int)
    add_index_options(remove)
    remove.set_defaults(run=run_remove)


def run_add(args: argparse.Namespace) -> int:
    """Register a publisher and print its id."""
    ctx = open_index(settings_from(args))
    with ctx.db.write() as session:
        row = publishers.add_publisher(
            session, args.project_name, args.kind, _config(args), actor=HOST
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
            _config(args),
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
