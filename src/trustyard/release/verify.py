"""Rebuild a published release from its tagged source and compare it, hash by hash, with what
the index serves: the "rebuild at the tag with the tag's commit date" procedure as one function.
"""

from __future__ import annotations

import re
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from packaging.version import InvalidVersion, Version

from trustyard.dists.filenames import parse_dist_filename
from trustyard.dists.mediatypes import APPLICATION_JSON, INTEGRITY_V1_JSON
from trustyard.errors import InvalidInput
from trustyard.oidc.publishers import KINDS, kind_of_attestation, spec_forms
from trustyard.release.build import BuildOptions, Progress, build_release, sha256_of
from trustyard.release.buildenv.pins import BuildEnvRecord
from trustyard.release.compare import ArchiveDiff, compare_archives
from trustyard.release.errors import SourceError, VerifyError
from trustyard.release.normalize import InvalidArchive, normalize_archive
from trustyard.release.simple_client import (
    ACCEPT_JSON_FIRST,
    IndexFile,
    download,
    release_files,
)
from trustyard.release.source import resolve_commit, run_git

if TYPE_CHECKING:
    from pypi_attestations import Publisher
    from sigstore.models import ClientTrustConfig

__all__ = [
    "ATTESTED",
    "IDENTICAL",
    "AttestationVerdict",
    "FileVerdict",
    "PublisherSpec",
    "VerifyReport",
    "check_attestations",
    "parse_pinned",
    "parse_publisher",
    "passing_verdicts",
    "verify_release",
]

IDENTICAL = "identical"
EQUIVALENT = "equivalent after normalisation"
DIFFERS = "differs"
NOT_REBUILDABLE = "not rebuilt (platform wheel)"  # issue 16: reported, never a failure
MISSING = "missing from rebuild"
NOT_ON_INDEX = "not on the index"
# PEP 740 attestation statuses of an index file
ATTESTED = "attested by the expected publisher"
SIGNED = "signed (no expected publisher given)"
NO_PROVENANCE = "no provenance"
OTHER_PUBLISHER = "another publisher"
INVALID_PROVENANCE = "invalid provenance"
MAX_PROVENANCE_BYTES = 1 << 20  # two attestations take ~25 KB; more is not a provenance
_NAME_RE = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$", re.IGNORECASE)


def passing_verdicts(accept_equivalent: bool) -> frozenset[str]:
    """The verdicts that prove a file: the reproduced grades, and the equivalent one only when
    the verifier accepts archive-metadata differences (``--accept-equivalent``)."""
    return frozenset({IDENTICAL, EQUIVALENT}) if accept_equivalent else frozenset({IDENTICAL})


@dataclass(frozen=True)
class FileVerdict:
    """The outcome for one file; ``diff`` is set when its bytes differ from the rebuild."""

    filename: str
    index_sha256: str
    rebuilt_sha256: str
    verdict: str
    note: str = ""
    diff: ArchiveDiff | None = None


@dataclass(frozen=True)
class AttestationVerdict:
    """One index file's PEP 740 provenance: ``status`` (one of the constants above), why, the
    publishers its attestation bundles name, and the predicate types that verified."""

    filename: str
    status: str
    detail: str
    publishers: tuple[str, ...] = ()
    predicate_types: tuple[str, ...] = ()


@dataclass(frozen=True)
class VerifyReport:
    """Every file's verdict, and what was rebuilt from where; with an expected ``publisher``,
    every index file's attestations too."""

    name: str
    version: str
    ref: str
    commit: str
    files: tuple[FileVerdict, ...]
    accept_equivalent: bool = False
    attestations: tuple[AttestationVerdict, ...] = ()
    publisher: str | None = None

    @property
    def ok(self) -> bool:
        """Every rebuildable index file matched, and at least one was compared; and, when a
        publisher is expected, every index file is attested by it."""
        good = passing_verdicts(self.accept_equivalent)
        compared = [f for f in self.files if f.verdict not in {NOT_REBUILDABLE, NOT_ON_INDEX}]
        rebuilt = bool(compared) and all(f.verdict in good for f in compared)
        if self.publisher is None:
            return rebuilt
        attested = bool(self.attestations) and all(a.status == ATTESTED for a in self.attestations)
        return rebuilt and attested


