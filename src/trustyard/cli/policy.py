"""``trustyard policy ...``: the gate for upstream files (issue 18): the cooldown, admins'
exceptions, the emergency cut-off, and why a file is served or not.

Every change is journalled with who (the host's ``admin`` and the operating-system user) and
why, and takes effect on every instance sharing the database within a few seconds
(services/policy.py's ``STATE_TTL``). Other rule families add their actions through
:data:`EXTENSIONS`: modules with a ``register(actions)`` function.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import importlib
import json
from typing import Any

from trustyard.cli.options import add_index_options, settings_from
from trustyard.errors import ConfigurationError, InvalidInput

# Modules adding actions to ``trustyard policy`` (each with ``register(actions)``).
EXTENSIONS: tuple[str, ...] = ("trustyard.cli.policy_continuity",)


def register(commands: Any) -> None:
    """Add the ``policy`` command family."""
    parser: argparse.ArgumentParser = commands.add_parser(
        "policy",
        help="the gate for upstream files: cooldown, exceptions, cut-off, explain",
        description="The policy gate for upstream (proxied) files.",
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    def action(name: str, help_text: str) -> argparse.ArgumentParser:
        sub: argparse.ArgumentParser = actions.add_parser(
            name, help=help_text, description=help_text
        )
        add_index_options(sub)
        return sub

    allow = action("allow", "let a project, or one version of it, through the cooldown")
    allow.add_argument("requirement", metavar="NAME[==VERSION]")
    allow.add_argument("--reason", required=True, help="why (journalled, shown in explain)")
    allow.add_argument(
        "--expires", default=None, metavar="DURATION", help="stop applying after, e.g. 30d"
    )
    allow.set_defaults(run=run_allow)

    listing = action("list", "the cooldown, the cut-off and the exceptions in force")
    listing.add_argument("--all", action="store_true", help="revoked and expired ones too")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(run=run_list)

    revoke = action("revoke", "revoke an exception now")
    revoke.add_argument("id", type=int)
    revoke.add_argument("--reason", default="", help="why (journalled)")
    revoke.set_defaults(run=run_revoke)

    cutoff = action("cutoff", "emergency cut-off: serve nothing uploaded after TIMESTAMP")
    cutoff.add_argument(
        "timestamp", metavar="TIMESTAMP|none", help="ISO 8601 with a zone, a date, or none"
    )
    cutoff.add_argument("--reason", default="", help="why (journalled)")
    cutoff.set_defaults(run=run_cutoff)

    age = action("min-release-age", "show or change the cooldown for every instance")
    age.add_argument("value", nargs="?", metavar="DURATION", help="e.g. 3d, 36h; 0: off")
    age.set_defaults(run=run_min_age)

    why = action("explain", "would each file of NAME==VERSION be served now, and why")
    why.add_argument("requirement", metavar="NAME==VERSION")
    why.add_argument(
        "--upstream", default=None, metavar="URL", help="the upstream (default: the setting)"
    )
    why.add_argument("--json", action="store_true", help="print JSON")
    why.set_defaults(run=run_explain)

    for module in EXTENSIONS:
        importlib.import_module(module).register(actions)


def actor() -> str:
    """Who a CLI change is journalled as: the host's admin, and which account ran it."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"admin (cli: {user})"


def _open(args: argparse.Namespace, **extra: object) -> Any:
    from trustyard.index.context import open_index  # noqa: PLC0415 - heavy import

    return open_index(settings_from(args, **extra), migrate=False)


def run_allow(args: argparse.Namespace) -> int:
    """Add an exception and print its id."""
    from trustyard.index.services import policy  # noqa: PLC0415
    from trustyard.index.services.accounts import parse_duration  # noqa: PLC0415

    expires = parse_duration(args.expires) if args.expires else None
    ctx = _open(args)
    with ctx.db.write() as session:
        row = policy.allow(
            session, args.requirement, reason=args.reason, actor=actor(), expires_in=expires
        )
        what = row.project + (f"=={row.version}" if row.version else "")
        until = f" until {row.expires:%Y-%m-%dT%H:%M:%S}Z" if row.expires else " until revoked"
        print(f"exception #{row.id}: {what}{until}")
    return 0


def _describe(row: Any, now: Any) -> dict[str, Any]:
    state = (
        "revoked" if row.revoked else "expired" if row.expires and row.expires <= now else "active"
    )
    return {
        "id": row.id,
        "project": row.project,
        "version": row.version,
        "reason": row.reason,
        "created_by": row.created_by,
        "created": f"{row.created:%Y-%m-%dT%H:%M:%S}Z",
        "expires": f"{row.expires:%Y-%m-%dT%H:%M:%S}Z" if row.expires else None,
        "revoked": f"{row.revoked:%Y-%m-%dT%H:%M:%S}Z" if row.revoked else None,
        "revoked_by": row.revoked_by,
        "state": state,
    }


