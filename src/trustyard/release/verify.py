"""Rebuild a published release from its tagged source and compare it, hash by hash, with what
the index serves: the "rebuild at the tag with the tag's commit date" procedure as one function.
"""

from __future__ import annotations

import re
import ssl
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from packaging.version import InvalidVersion, Version

from trustyard.dists.filenames import SDIST_SUFFIX, parse_dist_filename
from trustyard.dists.mediatypes import APPLICATION_JSON, INTEGRITY_V1_JSON
from trustyard.errors import InvalidInput
from trustyard.oidc.publishers import KINDS, kind_of_attestation, spec_forms
from trustyard.release.build import BuildOptions, Progress, build_release, sha256_of
from trustyard.release.buildenv.pins import BuildEnvRecord, Pin
from trustyard.release.buildenv.scm import version_from_git
from trustyard.release.buildenv.system import read_build_system
from trustyard.release.clues import read_clues
from trustyard.release.compare import compare_archives
from trustyard.release.errors import BuildFailed, SourceError, VerifyError
from trustyard.release.grades import (
    DIFFERS,
    EQUIVALENT,
    MISSING,
    NOT_COMPARED,
    NOT_ON_INDEX,
    NOT_REBUILT,
    PROVEN,
    REPRODUCED,
    REPRODUCED_FROM_SDIST,
    SCHEMA_VERSION,
    UNJUDGED,
    FileVerdict,
    equivalence,
)
from trustyard.release.inference import DEFAULT_TIME_LIMIT, Inference, infer, pure_files
from trustyard.release.normalize import InvalidArchive, normalize_archive, read_members
from trustyard.release.rebuild import Rebuilder, running_minor
from trustyard.release.recipes import Recipe, candidate_recipes, recipe_from_json
from trustyard.release.simple_client import (
    ACCEPT_JSON_FIRST,
    IndexFile,
    download,
    release_files,
)
from trustyard.release.source import checkout_tree, resolve_commit, run_git

if TYPE_CHECKING:
    from pypi_attestations import Publisher
    from sigstore.models import ClientTrustConfig

