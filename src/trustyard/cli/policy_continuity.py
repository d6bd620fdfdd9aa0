"""``trustyard policy held|release|reject|pin|unpin|pins``: publisher continuity (issue 18).

Held files (a file whose Trusted Publisher identity does not continue its project's) are
listed with their evidence and decided here, with the host's authority (journalled as
``admin`` with the reason given); pins fix the identity an upstream project must keep.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from trustyard.cli.options import add_index_options, settings_from
from trustyard.dists.names import is_valid_project_name
from trustyard.errors import InvalidInput


def register(actions: Any) -> None:
    """Add the continuity actions to the ``policy`` group's subparsers."""

    def action(name: str, help_text: str) -> argparse.ArgumentParser:
        sub: argparse.ArgumentParser = actions.add_parser(
            name, help=help_text, description=help_text
        )
        add_index_options(sub)
        return sub

    held = action("held", "files held by publisher continuity, with their evidence")
    held_actions = held.add_subparsers(dest="held_action", required=True, metavar="ACTION")
    listing: argparse.ArgumentParser = held_actions.add_parser(
        "list", help="the held files (--all: decided ones too)"
    )
    add_index_options(listing)
    listing.add_argument("--all", action="store_true", help="also released and rejected files")
    listing.add_argument("--json", action="store_true", help="print JSON with the evidence")
    listing.set_defaults(run=run_held_list)
    show: argparse.ArgumentParser = held_actions.add_parser(
        "show", help="one held file's evidence as JSON (both identities, the attestation)"
    )
    add_index_options(show)
    show.add_argument("id", type=int)
    show.set_defaults(run=run_held_show)
    for name, verb in (("release", "serve"), ("reject", "keep hiding for good")):
        decide = action(name, f"{name} a held file ({verb} it); journalled with the reason")
        decide.add_argument("id", type=int, help="the held file's id (policy held list)")
        decide.add_argument("--reason", required=True, help="why (journalled)")
        decide.set_defaults(run=run_decide, release=name == "release")
    pin = action("pin", "pin the Trusted Publisher an upstream project's files must name")
    pin.add_argument("name", help="the project name")
    pin.add_argument("identity", help="github:OWNER/REPO/WORKFLOW.yml[@ENVIRONMENT]")
    pin.set_defaults(run=run_pin)
    unpin = action("unpin", "drop a pin (the identity is learnt again from the next file)")
    unpin.add_argument("name", help="the project name")
    unpin.set_defaults(run=run_unpin)
    pins = action("pins", "every upstream project's identity, first seen or pinned")
    pins.add_argument("--json", action="store_true", help="print JSON")
    pins.set_defaults(run=run_pins)
    hold = action(
        "hold-token-uploads",
        "hold a local project's API-token uploads for approval (default: on when it has a "
        "trusted publisher); the owner's Continuity page sets the same",
    )
    hold.add_argument("name", help="the local project")
    hold.add_argument("state", choices=("on", "off"))
    hold.set_defaults(run=run_hold_token_uploads)


def _open(args: argparse.Namespace) -> Any:
    from trustyard.index.context import open_index  # noqa: PLC0415 - slow import

    return open_index(settings_from(args))


def _evidence(row: Any) -> dict[str, Any]:
    from trustyard.attestations.continuity import describe  # noqa: PLC0415

    return {
        "id": row.id,
        "origin": row.origin,
        "project": row.project,
        "filename": row.filename,
        "sha256": row.sha256,
        "state": row.verdict,
        "reason": row.reason,
        "expected": row.expected,
        "expected_text": describe(row.expected),
        "found": row.found,
        "found_text": describe(row.found),
        "held": row.created.isoformat() + "Z",
        "decided_by": row.decided_by,
        "decided": row.decided.isoformat() + "Z" if row.decided else None,
        "note": row.note,
        "provenance": row.provenance,
    }


