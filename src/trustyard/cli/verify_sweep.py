"""``trustyard verify NAME --versions ...``: the many-release form of ``verify`` (its options,
its table and JSON); the one-release form is in :mod:`trustyard.cli.verify`."""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

from trustyard.cli.build import progress_reporter
from trustyard.errors import InvalidInput
from trustyard.release.publish import tls_context
from trustyard.release.sweep import (
    SweepReport,
    local_repository,
    parse_project_name,
    parse_selection,
    sweep_releases,
)
from trustyard.release.tags import DEFAULT_PATTERNS, parse_tag_pattern
from trustyard.release.verify import (
    ATTESTED,
    DIFFERS,
    FileVerdict,
    VerifyReport,
    parse_publisher,
    verify_release,
)

SWEEP_SCHEMA = "https://trustyard.dev/schemas/verify-sweep/v1"
"""The ``schema`` of the sweep's JSON; a new version when a field changes meaning or goes."""


def add_sweep_options(parser: argparse.ArgumentParser) -> None:
    """``--versions`` and ``--tag-pattern`` on ``verify``'s parser."""
    sweep = parser.add_argument_group(
        "many releases",
        "With --versions, NAME is a project and every chosen release on the index is verified "
        "from its own tag, one after another (a failing release does not stop the others). "
        "Exit 0 only when every chosen release is verified: a release whose tag is missing, "
        "whose build fails or whose files differ makes it 1; platform wheels (which a pure "
        "rebuild cannot make) are reported as not rebuilt and never count. --json prints one "
        "document for the whole sweep. --ref and --build-env name one release and are refused "
        "here. With --from-sdist no git is needed: each release's wheels are rebuilt from its "
        "own sdist on the index. --save-build-env DIR writes each proven release's recipe as "
        "DIR/NAME-VERSION.build-env.json.",
    )
    sweep.add_argument(
        "--versions",
        default=None,
        metavar="all|last:N|SPEC",
        help=(
            "which releases: all, the N highest (last:N), or those a PEP 440 specifier admits "
            "('>=0.4,<1'; pre-releases only when it names one)"
        ),
    )
    sweep.add_argument(
        "--tag-pattern",
        action="append",
        default=None,
        metavar="PATTERN",
        help=(
            "how a release's tag is spelled: a template with {version} (release-{version}) or a "
            "regular expression matching the whole tag with a (?P<version>...) group; the tag's "
            "version must equal the release's by PEP 440 (v1.0.0 is 1.0). Repeatable, first "
            "wins. Default: v{version}, then {version}"
        ),
    )


def run_sweep(args: argparse.Namespace) -> int:
    """Sweep, print a table (or JSON); exit 0 only when every chosen release was verified."""
    if args.versions is None:
        raise InvalidInput("--tag-pattern chooses tags for --versions; for one release use --ref")
    if args.from_sdist and args.tag_pattern:
        raise InvalidInput("--tag-pattern chooses tags; --from-sdist rebuilds without git")
    refused = [
        flag for flag, value in (("--ref", args.ref), ("--build-env", args.build_env)) if value
    ]
    if refused:
        raise InvalidInput(
            f"{' and '.join(refused)} name one release; with --versions every release is "
            "rebuilt from its own tag"
        )
    name = parse_project_name(args.release)
    selection = parse_selection(args.versions)
    patterns = (
        tuple(parse_tag_pattern(p) for p in args.tag_pattern)
        if args.tag_pattern
        else DEFAULT_PATTERNS
    )
    publisher = parse_publisher(args.publisher) if args.publisher else None
    trust = None
    if args.sigstore_trust_config is not None:
        from trustyard.attestations.trust import load_trust_config  # noqa: PLC0415 - slow import

        trust = load_trust_config(args.sigstore_trust_config)
    context = tls_context(args.cacert) if args.cacert is not None else None
    save_dir = _record_directory(args.save_build_env)
    with (
        tempfile.TemporaryDirectory(prefix="trustyard-verify-") as scratch,
        progress_reporter(quiet=args.json) as progress,
    ):
        repo = None if args.from_sdist else local_repository(args.source, Path(scratch))

        def verify_one(spec: str, ref: str | None, work: Path) -> VerifyReport:
            return verify_release(
                spec,
                args.index,
                str(repo) if repo is not None else None,
                work,
                ref=ref,
                accept_equivalent=args.accept_equivalent,
                progress=progress,
                publisher=publisher,
                trust=trust,
                context=context,
                time_limit=args.time_limit,
                from_sdist=args.from_sdist,
            )

        report = sweep_releases(
            name,
            args.index,
            repo,
            selection,
            verify_one=verify_one,
            work=Path(scratch) / "releases",
            patterns=patterns,
            context=context,
            progress=progress,
        )
    saved = _save_records(report, save_dir)
    if args.json:
        print(json.dumps(sweep_json(report, source=args.source, saved=saved), indent=2))
    else:
        _print_sweep(report, saved)
    return 0 if report.ok else 1