__all__ = [
    "ATTESTED",
    "DIFFERS",
    "EQUIVALENT",
    "IDENTICAL",
    "MISSING",
    "NOT_COMPARED",
    "NOT_ON_INDEX",
    "NOT_REBUILDABLE",
    "NOT_REBUILT",
    "REPRODUCED",
    "REPRODUCED_FROM_SDIST",
    "SCHEMA_VERSION",
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

IDENTICAL = REPRODUCED
"""The name of ``reproduced`` before issue 16's grades (``release``'s verify stage uses it)."""
NOT_REBUILDABLE = NOT_REBUILT
# PEP 740 attestation statuses of an index file
ATTESTED = "attested by the expected publisher"
SIGNED = "signed (no expected publisher given)"
NO_PROVENANCE = "no provenance"
OTHER_PUBLISHER = "another publisher"
INVALID_PROVENANCE = "invalid provenance"
MAX_PROVENANCE_BYTES = 1 << 20  # two attestations take ~25 KB; more is not a provenance
_NAME_RE = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$", re.IGNORECASE)


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
    every index file's attestations too. ``recipes_tried`` lists the inferred recipes in the
    order they ran; ``build_env`` is the environment of the recipe that proved the most files
    (``None`` when none did), as a ``build-env.json`` that ``--build-env`` replays."""

    name: str
    version: str
    ref: str
    commit: str
    files: tuple[FileVerdict, ...]
    accept_equivalent: bool = False
    attestations: tuple[AttestationVerdict, ...] = ()
    publisher: str | None = None
    from_sdist: bool = False
    recipes_tried: tuple[str, ...] = ()
    missing_pythons: tuple[str, ...] = ()
    build_env: BuildEnvRecord | None = None
    build_env_command: str = ""

    @property
    def ok(self) -> bool:
        """Every rebuildable index file proven (or, with ``accept_equivalent``, equivalent),
        and at least one compared; and, when a publisher is expected, every index file is
        attested by it."""
        good = passing_verdicts(self.accept_equivalent)
        compared = [f for f in self.files if f.verdict not in UNJUDGED]
        rebuilt = bool(compared) and all(f.verdict in good for f in compared)
        if self.publisher is None:
            return rebuilt
        attested = bool(self.attestations) and all(a.status == ATTESTED for a in self.attestations)
        return rebuilt and attested


def passing_verdicts(accept_equivalent: bool = False) -> frozenset[str]:
    """The verdicts that pass a file: the two proofs, and ``equivalent`` only when the verifier
    accepts it (``--accept-equivalent``). The one place that decides it."""
    return PROVEN | {EQUIVALENT} if accept_equivalent else PROVEN


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
    source: str | None,
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
    from_sdist: bool = False,
    time_limit: float = DEFAULT_TIME_LIMIT,
) -> VerifyReport:
    """Grade the index's files of ``spec`` against rebuilds from ``source`` (a work tree, a
    bare repository or a git URL), and check each file's PEP 740 attestations (against
    ``publisher`` when given, under ``trust``).

    Without ``env_record`` the build recipe is inferred from the published files (issue 16);
    a record written by ``verify`` replays its recipe, one written by ``trustyard build``
    rebuilds as that build did. ``from_sdist`` needs no git: the wheels are rebuilt from the
    index's own sdist (``source`` is then ignored). ``time_limit`` bounds the search in
    seconds. ``context`` is the TLS context for an https index (``--cacert``)."""
    say = progress or (lambda _step: None)
    name, version = parse_pinned(spec)
    expected = publisher.identity() if publisher is not None else None
    raw_version = spec.partition("==")[2].strip()
    say(f"reading the files of {name} {version} from {index_url}")
    listed = release_files(index_url, name, version, accept=accept, context=context)
    work.mkdir(parents=True, exist_ok=True)
    downloads = work / "index"
    downloads.mkdir(exist_ok=True)
    paths: dict[str, Path] = {}
    index_shas: dict[str, str] = {}
    for file in listed:
        say(f"downloading {file.filename}")
        paths[file.filename] = download(file, downloads, context)
        index_shas[file.filename] = sha256_of(paths[file.filename])
    job = _Job(paths, listed, work, cache_dir, say, time_limit)
    if from_sdist:
        ref_name, commit = "", ""
        result = _from_sdist(job)
    else:
        if source is None:
            raise SourceError("--source is needed unless --from-sdist is given")
        repo = _checkout(source, work)
        ref_name, commit = find_ref(repo, version, raw_version, ref)
        recipe = _recipe_of(env_record)
        if env_record is not None and recipe is None:
            result = _as_trustyard_built(job, repo, commit, env_record)
        else:
            replay = (recipe, env_record.pins) if recipe and env_record else None
            result = _inferred(job, repo, ref_name, commit, replay=replay)
    verdicts = [
        _unmatched(n, index_shas[n]) for n in paths if n not in {f.filename for f in result.files}
    ]
    # a platform wheel this machine's tags match that no recipe made (tomli's mypyc wheels
    # beside its pure one) is not rebuilt, as every other platform wheel: never a failure
    result = replace(result, files=tuple(_platform_unbuilt(f) for f in result.files))
    say("checking attestations (PEP 740 provenance)")
    attestations = check_attestations(listed, index_shas, expected, trust, context)
    order = {f.filename: i for i, f in enumerate(listed)}
    files = sorted([*result.files, *verdicts], key=lambda f: order.get(f.filename, len(order)))
    return VerifyReport(
        name=name,
        version=str(version),
        ref=ref_name,
        commit=commit,
        files=tuple(files),
        accept_equivalent=accept_equivalent,
        attestations=tuple(attestations),
        publisher=publisher.text if publisher is not None else None,
        from_sdist=from_sdist,
        recipes_tried=result.tried,
        missing_pythons=result.missing_pythons,
        build_env=result.build_env,
        build_env_command=result.command,
    )


@dataclass(frozen=True)
class _Job:
    """What every way of rebuilding needs: the downloaded files and where to work."""

    paths: dict[str, Path]
    listed: list[IndexFile]
    work: Path
    cache_dir: Path | None
    say: Progress
    time_limit: float


@dataclass(frozen=True)
class _Graded:
    """What one way of rebuilding found (before platform wheels and attestations)."""

    files: tuple[FileVerdict, ...]
    tried: tuple[str, ...] = ()
    missing_pythons: tuple[str, ...] = ()
    build_env: BuildEnvRecord | None = None
    command: str = ""


def _recipe_of(record: BuildEnvRecord | None) -> tuple[Recipe, str] | None:
    return recipe_from_json(record.source.get("recipe")) if record is not None else None


def _upload_time(listed: list[IndexFile]) -> datetime | None:
    """When the release was uploaded (PEP 700): its sdist's time, else its first file's."""
    sdists = [f.upload_time for f in listed if f.filename.endswith(SDIST_SUFFIX) and f.upload_time]
    times = sdists or [f.upload_time for f in listed if f.upload_time]
    return min(times) if times else None


def _inferred(
    job: _Job,
    repo: Path,
    ref_name: str,
    commit: str,
    *,
    replay: tuple[tuple[Recipe, str], tuple[Pin, ...]] | None,
) -> _Graded:
    paths, listed, work, cache_dir, say = job.paths, job.listed, job.work, job.cache_dir, job.say
    say(f"exporting {ref_name} ({commit[:12]})")
    tree = checkout_tree(repo, commit, work / "tree")
    system = read_build_system(tree.path)
    git_version = version_from_git(tree.path, system.requires, tree.tag, commit)
    version_env = git_version.environment() if git_version else {}
    published = pure_files(paths)
    clues = read_clues(list(published.values()), _upload_time(listed))
    if replay is not None:
        (recipe, _how), pins = replay
        recipes, replay_pins = [recipe], pins
    else:
        recipes = candidate_recipes(
            clues, tree.source_date_epoch, running_python=running_minor(), version_env=version_env
        )
        replay_pins = None
    rebuilder = Rebuilder(work / "rebuilds", cache_dir, say)
    found = infer(
        published,
        recipes,
        rebuilder,
        tree=tree.path,
        ref=ref_name,
        commit_time=tree.source_date_epoch,
        time_limit=job.time_limit,
        pins=replay_pins,
    )
    _raise_if_nothing_built(found)
    record, command = _best_record(
        found, commit, ref_name, git_version.record() if git_version else None
    )
    return _Graded(
        tuple(found.verdicts), tuple(found.tried), tuple(found.missing_pythons), record, command
    )


def _raise_if_nothing_built(found: Inference) -> None:
    """A tag that no recipe could build at all is a failed build, not a verdict on files (as
    before recipe inference: a sweep reports such a release as failed)."""
    built = any(o.sdist is not None or o.wheels() for o in found.runs)
    problems = [p for o in found.runs for p in o.problems]
    if found.runs and not built and problems:
        raise BuildFailed(problems[0])


def _from_sdist(job: _Job) -> _Graded:
    """Rebuild the wheels from the index's own sdist; the sdist is not compared with git."""
    paths, listed, work, cache_dir, say = job.paths, job.listed, job.work, job.cache_dir, job.say
    published = pure_files(paths)
    sdist = next((n for n in published if n.endswith(SDIST_SUFFIX)), None)
    if sdist is None:
        raise VerifyError("--from-sdist needs the release to have an sdist on the index")
    clues = read_clues(list(published.values()), _upload_time(listed))
    members, _ = read_members(published[sdist])
    epochs = {int(m.mtime) for m in members if m.kind == "file"}
    epoch = max(epochs) if epochs else 0  # the newest member: the commit time at the latest
    recipes = candidate_recipes(clues, epoch, running_python=running_minor())
    wheels = {n: p for n, p in published.items() if n != sdist}
    rebuilder = Rebuilder(work / "rebuilds", cache_dir, say)
    found = infer(
        {sdist: published[sdist], **wheels},
        recipes,
        rebuilder,
        tree=None,
        ref="",
        commit_time=None,
        time_limit=job.time_limit,
    )
    _raise_if_nothing_built(found)
    files = [
        f
        if f.filename != sdist
        else FileVerdict(f.filename, f.index_sha256, "", NOT_COMPARED, "--from-sdist: no git")
        for f in found.verdicts
    ]
    record, command = _best_record(found, "", "", None)
    return _Graded(tuple(files), tuple(found.tried), tuple(found.missing_pythons), record, command)


