"""The ``attest`` stage over a release directory: ``SHA256SUMS``, SLSA v1 provenance for every
distribution, and, with an ambient CI identity, Sigstore signatures and PEP 740 attestations.

Files written in ``DIR`` (each through a temporary file and a rename, and only after everything
was computed and signed, so a failure leaves the directory as it was):

- ``SHA256SUMS``: ``<sha256>  <filename>`` per distribution (``.whl``, ``.tar.gz``), sorted by
  filename, as ``sha256sum`` writes it (``sha256sum -c SHA256SUMS`` checks it);
- ``multiple.intoto.jsonl`` (slsa-github-generator's name for a multi-subject provenance), one
  line: signed, the Sigstore bundle (v0.3 JSON, DSSE envelope whose payload is the statement) as
  slsa-github-generator v2.1 writes; unsigned, the bare in-toto statement;
- ``<dist>.publish.attestation`` per distribution when signed: ``Attestation.model_dump_json()``,
  the name ``uv publish`` and ``twine upload --attestations`` pick up.

A *labelled* attestation covers only some distributions of ``DIR`` (``add-wheels`` attests the
wheels of a new Python version of a published release so): with label ``cp314`` it reads
``cp314.build-env.json`` (the build of just those files) and writes ``cp314.SHA256SUMS`` and
``cp314.intoto.jsonl``, leaving the release's own files as they are.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from trustyard import __version__
from trustyard.atomicfiles import atomic_writer
from trustyard.attestations.statements import (
    BuildEnvironment,
    Builder,
    Dependency,
    SourceRevision,
    Subject,
    build_provenance,
    detect_builder,
    serialize_statement,
)
from trustyard.dists.filenames import PUBLISHABLE_SUFFIXES, InvalidFilename, parse_dist_filename
from trustyard.dists.names import normalize_name
from trustyard.dists.sha256sums import (
    InvalidSums,
    parse_sha256sums,
    render_sha256sums,
    sums_differences,
)
from trustyard.errors import Conflict, InvalidInput
from trustyard.release.build import ENV_RECORD_NAME, sha256_of
from trustyard.release.buildenv.pins import BuildEnvRecord
from trustyard.release.errors import SourceError
from trustyard.release.source import is_bare, resolve_commit, run_git

if TYPE_CHECKING:
    from trustyard.attestations.sign import SignedRelease

__all__ = [
    "ATTESTATION_SUFFIX",
    "PROVENANCE_NAME",
    "SUMS_NAME",
    "AttestError",
    "AttestOptions",
    "AttestResult",
    "attest_release",
    "find_distributions",
]

SUMS_NAME = "SHA256SUMS"
PROVENANCE_NAME = "multiple.intoto.jsonl"
ATTESTATION_SUFFIX = ".publish.attestation"
_LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_GIT_SCP = re.compile(r"^(?:[^@/]+@)?(?P<host>[^:/]+):(?P<path>[^/].*)$")

Progress = Callable[[str], None]


class AttestError(InvalidInput):
    """The release directory cannot be attested as it is."""


@dataclass(frozen=True)
class AttestOptions:
    """What to attest and how.

    ``source`` is the git checkout that was built (default: the current directory when it is
    one; in CI the workflow's repository is used); ``trust_config`` a ClientTrustConfig file
    for a private Sigstore instance; ``sign=False`` never signs; ``environ`` replaces
    ``os.environ`` (CI detection and the ambient token). ``distributions`` attests only these
    files of ``release_dir`` under ``label`` (see the module docstring).
    """

    release_dir: Path
    source: Path | None = None
    trust_config: Path | None = None
    overwrite: bool = False
    sign: bool = True
    environ: Mapping[str, str] | None = None
    distributions: tuple[Path, ...] | None = None
    label: str | None = None

    def file_names(self) -> tuple[str, str, str]:
        """(checksums, provenance, build record) file names in the release directory."""
        if self.label is None:
            return SUMS_NAME, PROVENANCE_NAME, ENV_RECORD_NAME
        if not _LABEL.fullmatch(self.label):
            raise AttestError(f"{self.label!r} is not a label (letters, digits, '.', '_', '-')")
        return (
            f"{self.label}.{SUMS_NAME}",
            f"{self.label}.intoto.jsonl",
            f"{self.label}.{ENV_RECORD_NAME}",
        )


@dataclass(frozen=True)
class AttestResult:
    """What was written, by which builder, and whether (and as whom) it was signed."""

    subjects: tuple[Subject, ...]
    sums_path: Path
    provenance_path: Path
    attestation_paths: tuple[Path, ...]
    builder: Builder
    source: SourceRevision
    signed: bool
    unsigned_reason: str = ""
    identity: str = ""
    issuer: str = ""
    notes: tuple[str, ...] = field(default=())


def find_distributions(release_dir: Path) -> list[Path]:
    """The ``.whl`` and ``.tar.gz`` files of ``release_dir``; every bad filename reported."""
    if not release_dir.is_dir():
        raise AttestError(f"{release_dir} is not a directory")
    found = sorted(
        p for p in release_dir.iterdir() if p.name.endswith(PUBLISHABLE_SUFFIXES) and p.is_file()
    )
    if not found:
        raise AttestError(
            f"{release_dir} holds no distributions (.whl, .tar.gz): run trustyard build first"
        )
    problems: list[str] = []
    releases: set[tuple[str, str]] = set()
    for path in found:
        try:
            parsed = parse_dist_filename(path.name)
        except InvalidFilename as exc:
            problems.append(exc.diagnostics())
            continue
        releases.add((normalize_name(parsed.name), str(parsed.version)))
    if len(releases) > 1:
        shown = ", ".join(f"{n} {v}" for n, v in sorted(releases))
        problems.append(f"the distributions belong to more than one release ({shown})")
    if problems:
        raise AttestError(f"cannot attest {release_dir}: " + "; ".join(problems))
    return found


def attest_release(options: AttestOptions, progress: Progress | None = None) -> AttestResult:
    """Attest ``options.release_dir``; see the module docstring for what is written."""
    say = progress or (lambda _step: None)
    environ = os.environ if options.environ is None else options.environ
    directory = options.release_dir
    sums_name, provenance_name, record_name = options.file_names()
    dists = _chosen(directory, options.distributions, options.label)
    say(f"hashing {len(dists)} distributions")
    subjects = [Subject(p.name, sha256_of(p)) for p in dists]
    sums = render_sha256sums({s.name: s.sha256 for s in subjects})
    _check_existing_sums(directory / sums_name, subjects)
    record, record_bytes = _read_record(directory / record_name, subjects)
    builder = detect_builder(environ)
    source = _source_revision(record, builder, options.source)
    statement = build_provenance(
        subjects,
        source,
        _environment(record, record_bytes),
        builder,
        builder_version={"trustyard": __version__},
    )
    statement_bytes = serialize_statement(statement)

    provenance_path = directory / provenance_name
    attestation_paths = [directory / f"{p.name}{ATTESTATION_SUFFIX}" for p in dists]
    signed = None
    reason = "signing was turned off (--unsigned)"
    if options.sign:
        signed, reason = _sign(options, environ, statement_bytes, dists, say)
    provenance = (signed.provenance_bundle if signed else statement_bytes.decode()) + "\n"
    _check_overwrite(options, provenance_path, provenance, attestation_paths, signed is not None)

    writes = {directory / sums_name: sums, provenance_path: provenance}
    if signed is not None:
        writes |= {
            directory / f"{name}{ATTESTATION_SUFFIX}": text + "\n"
            for name, text in signed.attestations.items()
        }
    _write_all(writes)
    say("done")
    return AttestResult(
        subjects=tuple(subjects),
        sums_path=directory / sums_name,
        provenance_path=provenance_path,
        attestation_paths=tuple(attestation_paths) if signed else (),
        builder=builder,
        source=source,
        signed=signed is not None,
        unsigned_reason="" if signed else reason,
        identity=signed.identity if signed else "",
        issuer=signed.issuer if signed else "",
    )


def _chosen(directory: Path, chosen: tuple[Path, ...] | None, label: str | None) -> list[Path]:
    """All distributions of ``directory``, or the ``chosen`` ones (which need a label)."""
    found = find_distributions(directory)
    if chosen is None:
        return found
    if label is None:
        raise AttestError("attesting some of the distributions needs a label for the files")
    names = {p.name: p for p in found}
    problems = [
        f"{path} is not a distribution in {directory}"
        for path in chosen
        if path.name not in names or path.resolve() != names[path.name].resolve()
    ]
    if not chosen:
        problems.append("no distributions were chosen")
    if problems:
        raise AttestError(f"cannot attest {label}: " + "; ".join(problems))
    return sorted(names[p.name] for p in set(chosen))


def _check_existing_sums(path: Path, subjects: list[Subject]) -> None:
    """An existing ``SHA256SUMS`` must agree with the files: else something changed them."""
    if not path.exists():
        return
    try:
        listed = parse_sha256sums(path.read_text(encoding="utf-8"), str(path))
    except (OSError, UnicodeDecodeError) as exc:
        raise AttestError(f"cannot read {path}: {exc}") from exc
    except InvalidSums as exc:
        raise AttestError(exc.message) from exc
    problems = sums_differences(listed, {s.name: s.sha256 for s in subjects})
    if problems:
        raise AttestError(
            f"{path} disagrees with the distributions (remove it only if the files are the ones "
            "you mean to release): " + "; ".join(problems)
        )


def _read_record(path: Path, subjects: list[Subject]) -> tuple[BuildEnvRecord, bytes]:
    """``build-env.json``: it must exist, parse, and name exactly these distributions' hashes;
    returned with its exact bytes, which the provenance carries."""
    if not path.is_file():
        raise AttestError(
            f"{path} is missing: the provenance records the build environment that "
            "`trustyard build` writes there"
        )
    try:
        data = path.read_bytes()
        text = data.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise AttestError(f"cannot read {path}: {exc}") from exc
    record = BuildEnvRecord.from_json(text, origin=str(path))
    problems = []
    commit = record.source.get("commit")
    if not isinstance(commit, str) or not re.fullmatch(r"[0-9a-f]{40}([0-9a-f]{24})?", commit):
        problems.append(f"source.commit is {commit!r}, not a full git commit id")
    built = {
        str(a.get("filename")): str(a.get("sha256")) for a in record.artifacts if "filename" in a
    }
    for subject in subjects:
        if subject.name not in built:
            problems.append(f"{subject.name} is not among the artifacts it records")
        elif built[subject.name] != subject.sha256:
            problems.append(
                f"{subject.name} hashes to {subject.sha256}, but the build recorded "
                f"{built[subject.name]}"
            )
    if problems:
        raise AttestError(f"{path} does not describe these files: " + "; ".join(problems))
    return record, data


def _environment(record: BuildEnvRecord, record_bytes: bytes) -> BuildEnvironment:
    epoch = record.source.get("source_date_epoch")
    return BuildEnvironment(
        backend={
            "name": record.backend_name,
            "version": record.backend_version,
            "entry_point": record.backend,
        },
        build_requires=record.requires,
        dependencies=tuple(Dependency(p.name, p.version, p.hashes) for p in record.pins),
        python={
            "version": record.python_version,
            "implementation": record.python_implementation,
        },
        platform=record.platform,
        record_sha256=hashlib.sha256(record_bytes).hexdigest(),
        source_date_epoch=epoch if isinstance(epoch, int) else None,
        record=record_bytes,
    )


def _source_revision(
    record: BuildEnvRecord, builder: Builder, source: Path | None
) -> SourceRevision:
    """Repository URL, commit and full ref of what was built.

    The commit is the one ``build-env.json`` records. In CI the repository and ref are the
    workflow's, and the run must be for that commit; elsewhere they come from the git checkout
    (its ``origin`` remote, else its path as a ``file://`` URL; the recorded ref made full, else
    a tag pointing at the commit).
    """
    commit = str(record.source["commit"])
    recorded_ref = str(record.source.get("ref") or "")
    if builder.kind != "local":
        if builder.commit and builder.commit != commit:
            raise AttestError(
                f"{ENV_RECORD_NAME} records commit {commit}, but this CI run is for "
                f"{builder.commit}: attest in the run that built the files"
            )
        ref = builder.ref if builder.ref.startswith("refs/") else None
        return SourceRevision(builder.repository, commit, ref)
    checkout = source if source is not None else Path.cwd()
    try:
        if resolve_commit(checkout, commit) != commit:
            raise SourceError("")
    except SourceError as exc:
        hint = "" if source is not None else " (pass --source PATH, the checkout that was built)"
        raise AttestError(
            f"{checkout} does not hold commit {commit} that {ENV_RECORD_NAME} records{hint}"
        ) from exc
    return SourceRevision(
        _repository_url(checkout), commit, _full_ref(checkout, recorded_ref, commit)
    )


def _repository_url(checkout: Path) -> str:
    try:
        remote = run_git(checkout, "remote", "get-url", "origin").decode().strip()
    except SourceError:
        remote = ""
    if not remote:  # a bare repository has no top level: its git directory names it
        where = "--absolute-git-dir" if is_bare(checkout) else "--show-toplevel"
        top = run_git(checkout, "rev-parse", where).decode().strip()
        return Path(top).resolve().as_uri()
    return normalize_git_url(remote)


def normalize_git_url(remote: str) -> str:
    """``git@host:o/r.git`` and ``https://user:pw@host/o/r.git`` -> ``https://host/o/r``."""
    scp = _GIT_SCP.match(remote)
    if scp and "://" not in remote:
        return f"https://{scp['host']}/{scp['path'].removesuffix('.git')}"
    parts = urlsplit(remote)
    scheme = "https" if parts.scheme in {"ssh", "git", "git+ssh"} else parts.scheme
    host = parts.hostname or ""
    if parts.port and scheme not in {"https", "ssh"}:
        host = f"{host}:{parts.port}"
    return urlunsplit((scheme, host, parts.path.removesuffix(".git"), "", ""))


def _full_ref(checkout: Path, recorded: str, commit: str) -> str | None:
    candidates = []
    if recorded.startswith("refs/"):
        candidates.append(recorded)
    elif recorded and recorded != "HEAD" and not re.fullmatch(r"[0-9a-f]{7,64}", recorded):
        with contextlib.suppress(SourceError):
            full = run_git(checkout, "rev-parse", "--symbolic-full-name", recorded)
            candidates.append(full.decode().strip())
    for ref in candidates:
        with contextlib.suppress(SourceError):
            if resolve_commit(checkout, ref) == commit:
                return ref
    tags = run_git(checkout, "tag", "--points-at", commit).decode().split()
    if tags:
        preferred = sorted(tags, key=lambda t: (not t.startswith("v"), t))
        return f"refs/tags/{preferred[0]}"
    return None


def _sign(
    options: AttestOptions,
    environ: Mapping[str, str],
    statement: bytes,
    dists: list[Path],
    say: Progress,
) -> tuple[SignedRelease | None, str]:
    """Sign when the CI gives an identity; otherwise (None, why not)."""
    from trustyard.attestations.sign import (  # noqa: PLC0415 - sigstore is slow to import
        SIGSTORE_AUDIENCE,
        sign_release,
        signing_context,
    )
    from trustyard.attestations.trust import load_trust_config  # noqa: PLC0415
    from trustyard.oidc.ambient import detect_ambient_token  # noqa: PLC0415

    ambient = detect_ambient_token(SIGSTORE_AUDIENCE, environ)
    if ambient is None:
        return None, (
            "no ambient CI identity (GitHub Actions with `id-token: write`, or GitLab CI with "
            "an `id_tokens` entry SIGSTORE_ID_TOKEN for audience sigstore)"
        )
    say(f"signing with the {ambient.provider} identity through Sigstore")
    trust = load_trust_config(options.trust_config)
    return sign_release(ambient.token, statement, dists, signing_context(trust)), ""


def _check_overwrite(
    options: AttestOptions,
    provenance_path: Path,
    provenance: str,
    attestation_paths: list[Path],
    signing: bool,
) -> None:
    """Refuse to replace attestation files unless asked; an identical unsigned rerun is fine."""
    if options.overwrite:
        return
    existing = []
    if provenance_path.exists():
        try:
            same = provenance_path.read_text(encoding="utf-8") == provenance
        except (OSError, UnicodeDecodeError):
            same = False
        if not same:
            existing.append(provenance_path.name)
    if signing:
        existing += [p.name for p in attestation_paths if p.exists()]
    if existing:
        verb = "exists" if len(existing) == 1 else "exist"
        raise Conflict(
            f"{', '.join(existing)} already {verb} in {provenance_path.parent}; pass --overwrite "
            "to replace them"
        )


def _write_all(files: Mapping[Path, str]) -> None:
    """Write every file to a temporary name first, then rename them all into place (none is
    replaced unless all were written)."""
    try:
        with contextlib.ExitStack() as staged:
            for path, text in files.items():
                staged.enter_context(atomic_writer(path, mode=0o644, encoding="utf-8")).write(text)
    except OSError as exc:
        raise AttestError(f"cannot write the attestation files: {exc}") from exc


def __dir__() -> list[str]:
    return __all__
