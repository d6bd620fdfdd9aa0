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

from trustyard.atomicfiles import write_atomic
from trustyard.cli.build import progress_reporter
from trustyard.cli.verify_sweep import add_sweep_options, run_sweep
from trustyard.errors import InvalidInput
from trustyard.oidc.publishers import spec_forms
from trustyard.release.buildenv.carried import load_record
from trustyard.release.buildenv.pins import BuildEnvRecord
from trustyard.release.compare import render_diff
from trustyard.release.inference import DEFAULT_TIME_LIMIT
from trustyard.release.publish import tls_context
from trustyard.release.verify import (
    SCHEMA_VERSION,
    VerifyReport,
    parse_publisher,
    verify_release,
)


def register(commands: Any) -> None:
    """Add the ``verify`` command."""
    parser: argparse.ArgumentParser = commands.add_parser(
        "verify",
        help="rebuild a release from its tag and compare every hash with the index",
        description=(
            "Read NAME==VERSION's files from the index (PEP 691 JSON, HTML fallback), rebuild "
            "the tag vVERSION (or VERSION, or --ref) of the source, and grade every file: "
            "reproduced (byte-identical from the tag), reproduced-from-sdist (the wheel "
            "byte-identical from the published sdist, whose content is the tag's), equivalent "
            "(only archive metadata differs), differs. Without --build-env the build recipe is "
            "inferred from the published files and their upload time; the recipe that "
            "reproduced the files is written as a build-env.json that --build-env replays."
        ),
    )
    parser.add_argument(
        "release", metavar="NAME==VERSION", help="the release (with --versions: NAME alone)"
    )
    parser.add_argument("--index", required=True, help="the simple API root, e.g. .../simple/")
    parser.add_argument(
        "--source",
        default=None,
        help="a git work tree, a bare git repository or a git URL (not with --from-sdist)",
    )
    parser.add_argument(
        "--from-sdist",
        action="store_true",
        help="no git: rebuild the wheels from the index's own sdist (the sdist is not checked)",
    )
    parser.add_argument("--ref", default=None, help="the commit to rebuild (default: the tag)")
    parser.add_argument(
        "--build-env",
        default=None,
        help=(
            "a build-env.json (path or URL) recorded by `trustyard build` or written by an "
            "earlier verify, or the provenance (.intoto.jsonl) of `trustyard attest` that "
            "carries it: replay it instead of inferring a recipe"
        ),
    )
    parser.add_argument(
        "--save-build-env",
        type=Path,
        default=None,
        metavar="FILE",
        help=(
            "where to write the build-env.json of the recipe that reproduced the files "
            "(default: NAME-VERSION.build-env.json in the current directory); with "
            "--versions a directory, one NAME-VERSION.build-env.json per proven release"
        ),
    )
    parser.add_argument(
        "--time-limit",
        type=_seconds,
        default=DEFAULT_TIME_LIMIT,
        metavar="SECONDS",
        help=f"stop trying new recipes after this long (default: {DEFAULT_TIME_LIMIT:.0f})",
    )
    parser.add_argument(
        "--accept-equivalent",
        action="store_true",
        help="exit 0 also when files are only equivalent (same contents, other archive metadata)",
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


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < value <= 86400:
        raise argparse.ArgumentTypeError("the time limit must be between 0 and 86400 seconds")
    return value


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
    """Verify and print a table; exit 0 only when every rebuildable file is proven (or, with
    --accept-equivalent, equivalent)."""
    if args.versions is not None or args.tag_pattern is not None:
        if args.from_sdist and args.source:
            raise InvalidInput("--from-sdist rebuilds from the index's sdists; drop --source")
        if not args.source and not args.from_sdist:
            raise InvalidInput(
                "--versions rebuilds each release from its tag: give --source (or --from-sdist)"
            )
        return run_sweep(args)
    if args.from_sdist and args.source:
        raise InvalidInput("--from-sdist rebuilds from the index's sdist; drop --source")
    if not args.from_sdist and not args.source:
        raise InvalidInput(
            "give --source (a git work tree, bare repository or URL) or --from-sdist"
        )
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
            from_sdist=args.from_sdist,
            time_limit=args.time_limit,
        )
    saved = save_record(report, args.save_build_env)
    if args.json:
        print(json.dumps(_as_json(report, saved), indent=2))
    else:
        _print_table(report, saved)
    return 0 if report.ok else 1


def record_name(report: VerifyReport) -> str:
    """``NAME-VERSION.build-env.json``: where a release's proving recipe is written."""
    return f"{report.name}-{report.version}.build-env.json"


def save_record(report: VerifyReport, where: Path | None) -> Path | None:
    """Write the proving recipe's build-env.json (nothing when no recipe proved a file)."""
    if report.build_env is None:
        return None
    path = where if where is not None else Path(record_name(report))
    try:
        write_atomic(path, report.build_env.to_json())
    except OSError as exc:
        raise InvalidInput(f"cannot write {path}: {exc}") from exc
    return path


def _as_json(report: VerifyReport, saved: Path | None = None) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "name": report.name,
        "version": report.version,
        "ref": report.ref,
        "commit": report.commit,
        "verified": report.ok,
        "accept_equivalent": report.accept_equivalent,
        "from_sdist": report.from_sdist,
        "recipes_tried": list(report.recipes_tried),
        "interpreters_needed": [f"cpython@{p}" for p in report.missing_pythons],
        "build_env": str(saved) if saved else None,
        "uv_build": report.build_env_command or None,
        "files": [
            {
                "filename": f.filename,
                "index_sha256": f.index_sha256,
                "rebuilt_sha256": f.rebuilt_sha256,
                "verdict": f.verdict,
                "note": f.note,
                "recipe": f.recipe or None,
                "uv_build": f.command or None,
                "differs_in": list(f.aspects),
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


def _print_table(report: VerifyReport, saved: Path | None) -> None:
    from rich.console import Console  # noqa: PLC0415 - only for the human format
    from rich.table import Table  # noqa: PLC0415

    console = Console()
    if not console.is_terminal:  # a log or a pipe: never truncate a hash
        console = Console(width=250)
    if report.from_sdist:
        print(f"{report.name} {report.version}: wheels rebuilt from the index's sdist (no git)")
    else:
        print(f"{report.name} {report.version}: rebuilt {report.ref} ({report.commit})")
    table = Table("file", "index sha256", "rebuilt sha256", "verdict")
    for f in report.files:
        verdict = f"{f.verdict} ({f.note})" if f.note else f.verdict
        rebuilt = "(the same)" if f.rebuilt_sha256 == f.index_sha256 else f.rebuilt_sha256 or "-"
        table.add_row(f.filename, f.index_sha256 or "-", rebuilt, verdict)
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
    for number, recipe in enumerate(report.recipes_tried, 1):
        print(f"recipe {number}: {recipe}")
    if report.missing_pythons:
        needed = ", ".join(f"Python {p}" for p in report.missing_pythons)
        print(f"not tried: {needed} (not installed; `uv python install` it to try)")
    if saved is not None:
        print(f"the recipe that reproduced the files: {saved} (replay with --build-env {saved})")
        print(f"  by hand: {report.build_env_command}")
    print("verified" if report.ok else "NOT verified")