def _best_record(
    found: Inference, commit: str, ref: str, git_version: dict[str, str] | None
) -> tuple[BuildEnvRecord | None, str]:
    """The record of the recipe that proved the most files, with that recipe inside
    (``source.recipe``) so that ``--build-env`` replays it; and its ``uv build`` line."""
    if not found.proofs:
        return None, ""
    counts = Counter((p.recipe, p.wheel_from) for p in found.proofs.values())
    (recipe, wheel_from), _ = counts.most_common(1)[0]
    proof = next(
        p for p in found.proofs.values() if (p.recipe, p.wheel_from) == (recipe, wheel_from)
    )
    if proof.record is None:
        return None, ""
    proven = [  # the files this recipe proved (an sdist's proof names no wheel origin)
        v
        for v in found.verdicts
        if v.filename in found.proofs and found.proofs[v.filename].recipe == recipe
    ]
    source: dict[str, Any] = {
        "commit": commit,
        "ref": ref,
        "source_date_epoch": recipe.source_date_epoch,
        "recipe": recipe.to_json(wheel_from),
    }
    if git_version:
        source["version_from_git"] = git_version
    record = replace(
        proof.record,
        source=source,
        artifacts=tuple({"filename": v.filename, "sha256": v.index_sha256} for v in proven),
    )
    sdist_name = next(
        (v.filename for v in found.verdicts if v.filename.endswith(SDIST_SUFFIX)), None
    )
    return record, recipe.uv_command(ref, wheel_from, sdist_name)


