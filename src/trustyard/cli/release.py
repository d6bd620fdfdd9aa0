"""``trustyard release``: the whole pipeline over one release directory, resumable by stage."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from trustyard.release.pipeline import STAGES, IndexTarget, ReleaseOptions, release


def register(commands: Any) -> None:
    """Add the ``release`` command."""
    parser: argparse.ArgumentParser = commands.add_parser(
        "release",
        help="build, attest, publish to a test index, verify, approve, publish, verify",
        description=(
            "Run the release pipeline over one release directory: "
            + " -> ".join(STAGES)
            + ". Each finished stage is recorded in DIR/release-state.json, so a rerun resumes "
            "where a failed or interrupted run stopped; the files that passed the test index "
            "are the ones published to production. Credentials come from Trusted Publishing "
            "(GitHub Actions, GitLab CI) or --test-token/--token."
        ),
    )
    parser.add_argument(
        "dist", nargs="?", type=Path, default=Path("dist"), help="the release directory (dist/)"
    )
    parser.add_argument("--project", type=Path, default=Path("."), help="the git checkout (.)")
    parser.add_argument("--ref", default="HEAD", help="the commit or tag to release (HEAD)")
    parser.add_argument("--test-index", required=True, metavar="URL", help="test upload URL")
    parser.add_argument("--index", required=True, metavar="URL", help="production upload URL")
    parser.add_argument("--test-token", default=None, help="API token for the test index")
    parser.add_argument("--token", default=None, help="API token for the production index")
    parser.add_argument("--trusted-publishing", choices=("auto", "always", "never"), default="auto")
    parser.add_argument("--cacert", type=Path, default=None, help="CA certificates (PEM)")
    parser.add_argument(
        "--sigstore-trust-config",
        type=Path,
        default=None,
        help="a Sigstore ClientTrustConfig for a private instance (default: public Sigstore)",
    )
    parser.add_argument(
        "--allow-dirty", action="store_true", help="release REF although the tree has changes"
    )
    gate = parser.add_mutually_exclusive_group()
    gate.add_argument("--yes", action="store_true", help="approve the production publish")
    gate.add_argument(
        "--approve-file",
        type=Path,
        default=None,
        help="approve exactly the files and sha256 listed in FILE (sha256sum format)",
    )
    parser.add_argument("--json", action="store_true", help="print the final state as JSON")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run or resume the pipeline; any stage's failure is reported by the CLI's error handler."""
    options = ReleaseOptions(
        project=args.project,
        dist=args.dist,
        ref=args.ref,
        test=IndexTarget("test", args.test_index, args.test_token),
        production=IndexTarget("production", args.index, args.token),
        allow_dirty=args.allow_dirty,
        trusted_publishing=args.trusted_publishing,
        cacert=args.cacert,
        sigstore_trust_config=args.sigstore_trust_config,
        yes=args.yes,
        approve_file=args.approve_file,
    )
    state = release(options, progress=lambda line: print(line, file=sys.stderr, flush=True))
    if args.json:
        print(json.dumps(state, indent=2))
    else:
        print(f"released {state['release']} ({state['commit'][:12]}):")
        for name, digest in sorted(state["files"].items()):
            print(f"  {digest}  {name}")
    return 0
