"""``trustyard verify``: prove that an index serves what the tagged source builds to."""

from __future__ import annotations

import argparse
import json
import ssl
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from trustyard.cli.build import progress_reporter
from trustyard.cli.verify_sweep import add_sweep_options, run_sweep
from trustyard.errors import InvalidInput
from trustyard.oidc.publishers import spec_forms
from trustyard.release.buildenv.carried import load_record
from trustyard.release.buildenv.pins import BuildEnvRecord
from trustyard.release.compare import render_diff
from trustyard.release.publish import tls_context
from trustyard.release.verify import VerifyReport, parse_publisher, verify_release


def register(commands: Any) -> None:
    """Add the ``verify`` command."""
    parser: argparse.ArgumentParser = commands.add_parser(
        "verify",
        help="rebuild a release from its tag and compare every hash with the index",
        description=(
            "Read NAME==VERSION's files from the index (PEP 691 JSON, HTML fallback), rebuild "
            "the tag vVERSION (or VERSION, or --ref) of the source, and compare every sha256."
        ),
    )
    parser.add_argument(
        "release", metavar="NAME==VERSION", help="the release (with --versions: NAME alone)"
    )
    parser.add_argument("--index", required=True, help="the simple API root, e.g. .../simple/")
    parser.add_argument(
        "--source", required=True, help="a git checkout, a bare git repository or a git URL"
    )
    parser.add_argument("--ref", default=None, help="the commit to rebuild (default: the tag)")
    parser.add_argument(
        "--build-env",
        default=None,
        help=(
            "a build-env.json (path or URL) recorded by the release's build, or the provenance "
            "(.intoto.jsonl) of `trustyard attest` that carries it, to reuse its pins"
        ),
    )
    parser.add_argument(
        "--accept-equivalent",
        action="store_true",
        help="exit 0 also when files are only equivalent after normalisation",
    )
    parser.add_argument(
        "--publisher",
        default=None,
        metavar="KIND:IDENTITY",
        help=(
            "the Trusted Publisher every file's PEP 740 attestations must name, one of "
            f"{spec_forms()}; without it attestations are reported but do not decide the verdict"
        ),
    )
    parser.add_argument(
        "--sigstore-trust-config",
        type=Path,
        default=None,
        metavar="FILE",
        help="a Sigstore ClientTrustConfig JSON for a private instance (default: public Sigstore)",
    )
    parser.add_argument(
        "--cacert",
        type=Path,
        default=None,
        metavar="FILE",
        help="CA certificates (PEM) to trust for an https index (default: the system's)",
    )
    parser.add_argument("--json", action="store_true", help="print a JSON report on stdout")
    add_sweep_options(parser)
    parser.set_defaults(run=run)


def _load_record(location: str, context: ssl.SSLContext | None) -> BuildEnvRecord:
    if urlsplit(location).scheme in {"http", "https"}:
        try:
            with urllib.request.urlopen(location, timeout=60, context=context) as response:  # noqa: S310
                text = response.read().decode("utf-8")
        except (urllib.error.URLError, OSError, UnicodeDecodeError) as exc:
            raise InvalidInput(f"cannot read {location}: {exc}") from exc
    else:
        try:
            text = Path(location).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidInput(f"cannot read {location}: {exc}") from exc
    return load_record(text, origin=location)  # the record, or a provenance carrying it


def run(args: argparse.Namespace) -> int:
    """Verify and print a table; exit 0 only when every rebuildable file matched."""
    if args.versions is not None or args.tag_pattern is not None:
        return run_sweep(args)
    publisher = parse_publisher(args.publisher) if args.publisher else None
    trust = None
    if args.sigstore_trust_config is not None:
        from trustyard.attestations.trust import load_trust_config  # noqa: PLC0415 - slow import

        trust = load_trust_config(args.sigstore_trust_config)
    context = tls_context(args.cacert) if args.cacert is not None else None
    record = _load_record(args.build_env, context) if args.build_env else None
    with (
        tempfile.TemporaryDirectory(prefix="trustyard-verify-") as scratch,
        progress_reporter(quiet=args.json) as progress,
    ):
        report = verify_release(
            args.release,
            args.index,
            args.source,
            Path(scratch),
            ref=args.ref,
            env_record=record,
            accept_equivalent=args.accept_equivalent,
            progress=progress,
            publisher=publisher,
            trust=trust,
            context=context,
        )
    if args.json:
        print(json.dumps(_as_json(report), indent=2))
    else:
        _print_table(report)
    return 0 if report.ok else 1


def _as_json(report: VerifyReport) -> dict[str, Any]:
    return {
        "name": report.name,
        "version": report.version,
        "ref": report.ref,
        "commit": report.commit,
        "verified": report.ok,
        "files": [
            {
                "filename": f.filename,
                "index_sha256": f.index_sha256,
                "rebuilt_sha256": f.rebuilt_sha256,
                "verdict": f.verdict,
                "note": f.note,
                "diff": render_diff(f.diff) if f.diff else [],
            }
            for f in report.files
        ],
        "publisher": report.publisher,
        "attestations": [
            {
                "filename": a.filename,
                "status": a.status,
                "detail": a.detail,
                "publishers": list(a.publishers),
                "predicate_types": list(a.predicate_types),
            }
            for a in report.attestations
        ],
    }


def _print_table(report: VerifyReport) -> None:
    from rich.console import Console  # noqa: PLC0415 - only for the human format
    from rich.table import Table  # noqa: PLC0415

    console = Console()
    if not console.is_terminal:  # a log or a pipe: never truncate a hash
        console = Console(width=250)
    print(f"{report.name} {report.version}: rebuilt {report.ref} ({report.commit})")
    table = Table("file", "index sha256", "rebuilt sha256", "verdict")
    for f in report.files:
        verdict = f"{f.verdict} ({f.note})" if f.note else f.verdict
        table.add_row(f.filename, f.index_sha256 or "-", f.rebuilt_sha256 or "-", verdict)
    console.print(table)
    for f in report.files:
        if f.diff is not None:
            print("\n".join(render_diff(f.diff)))
    if report.attestations:
        expected = report.publisher or "none given: reported, not required"
        attestations = Table("file", "attestations (PEP 740)", "detail")
        for a in report.attestations:
            attestations.add_row(a.filename, a.status, a.detail)
        print(f"expected publisher: {expected}")
        console.print(attestations)
    print("verified" if report.ok else "NOT verified")