def run_list(args: argparse.Namespace) -> int:
    """Print the cooldown, the cut-off and the exceptions."""
    from trustyard.index.policy.rules import format_age  # noqa: PLC0415
    from trustyard.index.services import policy  # noqa: PLC0415
    from trustyard.index.services.accounts import utcnow  # noqa: PLC0415

    ctx = _open(args)
    now = utcnow()
    with ctx.db.read() as session:
        age = policy.stored_min_age(session)
        cut = policy.cutoff(session)
        rows = [_describe(r, now) for r in policy.exceptions(session, everything=args.all)]
    report = {
        "min_release_age": format_age(age) if age else "0",
        "cutoff": f"{cut:%Y-%m-%dT%H:%M:%S}Z" if cut else None,
        "exceptions": rows,
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"min-release-age: {report['min_release_age']}" + (" (off)" if not age else ""))
    print(f"cutoff: {report['cutoff'] or 'none'}")
    if not rows:
        print("no exceptions" + ("" if args.all else " in force"))
    for row in rows:
        what = row["project"] + (f"=={row['version']}" if row["version"] else "")
        until = f" until {row['expires']}" if row["expires"] else ""
        print(
            f"#{row['id']} {what} [{row['state']}] by {row['created_by']}"
            f" at {row['created']}{until}: {row['reason']}"
        )
    return 0


def run_revoke(args: argparse.Namespace) -> int:
    """Revoke an exception."""
    from trustyard.index.services import policy  # noqa: PLC0415

    ctx = _open(args)
    with ctx.db.write() as session:
        row = policy.revoke(session, args.id, actor(), args.reason)
        print(f"exception #{row.id} revoked")
    return 0


def run_cutoff(args: argparse.Namespace) -> int:
    """Set or lift the emergency cut-off."""
    from trustyard.index.policy.rules import parse_timestamp  # noqa: PLC0415
    from trustyard.index.services import policy  # noqa: PLC0415

    text = args.timestamp.strip()
    moment = None if text.lower() == "none" else parse_timestamp(text)
    ctx = _open(args)
    with ctx.db.write() as session:
        ctx.db.serialise(session, policy.SETTINGS_LOCK)
        policy.set_cutoff(session, moment, actor(), args.reason)
    if moment is None:
        print("cutoff lifted")
    else:
        print(
            f"cutoff {moment:%Y-%m-%dT%H:%M:%S}Z: nothing uploaded after it is served"
            f" (every instance within {policy.STATE_TTL:g} s)"
        )
    return 0


def run_min_age(args: argparse.Namespace) -> int:
    """Print the cooldown, or change it for every instance."""
    from trustyard.index.policy.rules import format_age, parse_age  # noqa: PLC0415
    from trustyard.index.services import policy  # noqa: PLC0415

    ctx = _open(args)
    if args.value is None:
        with ctx.db.read() as session:
            age = policy.stored_min_age(session)
        print(format_age(age) if age else "0")
        return 0
    age = parse_age(args.value)
    with ctx.db.write() as session:
        ctx.db.serialise(session, policy.SETTINGS_LOCK)
        policy.set_min_age(session, age, actor())
    print(
        f"min-release-age {format_age(age)} for every instance (within {policy.STATE_TTL:g} s);"
        " an instance started with another --min-release-age refuses its next start"
    )
    return 0


def run_explain(args: argparse.Namespace) -> int:
    """Print each file's verdict for NAME==VERSION."""
    from trustyard.index.services import policy  # noqa: PLC0415
    from trustyard.index.services.locality import local_reason  # noqa: PLC0415
    from trustyard.index.upstream.explain import explain  # noqa: PLC0415

    project, version = policy.parse_requirement(args.requirement)
    if version is None:
        raise InvalidInput(f"{args.requirement!r}: name a version, NAME==VERSION")
    ctx = _open(args, upstream=args.upstream)
    if ctx.upstream is None:
        raise ConfigurationError("no upstream is configured: give --upstream URL or set upstream")
    with ctx.db.read() as session:
        local = local_reason(session, project)
    if local is not None:
        print(f"{project} is local ({local}): the policy gates upstream files only")
        return 0

    async def work() -> Any:
        try:
            return await explain(ctx.upstream, project, version)
        finally:
            await ctx.upstream.client.aclose()

    verdicts = asyncio.run(work())
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "filename": v.file.filename,
                        "upload_time": v.file.upload_time,
                        "served": v.decision.served,
                        "rule": v.decision.rule,
                        "reasons": list(v.decision.reasons),
                        "available_at": (
                            f"{v.decision.available_at:%Y-%m-%dT%H:%M:%S}Z"
                            if v.decision.available_at
                            else None
                        ),
                    }
                    for v in verdicts
                ],
                indent=2,
            )
        )
        return 0
    for v in verdicts:
        print(
            f"{'served ' if v.decision.served else 'refused'} {v.file.filename} [{v.decision.rule}]"
        )
        for reason in v.decision.reasons:
            print(f"    {reason}")
    return 0
