"""``trustyard audit``: score a repository's release set-up like Scorecard, plus zizmor."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from trustyard.audit.findings import Severity
from trustyard.audit.github import GITHUB_API, parse_repo
from trustyard.audit.output import FORMATS
from trustyard.audit.runner import AuditOptions, run_audit
from trustyard.audit.zizmor import PERSONAS
from trustyard.errors import InvalidInput


def register(commands: Any) -> None:
    """Add ``audit [PATH] [--github OWNER/REPO] [--format F] [--fail-on S]``."""
    p = commands.add_parser("audit", help="check a repository's release set-up")
    p.add_argument("path", nargs="?", type=Path, default=Path(), help="checkout (default: .)")
    p.add_argument("--github", metavar="OWNER/REPO", help="also run the checks that need the API")
    p.add_argument("--github-api-url", default=GITHUB_API, help="GitHub REST API base URL")
    p.add_argument("--format", choices=sorted(FORMATS), default="table")
    p.add_argument(
        "--fail-on",
        default="high",
        help="exit 1 on findings at or above: info, low, medium, high, critical",
    )
    p.add_argument("--zizmor-persona", choices=PERSONAS, default="regular")
    p.add_argument(
        "--no-exclude",
        action="store_true",
        help="ignore [tool.trustyard.audit] exclude in pyproject.toml and audit every file",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        threshold = Severity.parse(args.fail_on)
    except ValueError as exc:
        raise InvalidInput(f"--fail-on: {exc}") from exc
    token = os.environ.get("GITHUB_TOKEN") or os.environ.get("GH_TOKEN")
    repo = parse_repo(args.github) if args.github else None
    if repo and not token:
        raise InvalidInput(
            "--github needs a token in GITHUB_TOKEN (or GH_TOKEN); "
            "Branch-Protection needs one with admin read access"
        )
    options = AuditOptions(
        github=repo,
        token=token,
        api_url=args.github_api_url,
        zizmor_persona=args.zizmor_persona,
        use_exclusions=not args.no_exclude,
    )
    report = run_audit(args.path, options)
    print(FORMATS[args.format](report), end="")
    worst = report.worst()
    return 1 if worst is not None and worst >= threshold else 0
