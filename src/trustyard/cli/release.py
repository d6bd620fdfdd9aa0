"""``trustyard release``: the whole pipeline over one release directory, resumable by stage;
``trustyard release add-wheels``: wheels for a new Python version added to a published release.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

from trustyard.release.pipeline import STAGES, ReleaseOptions, release
from trustyard.release.promotion import IndexTarget

ADD_WHEELS = "add-wheels"


class _ReleaseParser(argparse.ArgumentParser):
    """``release``'s parser: ``add-wheels`` as the first word hands the rest to that mode's own
    parser, so that the pipeline's optional ``DIST`` positional keeps working as it was
    (argparse cannot put sub-commands beside an optional positional)."""

    add_wheels: argparse.ArgumentParser | None = None

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        words = list(sys.argv[1:] if args is None else args)
        if words[:1] == [ADD_WHEELS] and self.add_wheels is not None:
            return self.add_wheels.parse_known_args(words[1:], namespace)
        return super().parse_known_args(words, namespace)


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
            "(GitHub Actions, GitLab CI) or --test-token/--token. "
            f"`trustyard release {ADD_WHEELS} --help`: wheels for a new Python version."
        ),
    )
    parser.__class__ = _ReleaseParser
    parser.add_argument(
        "dist", nargs="?", type=Path, default=Path("dist"), help="the release directory (dist/)"
    )
    parser.add_argument("--project", type=Path, default=Path("."), help="the git checkout (.)")
    parser.add_argument("--ref", default="HEAD", help="the commit or tag to release (HEAD)")
    parser.add_argument("--test-index", required=True, metavar="URL", help="test upload URL")
    _common_options(parser)
    parser.add_argument(
        "--allow-dirty", action="store_true", help="release REF although the tree has changes"
    )
    parser.add_argument(
        "--publisher",
        default=None,
        metavar="KIND:IDENTITY",
        help=(
            "the Trusted Publisher whose PEP 740 attestations every file must carry when "
            "verified, e.g. github:OWNER/REPO/WORKFLOW.yml (default: not checked)"
        ),
    )
    parser.add_argument(
        "--accept-equivalent",
        action="store_true",
        help=(
            "let the verify stages pass a file that is only equivalent to the rebuild (same "
            "members and contents, other archive metadata); by default only reproduced files pass"
        ),
    )
    parser.set_defaults(run=run)

    add = argparse.ArgumentParser(
        prog=f"{parser.prog} {ADD_WHEELS}",
        description=(
            "Add wheels for new Python versions to a release already on the index: download "
            "its sdist, check it is byte for byte what REF rebuilds to, build one wheel per "
            "--python from it with that installed interpreter, write DIR/<tag>.intoto.jsonl "
            "(and PEP 740 attestations with a CI identity), publish to the test index, ask "
            "for approval, publish to production."
        ),
    )
    add.add_argument("--ref", required=True, help="the release's tag (or commit)")
    add.add_argument(
        "--python",
        action="append",
        required=True,
        dest="pythons",
        metavar="TAG",
        help="a CPython interpreter tag, e.g. cp314 or cp314t (repeatable); it must be installed",
    )
    add.add_argument("--project", type=Path, default=Path("."), help="the git checkout (.)")
    add.add_argument(
        "--dist",
        type=Path,
        default=Path("dist"),
        metavar="DIR",
        help="where the wheels and their records go; its build-env.json pins the environment",
    )
    add.add_argument("--test-index", default=None, metavar="URL", help="test upload URL")
    _common_options(add)
    add.set_defaults(run=run_add_wheels)
    cast("_ReleaseParser", parser).add_wheels = add


def _common_options(parser: argparse.ArgumentParser) -> None:
    """The options both modes take: production index, credentials, TLS, Sigstore, the gate."""
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
    gate = parser.add_mutually_exclusive_group()
    gate.add_argument("--yes", action="store_true", help="approve the production publish")
    gate.add_argument(
        "--approve-file",
        type=Path,
        default=None,
        help="approve exactly the files and sha256 listed in FILE (sha256sum format)",
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


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
        publisher=args.publisher,
        accept_equivalent=args.accept_equivalent,
    )
    state = release(options, progress=lambda line: print(line, file=sys.stderr, flush=True))
    if args.json:
        print(json.dumps(state, indent=2))
    else:
        print(f"released {state['release']} ({state['commit'][:12]}):")
        for name, digest in sorted(state["files"].items()):
            print(f"  {digest}  {name}")
    return 0


def run_add_wheels(args: argparse.Namespace) -> int:
    """Add the wheels; a refusal is reported by the CLI's error handler."""
    from trustyard.release.add_wheels import AddWheelsOptions, add_wheels  # noqa: PLC0415

    options = AddWheelsOptions(
        project=args.project,
        ref=args.ref,
        pythons=tuple(args.pythons),
        production=IndexTarget("production", args.index, args.token),
        test=IndexTarget("test", args.test_index, args.test_token) if args.test_index else None,
        dist=args.dist,
        trusted_publishing=args.trusted_publishing,
        cacert=args.cacert,
        sigstore_trust_config=args.sigstore_trust_config,
        yes=args.yes,
        approve_file=args.approve_file,
    )
    result = add_wheels(options, progress=lambda line: print(line, file=sys.stderr, flush=True))
    if args.json:
        document = {
            "release": result.release,
            "commit": result.commit,
            "sdist": {"filename": result.sdist, "sha256": result.sdist_sha256},
            "added": dict(result.added),
            "already_on_index": dict(result.already_there),
            "provenance": [str(p) for p in result.provenance],
            "signed": result.signed,
            "approved_by": result.approved_by,
        }
        print(json.dumps(document, indent=2))
        return 0
    print(f"{result.release} ({result.commit[:12]}), built from {result.sdist}:")
    for name, digest in sorted(result.added.items()):
        print(f"  {digest}  {name}  added")
    for name, digest in sorted(result.already_there.items()):
        print(f"  {digest}  {name}  already on the index")
    return 0