def run_held_list(args: argparse.Namespace) -> int:
    """Print the held files: one line each, or JSON with every piece of evidence."""
    from trustyard.index.services import continuity  # noqa: PLC0415

    ctx = _open(args)
    with ctx.db.read() as session:
        rows = [_evidence(row) for row in continuity.held_files(session, every=args.all)]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print("no held files", file=sys.stderr)
    for row in rows:
        print(
            f"{row['id']}\t{row['state']}\t{row['origin']}\t{row['project']}\t{row['filename']}"
            f"\t{row['reason']}"
        )
    return 0


def run_held_show(args: argparse.Namespace) -> int:
    """Print one held file's evidence as JSON."""
    from trustyard.index.services import continuity  # noqa: PLC0415

    ctx = _open(args)
    with ctx.db.read() as session:
        print(json.dumps(_evidence(continuity.held_file(session, args.id)), indent=2))
    return 0


def run_decide(args: argparse.Namespace) -> int:
    """Release or reject a held file, as the host's admin."""
    from trustyard.index.services import continuity  # noqa: PLC0415
    from trustyard.index.services.roles import HOST  # noqa: PLC0415

    ctx = _open(args)
    with ctx.db.write() as session:
        row = continuity.decide(
            session, args.id, release=args.release, actor=HOST.name, note=args.reason
        )
        print(f"{row.project}: {row.filename} {row.verdict}", file=sys.stderr)
    return 0


def run_pin(args: argparse.Namespace) -> int:
    """Pin an upstream project's publisher identity."""
    from trustyard.attestations.continuity import describe, parse_pin  # noqa: PLC0415
    from trustyard.index.services import continuity  # noqa: PLC0415
    from trustyard.index.services.roles import HOST  # noqa: PLC0415

    if not is_valid_project_name(args.name):
        raise InvalidInput(f"{args.name!r} is not a valid project name")
    identity = parse_pin(args.identity)
    ctx = _open(args)
    with ctx.db.write() as session:
        project = continuity.pin(session, args.name, identity, actor=HOST.name)
    print(f"{project}: pinned to {describe(identity)}", file=sys.stderr)
    return 0


def run_unpin(args: argparse.Namespace) -> int:
    """Drop an upstream project's pin."""
    from trustyard.index.services import continuity  # noqa: PLC0415
    from trustyard.index.services.roles import HOST  # noqa: PLC0415

    ctx = _open(args)
    with ctx.db.write() as session:
        project = continuity.unpin(session, args.name, actor=HOST.name)
    print(f"{project}: unpinned", file=sys.stderr)
    return 0


def run_hold_token_uploads(args: argparse.Namespace) -> int:
    """Switch the local continuity rule for one project (journalled)."""
    from trustyard.index.services import continuity  # noqa: PLC0415
    from trustyard.index.services.projects import get_project  # noqa: PLC0415
    from trustyard.index.services.roles import HOST  # noqa: PLC0415

    ctx = _open(args)
    with ctx.db.write() as session:
        project = get_project(session, args.name)
        continuity.set_hold_token_uploads(session, project, on=args.state == "on", actor=HOST.name)
    print(f"{project.name}: API-token uploads held: {args.state}", file=sys.stderr)
    return 0


def run_pins(args: argparse.Namespace) -> int:
    """Print every recorded identity (first seen or pinned)."""
    from trustyard.attestations.continuity import describe  # noqa: PLC0415
    from trustyard.index.services import continuity  # noqa: PLC0415

    ctx = _open(args)
    with ctx.db.read() as session:
        rows = [
            {
                "project": row.project,
                "identity": row.identity,
                "identity_text": describe(row.identity),
                "pinned": row.pinned,
                "set_by": row.set_by,
            }
            for row in continuity.identities(session)
        ]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for row in rows:
        how = "pinned" if row["pinned"] else "first seen"
        print(f"{row['project']}\t{row['identity_text']}\t{how}")
    return 0