@dataclass(frozen=True)
class PublisherSpec:
    """An expected Trusted Publisher, as ``trustyard publisher add`` stores one."""

    kind: str
    config: dict[str, str]
    text: str

    def identity(self) -> Publisher:
        """The pypi-attestations publisher its attestations must verify against."""
        from trustyard.attestations.identity import attestation_identity  # noqa: PLC0415

        kind = KINDS[self.kind]
        return attestation_identity(kind.display_name, kind.attestation_publisher(self.config))


def parse_publisher(spec: str) -> PublisherSpec:
    """``KIND:SPEC`` in the form the kind declares: ``github:octo/proj/release.yml@pypi``,
    ``gitlab:grp/sub/proj//ci/release.yml``, ``google:builder@p.iam.gserviceaccount.com``."""
    name, sep, rest = spec.partition(":")
    kind = KINDS.get(name.strip().lower())
    if not sep or not rest or any(c.isspace() for c in rest) or kind is None:
        raise InvalidInput(f"--publisher {spec!r} is not one of {spec_forms()}")
    config = kind.parse_spec(rest)
    if config is None:
        raise InvalidInput(f"--publisher {spec!r} is not one of {spec_forms()}")
    return PublisherSpec(kind.name, config, spec)


def describe_publisher(publisher: Publisher) -> str:
    """``github:octo/proj/release.yml``-style text for a pypi-attestations publisher."""
    fields = publisher.model_dump(mode="json")
    kind = kind_of_attestation(fields)
    if kind is None:
        return str(fields.get("kind", "?")).lower()
    return kind.spec(kind.config_of_attestation(fields))


def parse_pinned(spec: str) -> tuple[str, Version]:
    """``NAME==VERSION`` (PEP 508 name, PEP 440 version), nothing else."""
    name, sep, version = spec.partition("==")
    name, version = name.strip(), version.strip()
    if not sep or not name or not version:
        raise InvalidInput(f"expected NAME==VERSION, got {spec!r}")
    if not _NAME_RE.match(name):
        raise InvalidInput(f"{name!r} is not a valid project name (PEP 508)")
    try:
        return name, Version(version)
    except InvalidVersion as exc:
        raise InvalidInput(f"{version!r} is not a valid version (PEP 440)") from exc


def _is_remote(source: str) -> bool:
    return "://" in source or source.startswith("git@")


def _checkout(source: str, work: Path) -> Path:
    if not _is_remote(source):
        path = Path(source)
        if not path.is_dir():
            raise SourceError(f"source {source!r} is neither a directory nor a git URL")
        return path
    clone = work / "clone"
    run_git(work, "clone", "--quiet", "--no-checkout", "--", source, str(clone))
    return clone


def find_ref(repo: Path, version: Version, raw_version: str, ref: str | None) -> tuple[str, str]:
    """``ref`` if given, else the tag ``vVERSION`` or ``VERSION``; returns (ref, commit)."""
    if ref is not None:
        return ref, resolve_commit(repo, ref)
    candidates = dict.fromkeys(
        [f"v{raw_version}", raw_version, f"v{version}", str(version)]
    )  # ordered, unique
    for tag in candidates:
        try:
            return tag, resolve_commit(repo, f"refs/tags/{tag}")
        except SourceError:
            continue
    tried = " or ".join(f"refs/tags/{t}" for t in candidates)
    raise SourceError(f"no tag {tried} in {repo}; pass --ref to name the commit")