def _as_trustyard_built(job: _Job, repo: Path, commit: str, record: BuildEnvRecord) -> _Graded:
    """Rebuild as ``trustyard build`` did (its ``build-env.json``: pins, normalised outputs)."""
    paths, work, cache_dir, say = job.paths, job.work, job.cache_dir, job.say
    say(f"rebuilding {commit[:12]} with the recorded environment")
    rebuilt = build_release(
        BuildOptions(repo, ref=commit, allow_dirty=True, env_record=record, cache_dir=cache_dir),
        work / "rebuilt",
        work / "build",
        progress=say,
    )
    epoch = rebuilt.source.source_date_epoch
    ours = {p.name: p for p in rebuilt.artifacts}
    verdicts: list[FileVerdict] = []
    for name, theirs in paths.items():
        mine = ours.pop(name, None)
        if mine is None:
            continue
        raw = rebuilt.raw.get(name)
        verdicts.append(
            _judge(theirs, sha256_of(theirs), mine, raw, epoch=epoch, scratch=work / "normalised")
        )
    verdicts += [
        FileVerdict(n, "", sha256_of(p), NOT_ON_INDEX, "the rebuild made it; the index lacks it")
        for n, p in sorted(ours.items())
    ]
    return _Graded(tuple(verdicts), ("the recorded environment of `trustyard build`",))


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


def _platform_unbuilt(verdict: FileVerdict) -> FileVerdict:
    if verdict.verdict != MISSING:
        return verdict
    unmatched = _unmatched(verdict.filename, verdict.index_sha256)
    return unmatched if unmatched.verdict == NOT_REBUILDABLE else verdict


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
        same = equivalence(theirs, mine)
        aspects = same.aspects if same is not None else ("duplicate members",)
        return FileVerdict(
            name,
            index_sha,
            mine_sha,
            EQUIVALENT,
            "same members and contents; differs in " + ", ".join(aspects),
            compare_archives(theirs, mine),
            aspects=aspects,
        )
    return FileVerdict(
        name, index_sha, mine_sha, DIFFERS, "", compare_archives(theirs_norm, mine_norm)
    )


def __dir__() -> list[str]:
    return __all__
