"""``trustyard admin``: users, tokens and projects of an index, from its host."""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import sys
from pathlib import Path
from typing import Any

from trustyard.cli import (
    admin_2fa,
    admin_descriptions,
    admin_import,
    admin_namespace,
    admin_org,
    admin_secrets,
    admin_status,
    admin_store,
    admin_team,
    admin_visibility,
)
from trustyard.cli.options import add_index_options, settings_from
from trustyard.errors import InvalidInput
from trustyard.index.context import IndexContext, open_index
from trustyard.index.services import (
    accounts,
    backup,
    collaborators,
    issuers,
    projects,
    second_factor,
    token_revocation,
    trusted_reading,
    upload_limits,
)
from trustyard.index.services.collaborators import Leftovers
from trustyard.index.services.roles import HOST, ProjectRole


def _open(args: argparse.Namespace) -> IndexContext:
    return open_index(settings_from(args))


def _command(group: Any, name: str, help_text: str, run: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = group.add_parser(name, help=help_text, description=help_text)
    add_index_options(parser)
    parser.set_defaults(run=run)
    return parser


def register(commands: Any) -> None:
    """Add ``admin user|token|project|issuer ...``."""
    admin = commands.add_parser("admin", help="manage an index's users, tokens and projects")
    groups = admin.add_subparsers(dest="group", required=True, metavar="GROUP")

    users = groups.add_parser("user", help="user accounts").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    p = _command(users, "create", "create a user", user_create)
    p.add_argument("name")
    p.add_argument(
        "--password-stdin", action="store_true", required=True, help="read the password from stdin"
    )
    p.add_argument("--admin", action="store_true", help="make the user an admin of the index")
    p = _command(users, "grant-admin", "make a user an admin of the index", user_grant_admin)
    p.add_argument("name")
    p = _command(users, "revoke-admin", "take a user's admin flag away", user_revoke_admin)
    p.add_argument("name")
    p = _command(
        users, "disable", "lock an account: no sign-in, uploads or publishing", user_disable
    )
    p.add_argument("name")
    p = _command(users, "enable", "unlock a disabled account", user_enable)
    p.add_argument("name")
    admin_2fa.register(users)

    tokens = groups.add_parser("token", help="API tokens").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    p = _command(tokens, "create", "create an API token and print it", token_create)
    p.add_argument("name", help="the user the token acts for")
    p.add_argument("--project", help="restrict the token to this project")
    p.add_argument("--expires", help="lifetime, e.g. 30d, 12h, 2w (default: never)")
    p.add_argument("--description", default="", help="a note to recognise the token by")
    p.add_argument(
        "--read-only",
        action="store_true",
        help="a token that may read (private indexes) but never upload",
    )
    p = _command(
        tokens,
        "list",
        "list a user's API tokens, or the read tokens Trusted Reading minted (never secrets)",
        token_list,
    )
    p.add_argument("name", nargs="?", help="the user whose tokens to list")
    p.add_argument(
        "--trusted-reading",
        action="store_true",
        help="instead: the live read tokens minted for CI jobs, with their identity and projects",
    )
    p.add_argument(
        "--all",
        action="store_true",
        help="with --trusted-reading: also those revoked or expired",
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p = _command(
        tokens,
        "revoke",
        "revoke any token (a user's, or one minted for a CI job) from its next request on",
        token_revoke,
    )
    p.add_argument("token", help="the token's id (as `admin token list` shows it), or the token")

    proj = groups.add_parser("project", help="projects and their files").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    p = _command(proj, "create", "register a project", project_create)
    p.add_argument("project")
    p.add_argument("--owner", required=True, help="the user who owns it")
    p = _command(
        proj,
        "role",
        "give a user a role on a project (owner, maintainer, reader) or take it away (none)",
        project_role,
    )
    p.add_argument("project")
    p.add_argument("user")
    p.add_argument("role", choices=[*(role.value for role in ProjectRole), "none"])
    p.add_argument(
        "--force",
        action="store_true",
        help="remove or demote the project's last owner (only the host can then grant one)",
    )
    p.add_argument(
        "--remove-their-publishers",
        action="store_true",
        help="with none: also remove the trusted publishers the user added to the project",
    )
    p.add_argument(
        "--revoke-their-tokens",
        action="store_true",
        help="with none: also revoke the user's API tokens scoped to the project",
    )
    p = _command(proj, "yank", "yank a release (PEP 592)", project_yank)
    p.add_argument("project")
    p.add_argument("version")
    p.add_argument("--reason", default="", help="why, shown to installers")
    p = _command(proj, "unyank", "undo a yank", project_unyank)
    p.add_argument("project")
    p.add_argument("version")
    p = _command(proj, "delete-file", "delete a file; its name can never be reused", delete_file)
    p.add_argument("filename")
    p = _command(
        proj, "limits", "show or raise a project's upload and total size limits", project_limits
    )
    p.add_argument("project")
    p.add_argument(
        "--upload-limit",
        metavar="MiB",
        help="largest file, in MiB, from the index's default up to 1024; 'default' to clear",
    )
    p.add_argument(
        "--total-size-limit",
        metavar="GiB",
        help="largest total of the project's files, in GiB; 'default' to clear",
    )
    admin_status.register(proj)
    admin_visibility.register(proj)

    trusted = groups.add_parser(
        "issuer", help="the OIDC issuers trusted publishers may name (the allow-list)"
    ).add_subparsers(dest="action", required=True, metavar="ACTION")
    p = _command(
        trusted, "add", "allow an OIDC issuer (again: change its private flag)", issuer_add
    )
    p.add_argument("url", help="the issuer exactly as tokens' iss names it")
    p.add_argument(
        "--allow-private-address",
        action="store_true",
        help="let the index fetch its keys from a private, loopback or link-local address",
    )
    p = _command(trusted, "list", "list the allowed issuers", issuer_list)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p = _command(
        trusted, "remove", "disallow an issuer (refused while publishers name it)", issuer_remove
    )
    p.add_argument("url")

    p = _command(groups, "export", "write the whole index to a new directory", index_export)
    p.add_argument("directory", type=Path, help="a new or empty directory")
    p = _command(groups, "import", "load an export into an empty index", index_import)
    p.add_argument("directory", type=Path, help="a directory written by `admin export`")
    admin_store.register(groups)
    admin_namespace.register(groups)
    admin_org.register(groups)
    admin_team.register(groups)
    admin_import.register(groups)
    admin_descriptions.register(groups)
    admin_secrets.register(groups)


def user_create(args: argparse.Namespace) -> int:
    """Create a user whose password comes on stdin (one line)."""
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise InvalidInput("no password on stdin")
    ctx = _open(args)
    with ctx.db.write() as session:
        accounts.create_user(session, args.name, password)
        if args.admin:
            accounts.set_admin(session, args.name, admin=True, actor=None)
    print(f"created {'admin ' if args.admin else ''}user {args.name}", file=sys.stderr)
    return 0


def _set_admin(args: argparse.Namespace, *, admin: bool) -> int:
    ctx = _open(args)
    with ctx.db.write() as session:
        accounts.set_admin(session, args.name, admin=admin, actor=None)
    print(f"{args.name} is {'now' if admin else 'no longer'} an admin", file=sys.stderr)
    return 0


def user_grant_admin(args: argparse.Namespace) -> int:
    """Make a user an admin (the web interface's /admin/ pages)."""
    return _set_admin(args, admin=True)


def user_revoke_admin(args: argparse.Namespace) -> int:
    """Take a user's admin flag away."""
    return _set_admin(args, admin=False)


def _set_disabled(args: argparse.Namespace, *, disabled: bool) -> int:
    ctx = _open(args)
    with ctx.db.write() as session:
        accounts.set_disabled(session, args.name, disabled=disabled, actor=None)
    print(f"{args.name} is {'disabled' if disabled else 'enabled'}", file=sys.stderr)
    return 0


def user_disable(args: argparse.Namespace) -> int:
    """Lock an account, as the admin page's "disable" does: its sessions end, its tokens stop
    working, its pending publishers cannot create their projects."""
    return _set_disabled(args, disabled=True)


def user_enable(args: argparse.Namespace) -> int:
    """Unlock an account with its old password and unrevoked tokens."""
    return _set_disabled(args, disabled=False)


def token_create(args: argparse.Namespace) -> int:
    """Print a new token, and only the token, on stdout."""
    expires = accounts.parse_duration(args.expires) if args.expires else None
    ctx = _open(args)
    with ctx.db.write() as session:
        token = accounts.create_token(
            session,
            args.name,
            project=args.project,
            expires_in=expires,
            description=args.description,
            read_only=args.read_only,
        )
    print(token)
    return 0


def token_list(args: argparse.Namespace) -> int:
    """One line per token: id, read-only or upload, scope, state, expiry, last use."""
    if args.trusted_reading == (args.name is not None):
        raise InvalidInput("give a user's name, or --trusted-reading (not both)")
    if args.all and not args.trusted_reading:
        raise InvalidInput("--all goes with --trusted-reading (a user's list shows every token)")
    if args.trusted_reading:
        return _minted_read_token_list(args)
    ctx = _open(args)
    with ctx.db.read() as session:
        views = accounts.list_tokens(session, args.name)
    if args.json:
        print(json.dumps([dataclasses.asdict(view) for view in views], default=str, indent=2))
        return 0
    for view in views:
        state = "revoked" if view.revoked else "expired" if view.expired else "active"
        print(
            "\t".join(
                (
                    view.id,
                    "read-only" if view.read_only else "upload",
                    view.project or "all projects",
                    state,
                    f"expires {view.expires:%Y-%m-%d %H:%M}" if view.expires else "no expiry",
                    f"last used {view.last_used:%Y-%m-%d %H:%M}"
                    if view.last_used
                    else "never used",
                    view.description,
                )
            )
        )
    return 0


def _minted_read_token_list(args: argparse.Namespace) -> int:
    """One line per minted read token: id, state, expiry, last use, identity, projects."""
    ctx = _open(args)
    with ctx.db.read() as session:
        minted = trusted_reading.minted_read_tokens(session, everything=args.all)
    now = accounts.utcnow()
    if args.json:
        shown = [{**dataclasses.asdict(t), "state": t.state(now)} for t in minted]
        print(json.dumps(shown, default=str, indent=2))
        return 0
    for token in minted:
        print(
            "\t".join(
                (
                    token.id,
                    token.state(now),
                    f"expires {token.expires:%Y-%m-%d %H:%M:%S}" if token.expires else "no expiry",
                    f"last used {token.last_used:%Y-%m-%d %H:%M}"
                    if token.last_used
                    else "never used",
                    token.reader_identity,
                    ", ".join(token.projects) or "(no project left)",
                )
            )
        )
    return 0


def token_revoke(args: argparse.Namespace) -> int:
    """Revoke one token by its id; journalled, refused if unknown or revoked already."""
    ctx = _open(args)
    with ctx.db.write() as session:
        revoked = token_revocation.revoke(session, args.token, actor=None)
    print(f"revoked token {revoked.token_id} of {revoked.acting_for}", file=sys.stderr)
    return 0


def project_create(args: argparse.Namespace) -> int:
    """Register a project with its owner."""
    ctx = _open(args)
    with ctx.db.write() as session:
        projects.create_project(session, args.project, owner=args.owner)
    print(f"created project {args.project}", file=sys.stderr)
    return 0


def _describe(leftovers: Leftovers) -> list[str]:
    lines = [
        f"  publisher {p.id}: {p.kind} {p.description} ({p.issuer})" for p in leftovers.publishers
    ]
    lines += [f"  token {t.id}: {t.description or '(no description)'}" for t in leftovers.tokens]
    lines += [
        f"  collaborator {c.username} ({c.role}), whose role they granted"
        for c in leftovers.collaborators
    ]
    return lines


def project_role(args: argparse.Namespace) -> int:
    """Grant, change or take away a user's role directly (journalled as the host's). Taking it
    away prints what the user set up for the project: removed with the flags, or kept."""
    ctx = _open(args)
    with ctx.db.write() as session:
        change = collaborators.set_role(
            session,
            args.project,
            args.user,
            None if args.role == "none" else args.role,
            actor=HOST,
            force=args.force,
            remove_publishers=args.remove_their_publishers,
            revoke_tokens=args.revoke_their_tokens,
        )
    print(f"{args.project}: {change.action}", file=sys.stderr)
    if change.removed:
        print(f"removed what {args.user} set up for {args.project}:")
        print("\n".join(_describe(change.removed)))
    if change.kept:
        print(f"{args.user} set up, and it stays:")
        print("\n".join(_describe(change.kept)))
        if change.kept.publishers:
            print(
                f"  (`trustyard publisher remove {args.project} ID` removes one;"
                " --remove-their-publishers removes them with the role)"
            )
        if change.kept.tokens:
            print(
                "  (they upload nothing here without a role, but would again with one;"
                " --revoke-their-tokens revokes them with the role)"
            )
    if args.role == "none" and change.kept.wide_tokens:
        print(
            f"{args.user}'s {change.kept.wide_tokens} token(s) for all their projects no longer"
            f" upload to {args.project}."
        )
    return 0


def _set_yanked(args: argparse.Namespace, *, yanked: bool) -> int:
    ctx = _open(args)
    with ctx.db.write() as session:
        release = projects.set_yanked(
            session,
            args.project,
            args.version,
            yanked=yanked,
            reason=getattr(args, "reason", ""),
            actor=HOST,
        )
        version = release.version
    print(f"{'yanked' if yanked else 'unyanked'} {args.project} {version}", file=sys.stderr)
    return 0


def project_yank(args: argparse.Namespace) -> int:
    """Yank a release."""
    return _set_yanked(args, yanked=True)


def project_unyank(args: argparse.Namespace) -> int:
    """Un-yank a release."""
    return _set_yanked(args, yanked=False)


def delete_file(args: argparse.Namespace) -> int:
    """Delete one file: the row first (committed), then its bytes."""
    ctx = _open(args)
    with ctx.db.write() as session:
        path, has_metadata = projects.delete_file(session, args.filename, actor=HOST)
    projects.purge_bytes(ctx.storage, path, has_metadata)
    print(f"deleted {args.filename}; the filename stays reserved", file=sys.stderr)
    return 0


def project_limits(args: argparse.Namespace) -> int:
    """Show a project's limits, or set them (journalled). A bad value or an unknown project is
    a usage error: one line, exit 2, nothing changed."""
    ctx = _open(args)
    try:
        with ctx.db.write() as session:
            limits = upload_limits.set_project_limits(
                session,
                ctx.settings,
                args.project,
                upload_limit=args.upload_limit,
                total_size_limit=args.total_size_limit,
                actor="admin",
            )
    except InvalidInput as exc:
        print(f"trustyard: error: {exc.diagnostics()}", file=sys.stderr)
        return 2
    print(limits.describe())
    return 0


def issuer_add(args: argparse.Namespace) -> int:
    """Put an issuer on the allow-list (journalled)."""
    ctx = _open(args)
    with ctx.db.write() as session:
        added = issuers.add_issuer(
            session, args.url, allow_private_address=args.allow_private_address, actor=None
        )
    private = "; private addresses allowed" if args.allow_private_address else ""
    print(f"{'allowed' if added else 'already allowed:'} {args.url}{private}", file=sys.stderr)
    return 0


def issuer_list(args: argparse.Namespace) -> int:
    """Print the allowed issuers, one per line: URL, private flag, publishers, pending."""
    ctx = _open(args)
    with ctx.db.read() as session:
        views = issuers.list_issuers(session)
    if args.json:
        rows = [{**view.__dict__, "created": view.created.isoformat()} for view in views]
        print(json.dumps(rows, indent=2))
        return 0
    for view in views:
        private = "private-allowed" if view.allow_private_address else "public-only"
        print(f"{view.url}\t{private}\t{view.publishers} publishers\t{view.pending} pending")
    return 0


def issuer_remove(args: argparse.Namespace) -> int:
    """Take an issuer off the allow-list; refused while publishers name it."""
    ctx = _open(args)
    with ctx.db.write() as session:
        issuers.remove_issuer(session, args.url, actor=None)
    print(f"removed {args.url}", file=sys.stderr)
    return 0


def _summary(verb: str, summary: backup.Summary, directory: Path) -> None:
    rows = ", ".join(f"{count} {name}" for name, count in summary.rows.items() if count)
    print(
        f"{verb} {directory}: {rows or 'no rows'}; {summary.files} files ({summary.size} bytes)",
        file=sys.stderr,
    )


def index_export(args: argparse.Namespace) -> int:
    """Export the catalogue and the files it references, with a manifest of SHA-256s."""
    ctx = _open(args)
    # Keys still in clear (an index not restarted since 0028) go out sealed too.
    second_factor.seal_totp_secrets(ctx.db, ctx.secret_keys)
    summary = backup.export_index(ctx.db, ctx.storage, args.directory)
    _summary("exported to", summary, args.directory)
    return 0


def index_import(args: argparse.Namespace) -> int:
    """Verify an export completely, then load it into this (empty) index."""
    ctx = _open(args)
    summary = backup.import_index(
        ctx.db,
        ctx.storage,
        args.directory,
        after_rows=functools.partial(second_factor.take_in_imported, keys=ctx.secret_keys),
    )
    _summary("imported from", summary, args.directory)
    return 0