def verify_release(
    spec: str,
    index_url: str,
    source: str,
    work: Path,
    *,
    ref: str | None = None,
    env_record: BuildEnvRecord | None = None,
    cache_dir: Path | None = None,
    accept_equivalent: bool = False,
    accept: str = ACCEPT_JSON_FIRST,
    progress: Progress | None = None,
    publisher: PublisherSpec | None = None,
    trust: ClientTrustConfig | None = None,
    context: ssl.SSLContext | None = None,
) -> VerifyReport:
    """Compare the index's files of ``spec`` with a rebuild from ``source``, and check each
    file's PEP 740 attestations (against ``publisher`` when given, under ``trust``).

    ``context`` is the TLS context for an https index (``--cacert``; default: the system's)."""
    say = progress or (lambda _step: None)
    name, version = parse_pinned(spec)
    expected = publisher.identity() if publisher is not None else None
    raw_version = spec.partition("==")[2].strip()
    say(f"reading the files of {name} {version} from {index_url}")
    listed = release_files(index_url, name, version, accept=accept, context=context)
    work.mkdir(parents=True, exist_ok=True)
    repo = _checkout(source, work)
    ref_name, commit = find_ref(repo, version, raw_version, ref)
    say(f"rebuilding {ref_name} ({commit[:12]})")
    rebuilt = build_release(
        BuildOptions(
            repo, ref=commit, allow_dirty=True, env_record=env_record, cache_dir=cache_dir
        ),
        work / "rebuilt",
        work / "build",
        progress=say,
    )
    epoch = rebuilt.source.source_date_epoch
    ours = {p.name: p for p in rebuilt.artifacts}
    downloads = work / "index"
    downloads.mkdir(exist_ok=True)
    verdicts: list[FileVerdict] = []
    index_shas: dict[str, str] = {}
    for file in listed:
        say(f"downloading {file.filename}")
        theirs = download(file, downloads, context)
        index_sha = index_shas[file.filename] = sha256_of(theirs)
        mine = ours.pop(file.filename, None)
        if mine is None:
            verdicts.append(_unmatched(file.filename, index_sha))
            continue
        raw = rebuilt.raw.get(file.filename)
        verdicts.append(
            _judge(theirs, index_sha, mine, raw, epoch=epoch, scratch=work / "normalised")
        )
    verdicts += [
        FileVerdict(n, "", sha256_of(p), NOT_ON_INDEX, "the rebuild made it; the index lacks it")
        for n, p in sorted(ours.items())
    ]
    say("checking attestations (PEP 740 provenance)")
    attestations = check_attestations(listed, index_shas, expected, trust, context)
    return VerifyReport(
        name=name,
        version=str(version),
        ref=ref_name,
        commit=commit,
        files=tuple(verdicts),
        accept_equivalent=accept_equivalent,
        attestations=tuple(attestations),
        publisher=publisher.text if publisher is not None else None,
    )


def check_attestations(
    files: list[IndexFile],
    sha256s: dict[str, str],
    expected: Publisher | None,
    trust: ClientTrustConfig | None,
    context: ssl.SSLContext | None = None,
) -> list[AttestationVerdict]:
    """Each file's provenance from the Integrity API, every attestation verified (PEP 740):
    against ``expected`` when given, else against the publisher the provenance names."""
    return [_file_attestations(f, sha256s[f.filename], expected, trust, context) for f in files]


def _file_attestations(
    file: IndexFile,
    sha256: str,
    expected: Publisher | None,
    trust: ClientTrustConfig | None,
    context: ssl.SSLContext | None,
) -> AttestationVerdict:
    from pydantic import ValidationError  # noqa: PLC0415 - slow imports
    from pypi_attestations import Provenance  # noqa: PLC0415

    from trustyard.attestations.trust import AttestationError, verify_attestation  # noqa: PLC0415

    name = file.filename
    if file.provenance is None:
        return AttestationVerdict(name, NO_PROVENANCE, "the index lists no provenance for it")
    try:
        body = _fetch_provenance(file.provenance, context)
    except VerifyError as exc:
        return AttestationVerdict(name, INVALID_PROVENANCE, exc.diagnostics())
    if body is None:
        return AttestationVerdict(name, NO_PROVENANCE, f"{file.provenance} answered 404")
    try:
        provenance = Provenance.model_validate_json(body)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(part) for part in first["loc"])
        detail = f"not a PEP 740 provenance object ({where}: {first['msg']})"
        return AttestationVerdict(name, INVALID_PROVENANCE, detail)
    named = tuple(describe_publisher(b.publisher) for b in provenance.attestation_bundles)
    verified: list[str] = []
    for bundle in provenance.attestation_bundles:
        against = expected if expected is not None else bundle.publisher
        for attestation in bundle.attestations:
            try:
                verified.append(
                    verify_attestation(
                        attestation, filename=name, sha256=sha256, publisher=against, trust=trust
                    )
                )
            except AttestationError as exc:
                shown = describe_publisher(bundle.publisher)
                if expected is not None and not _same_publisher(bundle.publisher, expected):
                    detail = f"its provenance names {shown}, not {describe_publisher(expected)}"
                    return AttestationVerdict(name, OTHER_PUBLISHER, detail, named)
                return AttestationVerdict(name, INVALID_PROVENANCE, exc.message, named)
    if not verified:
        return AttestationVerdict(name, NO_PROVENANCE, "its provenance holds no attestation", named)
    types = tuple(verified)
    if expected is None:
        return AttestationVerdict(
            name,
            SIGNED,
            f"verified for {', '.join(named)}; pass --publisher to require it",
            named,
            types,
        )
    return AttestationVerdict(
        name,
        ATTESTED,
        f"{len(types)} attestation(s) verified for {describe_publisher(expected)}",
        named,
        types,
    )