def _record_directory(where: Path | None) -> Path | None:
    """``--save-build-env`` of a sweep: a directory, made if missing (checked before any
    build, so a typo does not cost a sweep)."""
    if where is None:
        return None
    if where.exists() and not where.is_dir():
        raise InvalidInput(f"--save-build-env {where}: with --versions it names a directory")
    try:
        where.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidInput(f"cannot make {where}: {exc}") from exc
    return where


def _save_records(report: SweepReport, where: Path | None) -> dict[str, Path]:
    """Each proven release's build-env.json in ``where`` (by version; none without ``where``).
    A release with no proving recipe writes nothing."""
    from trustyard.cli.verify import record_name, save_record  # noqa: PLC0415 - imports this

    if where is None:
        return {}
    saved = {}
    for release in report.releases:
        if release.report is not None and release.report.build_env is not None:
            path = save_record(release.report, where / record_name(release.report))
            if path is not None:
                saved[release.version] = path
    return saved


def sweep_json(
    report: SweepReport, *, source: str | None, saved: dict[str, Path] | None = None
) -> dict[str, Any]:
    """The sweep as JSON: each release's outcome, and its one-release report when it ran
    (with where its build-env.json was written, if it was)."""
    written = saved or {}
    from trustyard.cli.verify import _as_json  # noqa: PLC0415 - that module imports this one

    return {
        "schema": SWEEP_SCHEMA,
        "name": report.name,
        "index": report.index_url,
        "source": source,
        "from_sdist": report.from_sdist,
        "versions": report.selection,
        "tag_patterns": list(report.patterns),
        "verified": report.ok,
        "releases": [
            {
                "version": r.version,
                "yanked": r.yanked,
                "tag": r.tag,
                "status": r.status,
                "detail": r.detail,
                "report": _as_json(r.report, written.get(r.version))
                if r.report is not None
                else None,
            }
            for r in report.releases
        ],
    }


def _print_sweep(report: SweepReport, saved: dict[str, Path]) -> None:
    from rich.console import Console  # noqa: PLC0415 - only for the human format
    from rich.table import Table  # noqa: PLC0415

    console = Console()
    if not console.is_terminal:  # a log or a pipe: never cut a note short
        console = Console(width=250)
    print(f"{report.name}: {len(report.releases)} release(s) of {report.index_url}")
    table = Table("version", "tag", "file", "verdict", "recipe / note")
    for release in report.releases:
        version = f"{release.version} (yanked)" if release.yanked else release.version
        if release.report is None:
            table.add_row(version, release.tag or "-", "-", release.status, release.detail)
            continue
        for number, f in enumerate(release.report.files):
            shown = version if number == 0 else ""
            tag = (release.tag or "-") if number == 0 else ""
            table.add_row(shown, tag, f.filename, f.verdict, _note(f))
        if release.version in saved:
            table.add_row("", "", "", "recipe written", str(saved[release.version]))
        if release.report.publisher is not None:  # an expected publisher decides too
            for a in release.report.attestations:
                if a.status != ATTESTED:
                    table.add_row("", "", a.filename, a.status, a.detail)
    console.print(table)
    verified = sum(r.ok for r in report.releases)
    summary = f"{verified} of {len(report.releases)} release(s) verified"
    print(f"{summary}: verified" if report.ok else f"{summary}: NOT verified")


_KINDS = {
    "content": "content",
    "metadata": "metadata",
    "only-left": "only on the index",
    "only-right": "only rebuilt",
    "order": "order",
}


def _note(verdict: FileVerdict) -> str:
    """The verdict's note, or for a difference the first members that differ (the whole diff
    is in ``--json``, and in the one-release ``verify``)."""
    # A difference always has a note now (its closest recipe); the members say more here.
    if verdict.diff is None or (verdict.note and verdict.verdict != DIFFERS):
        return verdict.note
    members = [f"{m.name.rsplit('/', 1)[-1]} ({_KINDS[m.kind]})" for m in verdict.diff.members]
    facts = list(verdict.diff.container)
    shown = (members + facts)[:3]
    more = len(members) + len(facts) - len(shown)
    return ", ".join(shown) + (f", {more} more" if more else "")
