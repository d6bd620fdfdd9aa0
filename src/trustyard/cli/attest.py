"""``trustyard attest``: SHA256SUMS, SLSA v1 provenance and (in CI) Sigstore signatures."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from trustyard.cli.build import progress_reporter
from trustyard.release.attest import AttestOptions, AttestResult, attest_release


def register(commands: Any) -> None:
    """Add the ``attest`` command."""
    parser: argparse.ArgumentParser = commands.add_parser(
        "attest",
        help="write SHA256SUMS and SLSA provenance for a release directory; sign it in CI",
        description=(
            "Write DIR/SHA256SUMS and DIR/multiple.intoto.jsonl (a SLSA v1 provenance statement "
            "for every .whl and .tar.gz, recording the source revision and DIR/build-env.json). "
            "With an ambient CI identity (GitHub Actions, GitLab CI) sign it with Sigstore and "
            "write a PEP 740 DIST.publish.attestation per distribution; without one, nothing "
            "is signed and the command says so."
        ),
    )
    parser.add_argument("dir", type=Path, metavar="DIR", help="the release directory (dist/)")
    parser.add_argument(
        "--source",
        type=Path,
        default=None,
        help="the git checkout that was built (default: the current directory; CI: the run's)",
    )
    parser.add_argument(
        "--sigstore-trust-config",
        type=Path,
        default=None,
        metavar="FILE",
        help="a Sigstore ClientTrustConfig JSON for a private instance (default: public Sigstore)",
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="replace existing provenance and attestations"
    )
    parser.add_argument(
        "--unsigned", action="store_true", help="do not sign, even with an ambient CI identity"
    )
    parser.add_argument("--json", action="store_true", help="print a JSON report on stdout")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Attest and report what was (and was not) signed."""
    options = AttestOptions(
        release_dir=args.dir,
        source=args.source,
        trust_config=args.sigstore_trust_config,
        overwrite=args.overwrite,
        sign=not args.unsigned,
    )
    with progress_reporter(quiet=args.json) as progress:
        result = attest_release(options, progress=progress)
    if args.json:
        print(json.dumps(_as_json(result), indent=2))
        return 0
    print(f"wrote {result.sums_path} ({len(result.subjects)} distributions)")
    print(f"wrote {result.provenance_path}")
    print(f"source: {result.source.uri} (commit {result.source.commit})")
    print(f"builder: {result.builder.describe()}")
    if result.signed:
        print(f"signed with Sigstore as {result.identity} (issuer {result.issuer})")
        for path in result.attestation_paths:
            print(f"wrote {path}")
    else:
        print(
            f"NOT signed: {result.unsigned_reason}; {result.provenance_path.name} holds the "
            "unsigned statement and no .publish.attestation was written",
            file=sys.stderr,
        )
    return 0


def _as_json(result: AttestResult) -> dict[str, Any]:
    return {
        "signed": result.signed,
        "unsigned_reason": result.unsigned_reason or None,
        "identity": result.identity or None,
        "issuer": result.issuer or None,
        "sha256sums": str(result.sums_path),
        "provenance": str(result.provenance_path),
        "attestations": [str(p) for p in result.attestation_paths],
        "builder": {
            "kind": result.builder.kind,
            "id": result.builder.id,
            "invocation_id": result.builder.invocation_id,
        },
        "source": {
            "repository": result.source.repository,
            "ref": result.source.ref,
            "commit": result.source.commit,
        },
        "subjects": [{"name": s.name, "sha256": s.sha256} for s in result.subjects],
    }