def _same_publisher(named: Any, expected: Any) -> bool:
    """Whether the provenance's publisher is the expected one (names compared as PyPI does:
    owner/repository without regard to case)."""
    return describe_publisher(named).split("@")[0].lower() == (
        describe_publisher(expected).split("@")[0].lower()
    )


def _fetch_provenance(url: str, context: ssl.SSLContext | None = None) -> bytes | None:
    """GET a PEP 740 provenance object (None on 404)."""
    if urlsplit(url).scheme not in {"http", "https"}:
        raise VerifyError(f"{url}: only http and https provenance URLs are supported")
    request = urllib.request.Request(url, headers={"Accept": INTEGRITY_V1_JSON})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=60, context=context) as response:  # noqa: S310
            body: bytes = response.read(MAX_PROVENANCE_BYTES + 1)
            media = response.headers.get_content_type()
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise VerifyError(f"{url}: the index answered {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise VerifyError(f"{url}: cannot fetch the provenance: {exc}") from exc
    if len(body) > MAX_PROVENANCE_BYTES:
        raise VerifyError(f"{url}: the provenance is larger than {MAX_PROVENANCE_BYTES} bytes")
    if media not in {INTEGRITY_V1_JSON, APPLICATION_JSON}:
        raise VerifyError(f"{url}: unexpected content type {media!r} for a provenance")
    return body


def _unmatched(filename: str, index_sha: str) -> FileVerdict:
    parsed = parse_dist_filename(filename)
    platform_specific = any(t.abi != "none" or t.platform != "any" for t in parsed.tags)
    if parsed.filetype == "bdist_wheel" and platform_specific:
        tags = ".".join(sorted(str(t) for t in parsed.tags))
        return FileVerdict(
            filename,
            index_sha,
            "",
            NOT_REBUILDABLE,
            f"a wheel for {tags}: a rebuild here makes no such file; not counted",
        )
    return FileVerdict(filename, index_sha, "", MISSING, "the rebuild produced no such file")


def _judge(
    theirs: Path, index_sha: str, mine: Path, raw: Path | None, *, epoch: int, scratch: Path
) -> FileVerdict:
    mine_sha = sha256_of(mine)
    name = theirs.name
    if index_sha == mine_sha:
        return FileVerdict(name, index_sha, mine_sha, IDENTICAL)
    if raw is not None and sha256_of(raw) == index_sha:
        return FileVerdict(
            name, index_sha, index_sha, IDENTICAL, "identical to the backend's unnormalised output"
        )
    scratch.mkdir(parents=True, exist_ok=True)
    try:
        theirs_norm = normalize_archive(theirs, scratch / f"index-{name}", epoch)
        mine_norm = normalize_archive(mine, scratch / f"rebuilt-{name}", epoch)
    except InvalidArchive as exc:
        return FileVerdict(
            name, index_sha, mine_sha, DIFFERS, exc.diagnostics(), compare_archives(theirs, mine)
        )
    if sha256_of(theirs_norm) == sha256_of(mine_norm):
        return FileVerdict(
            name,
            index_sha,
            mine_sha,
            EQUIVALENT,
            "same members and contents; archive metadata differs",
            compare_archives(theirs, mine),
        )
    return FileVerdict(
        name, index_sha, mine_sha, DIFFERS, "", compare_archives(theirs_norm, mine_norm)
    )


def __dir__() -> list[str]:
    return __all__
