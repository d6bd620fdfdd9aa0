"""``trustyard ci``: what a CI job runs for itself; ``ci credentials`` is Trusted Reading."""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from trustyard.release.ci_credentials import (
    FORMATS,
    burn_read_token,
    exchange_for_read_token,
    render,
)
from trustyard.release.publish import tls_context
from trustyard.release.upload_client import HttpClient


def register(commands: Any) -> None:
    """Add ``ci credentials``."""
    group = commands.add_parser("ci", help="commands a CI job runs (Trusted Reading)")
    actions = group.add_subparsers(dest="action", required=True, metavar="ACTION")
    creds = actions.add_parser(
        "credentials",
        help="exchange this job's OIDC identity for a 15-minute read token and print it",
        description=(
            "Inside GitHub Actions (permissions: id-token: write) or GitLab CI (an id_tokens"
            " entry for the index's read audience, GET /_/oidc/read-audience), exchange the"
            " job's ID token at the index for a read-only token valid 15 minutes, for the"
            " projects whose trusted publishers or reader policies match the job. Printed on"
            " stdout in the form uv, poetry and pip read; nothing else goes to stdout."
        ),
    )
    creds.add_argument(
        "--index", required=True, metavar="URL", help="the index's URL, e.g. https://host/simple/"
    )
    creds.add_argument(
        "--format",
        choices=FORMATS,
        default="env",
        help=(
            "env: UV_INDEX_<NAME>_USERNAME/PASSWORD and POETRY_HTTP_BASIC_<NAME>_USERNAME/PASSWORD"
            " lines (append them to $GITHUB_ENV); netrc: a .netrc line; pip-url: the index URL"
            " with the credentials in it (default: env)"
        ),
    )
    creds.add_argument(
        "--name",
        default="private",
        help="the index's name in the project's uv or poetry configuration (default: private)",
    )
    creds.add_argument(
        "--cacert", type=Path, default=None, help="CA certificates to trust for HTTPS (PEM)"
    )
    creds.add_argument(
        "--revoke",
        metavar="TOKEN",
        default=None,
        help=(
            "instead of minting: revoke this read token now (- reads it from stdin), e.g. in a"
            " last step once the job's installs are done"
        ),
    )
    creds.set_defaults(run=run_credentials)


def run_credentials(args: argparse.Namespace) -> int:
    """Exchange, print the credentials on stdout and their lifetime on stderr; or, with
    ``--revoke``, burn a read token."""
    client = HttpClient(tls_context(args.cacert), timeout=30)
    if args.revoke is not None:
        token = sys.stdin.readline() if args.revoke == "-" else args.revoke
        burn_read_token(client, args.index, token)
        print(f"trustyard: the read token for {args.index} is revoked", file=sys.stderr)
        return 0
    credentials = exchange_for_read_token(client, args.index, os.environ)
    sys.stdout.write(render(credentials, args.format, name=args.name))
    if credentials.expires is not None:
        until = datetime.fromtimestamp(credentials.expires, UTC).strftime("%H:%M:%S UTC")
        where = credentials.index_url
        print(f"trustyard: a read token for {where}, valid until {until}", file=sys.stderr)
    return 0
