"""Rebuild a published release from its tagged source and compare it, hash by hash, with what
the index serves: the "rebuild at the tag with the tag's commit date" procedure as one function.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from packaging.version import InvalidVersion, Version

from trustyard.dists.filenames import parse_dist_filename
from trustyard.errors import InvalidInput
from trustyard.release.build import BuildOptions, Progress, build_release, sha256_of
from trustyard.release.buildenv import BuildEnvRecord
from trustyard.release.compare import ArchiveDiff, compare_archives
from trustyard.release.errors import SourceError
from trustyard.release.normalize import InvalidArchive, normalize_archive
from trustyard.release.simple_client import ACCEPT_JSON_FIRST, download, release_files
from trustyard.release.source import resolve_commit, run_git

__all__ = [
    "IDENTICAL",
    "FileVerdict",
    "VerifyReport",
    "parse_pinned",
    "verify_release",
]

IDENTICAL = "identical"
EQUIVALENT = "equivalent after normalisation"
DIFFERS = "differs"
NOT_REBUILDABLE = "not rebuildable here"
MISSING = "missing from rebuild"
NOT_ON_INDEX = "not on the index"
_NAME_RE = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$", re.IGNORECASE)


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
class VerifyReport:
    """Every file's verdict, and what was rebuilt from where."""

    name: str
    version: str
    ref: str
    commit: str
    files: tuple[FileVerdict, ...]
    accept_equivalent: bool = False

    @property
    def ok(self) -> bool:
        """Every rebuildable index file matched, and at least one was compared."""
        good = {IDENTICAL, EQUIVALENT} if self.accept_equivalent else {IDENTICAL}
        compared = [f for f in self.files if f.verdict not in {NOT_REBUILDABLE, NOT_ON_INDEX}]
        return bool(compared) and all(f.verdict in good for f in compared)


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
) -> VerifyReport:
    """Compare the index's files of ``spec`` with a rebuild from ``source``."""
    say = progress or (lambda _step: None)
    name, version = parse_pinned(spec)
    raw_version = spec.partition("==")[2].strip()
    say(f"reading the files of {name} {version} from {index_url}")
    listed = release_files(index_url, name, version, accept=accept)
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
    for file in listed:
        say(f"downloading {file.filename}")
        theirs = download(file, downloads)
        index_sha = sha256_of(theirs)
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
    return VerifyReport(
        name=name,
        version=str(version),
        ref=ref_name,
        commit=commit,
        files=tuple(verdicts),
        accept_equivalent=accept_equivalent,
    )


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
            f"a wheel for {tags}; this machine builds others",
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
