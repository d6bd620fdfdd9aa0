"""``trustyard issuer``: the development OIDC issuer, and the CI environments that use it.

For development and tests only: the issuer signs any identity its callers ask for.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from trustyard.oidc.devclaims import (
    DEFAULT_LIFETIME,
    DEFAULT_SHA,
    GitHubRun,
    GitLabJob,
    TokenRequest,
    export_lines,
    github_environ,
    gitlab_environ,
)

WARNING = (
    "FOR DEVELOPMENT AND TESTS ONLY: the issuer signs whatever identity its callers ask for "
    "(the request token is unsigned JSON), so it listens on loopback only and no production "
    "index should trust it."
)


def register(commands: Any) -> None:
    """Add ``issuer serve``, ``issuer env`` and ``issuer token``."""
    parser: argparse.ArgumentParser = commands.add_parser(
        "issuer",
        help="a development OIDC issuer playing GitHub Actions or GitLab CI (tests only)",
        description="A development OIDC issuer that plays GitHub Actions or GitLab CI. " + WARNING,
    )
    sub = parser.add_subparsers(dest="issuer_command", required=True, metavar="COMMAND")

    serve = sub.add_parser(
        "serve",
        help="run the issuer",
        description="Serve OIDC discovery, JWKS and a GitHub-Actions-style token endpoint "
        "(GET /token?audience=A with 'Authorization: Bearer <request token>'). " + WARNING,
    )
    serve.add_argument("--host", default="127.0.0.1", help="address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8090, help="port, 0 for any (default 8090)")
    serve.add_argument(
        "--data",
        type=Path,
        default=Path("trustyard-data/dev-issuer"),
        help="where the signing key is kept (default ./trustyard-data/dev-issuer)",
    )
    serve.add_argument(
        "--insecure-public",
        action="store_true",
        help="allow a non-loopback address (anyone reaching it can mint any identity)",
    )
    serve.set_defaults(run=run_serve)

    env = sub.add_parser(
        "env",
        help="print the export lines of a CI job using the issuer",
        description="Print shell export lines that make a client believe it runs in the given "
        "GitHub Actions workflow (token request URL and token) or, with --gitlab, GitLab CI job "
        "(<AUD>_ID_TOKEN, fetched from the running issuer). " + WARNING,
    )
    _add_identity_options(env, audience_required=False)
    env.set_defaults(run=run_env)

    token = sub.add_parser(
        "token",
        help="print one ID token from the running issuer",
        description="Fetch one signed ID token from the running issuer. " + WARNING,
    )
    _add_identity_options(token, audience_required=True)
    token.set_defaults(run=run_token)


def _add_identity_options(parser: argparse.ArgumentParser, *, audience_required: bool) -> None:
    parser.add_argument("--issuer", required=True, help="the running issuer's URL")
    parser.add_argument(
        "--audience",
        required=audience_required,
        help="the token's aud (the index's audience); GitHub mode lets the client ask instead",
    )
    parser.add_argument("--gitlab", action="store_true", help="GitLab CI claims, not GitHub's")
    github = parser.add_argument_group("GitHub Actions")
    github.add_argument("--repository", help="OWNER/REPO")
    github.add_argument("--workflow", default="release.yml", help="file in .github/workflows/")
    github.add_argument("--owner-id", default="1001", help="repository_owner_id")
    github.add_argument("--repository-id", default="2001", help="repository_id")
    github.add_argument("--event", default="push", help="event_name (default push)")
    github.add_argument("--job-workflow-ref", help="a reusable workflow's OWNER/REPO/PATH@REF")
    gitlab = parser.add_argument_group("GitLab CI (--gitlab)")
    gitlab.add_argument("--project", help="NAMESPACE/PROJECT")
    gitlab.add_argument("--workflow-path", default=".gitlab-ci.yml", help="CI config file")
    both = parser.add_argument_group("both")
    both.add_argument("--ref", default="refs/heads/main", help="full ref (refs/tags/v1.0.0)")
    both.add_argument("--environment", help="deployment environment")
    both.add_argument("--sha", default=DEFAULT_SHA, help="commit SHA")
    both.add_argument(
        "--claim",
        action="append",
        default=[],
        type=_claim_text,
        metavar="NAME=VALUE",
        help="set a claim to a string (repeatable; also iss, aud, exp, ...)",
    )
    both.add_argument(
        "--claim-json",
        action="append",
        default=[],
        type=_claim_json,
        metavar="NAME=JSON",
        help='set a claim to any JSON value, e.g. aud=\'["a","b"]\' or exp=0',
    )
    both.add_argument(
        "--drop-claim", action="append", default=[], metavar="NAME", help="remove a claim"
    )
    both.add_argument(
        "--lifetime", type=int, default=DEFAULT_LIFETIME, help="seconds until exp (default 300)"
    )
    both.add_argument(
        "--time-shift", type=int, default=0, help="seconds added to iat, nbf and exp (default 0)"
    )


def _claim_text(text: str) -> tuple[str, Any]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name, value


def _claim_json(text: str) -> tuple[str, Any]:
    name, value = _claim_text(text)
    try:
        return name, json.loads(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{name}: not JSON: {value!r}") from exc


def _identity(args: argparse.Namespace) -> tuple[GitHubRun | GitLabJob, TokenRequest]:
    job: GitHubRun | GitLabJob
    if args.gitlab:
        if not args.project:
            raise SystemExit("trustyard issuer: error: --gitlab needs --project NAMESPACE/PROJECT")
        job = GitLabJob(
            project=args.project,
            workflow_path=args.workflow_path,
            ref=args.ref,
            environment=args.environment,
            sha=args.sha,
        )
        claims = job.claims(args.issuer)
    else:
        if not args.repository:
            raise SystemExit("trustyard issuer: error: --repository OWNER/REPO is required")
        job = GitHubRun(
            repository=args.repository,
            workflow=args.workflow,
            ref=args.ref,
            environment=args.environment,
            event_name=args.event,
            sha=args.sha,
            owner_id=args.owner_id,
            repository_id=args.repository_id,
            job_workflow_ref=args.job_workflow_ref,
        )
        claims = job.claims()
    claims.update(args.claim)
    claims.update(args.claim_json)
    request = TokenRequest(
        claims=claims,
        drop=tuple(args.drop_claim),
        lifetime=args.lifetime,
        shift=args.time_shift,
    )
    return job, request


def run_serve(args: argparse.Namespace) -> int:
    """Serve until interrupted; the first line on stdout is the issuer's URL."""
    from trustyard.oidc.devissuer import make_server  # noqa: PLC0415

    server = make_server(args.data, args.host, args.port, insecure_public=args.insecure_public)
    print(f"trustyard dev issuer at {server.url} (development and tests only)", flush=True)
    print(WARNING, file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


def run_env(args: argparse.Namespace) -> int:
    """Print the export lines of the job."""
    from trustyard.oidc.devissuer import fetch_token  # noqa: PLC0415

    job, request = _identity(args)
    if isinstance(job, GitLabJob):
        if not args.audience:
            raise SystemExit("trustyard issuer: error: --gitlab needs --audience")
        token = fetch_token(args.issuer, args.audience, request.encode())
        environ = gitlab_environ(job, args.audience, token)
    else:
        environ = github_environ(job, args.issuer, request.encode())
    sys.stdout.write(export_lines(environ))
    return 0


def run_token(args: argparse.Namespace) -> int:
    """Print one ID token."""
    from trustyard.oidc.devissuer import fetch_token  # noqa: PLC0415

    _, request = _identity(args)
    print(fetch_token(args.issuer, args.audience, request.encode()))
    return 0
