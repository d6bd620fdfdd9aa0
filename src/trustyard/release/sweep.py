"""Verify many releases of one project: every version the index serves (or the last N, or those
a PEP 440 specifier admits), each rebuilt from its own tag by the one-release verify.

The sweep only chooses versions, finds their tags (none without a repository: each release is
then rebuilt from its own sdist, ``--from-sdist``) and collects the reports: how one release is
verified is the caller's ``verify_one`` (the CLI binds :func:`~trustyard.release.verify.
verify_release` with its options), so the sweep grades exactly as a single ``verify`` does. A
version that fails (no tag, a build error) is recorded and the sweep goes on.
"""

from __future__ import annotations

import shutil
import ssl
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import InvalidName, canonicalize_name
from packaging.version import Version

from trustyard.errors import Error, InvalidInput
from trustyard.release.build import Progress
from trustyard.release.errors import ReleaseNotFound, SourceError
from trustyard.release.simple_client import ACCEPT_JSON_FIRST, project_files
from trustyard.release.source import run_git
from trustyard.release.tags import DEFAULT_PATTERNS, TagPattern, match_tags, repository_tags
from trustyard.release.verify import VerifyReport

__all__ = [
    "FAILED",
    "NOT_VERIFIED",
    "NO_TAG",
    "VERIFIED",
    "SweepReport",
    "SweptRelease",
    "VerifyOne",
    "VersionSelection",
    "local_repository",
    "parse_project_name",
    "parse_selection",
    "sweep_releases",
]

# The outcome of one version of a sweep
VERIFIED = "verified"
NOT_VERIFIED = "NOT verified"
NO_TAG = "no tag"
FAILED = "failed"

VerifyOne = Callable[[str, str | None, Path], VerifyReport]
"""Verify one release: (``NAME==VERSION``, the full tag ref to rebuild or ``None`` when there is
no repository, a scratch directory)."""


@dataclass(frozen=True)
class VersionSelection:
    """``--versions``: ``all``, ``last:N`` (the N highest) or a PEP 440 specifier set.

    A specifier admits pre-releases only when it names one (PEP 440's rule, as pip applies
    it); ``all`` and ``last:N`` take every version the index lists, pre-releases included.
    """

    text: str
    last: int | None = None
    specifier: SpecifierSet | None = None

    def choose(self, versions: Iterable[Version]) -> list[Version]:
        """The chosen versions, oldest first."""
        ordered = sorted(set(versions))
        if self.last is not None:
            return ordered[-self.last :]
        if self.specifier is not None:
            return list(self.specifier.filter(ordered))
        return ordered


def parse_selection(text: str) -> VersionSelection:
    """Read ``--versions``; every malformed form is a precise error."""
    value = text.strip()
    if value == "all":
        return VersionSelection(value)
    if value.startswith("last:"):
        count = value.removeprefix("last:")
        if not count.isdigit() or int(count) < 1:
            raise InvalidInput(f"--versions {text!r}: last:N needs a whole number N of at least 1")
        return VersionSelection(value, last=int(count))
    try:
        specifier = SpecifierSet(value)
    except InvalidSpecifier as exc:
        raise InvalidInput(
            f"--versions {text!r} is not all, last:N or a PEP 440 specifier (e.g. '>=1.2,<2')"
        ) from exc
    if not value:
        raise InvalidInput("--versions is empty: give all, last:N or a PEP 440 specifier")
    return VersionSelection(value, specifier=specifier)


def parse_project_name(text: str) -> str:
    """A bare PEP 508 project name (the sweep's positional argument)."""
    if "==" in text:
        raise InvalidInput(
            f"{text!r}: with --versions give the project name alone, not NAME==VERSION"
        )
    try:
        canonicalize_name(text.strip(), validate=True)
    except InvalidName as exc:
        raise InvalidInput(f"{text!r} is not a valid project name (PEP 508)") from exc
    return text.strip()


@dataclass(frozen=True)
class SweptRelease:
    """One version of the sweep: its tag, its outcome, and the one-release report if it ran."""

    version: str
    status: str
    tag: str | None = None
    report: VerifyReport | None = None
    detail: str = ""
    yanked: bool = False
    """Every file of the release is yanked (PEP 592): still served, so still verified."""

    @property
    def ok(self) -> bool:
        return self.status == VERIFIED


@dataclass(frozen=True)
class SweepReport:
    """Every chosen version's outcome, oldest first."""

    name: str
    index_url: str
    selection: str
    patterns: tuple[str, ...]
    releases: tuple[SweptRelease, ...]
    from_sdist: bool = False

    @property
    def ok(self) -> bool:
        """Every chosen version was verified: no file failed, none lacks a tag, none failed to
        build (a release with only platform wheels and no rebuildable file is not verified)."""
        return bool(self.releases) and all(r.ok for r in self.releases)


def local_repository(source: str, work: Path) -> Path:
    """``source`` as a local repository: a path as it is, a git URL cloned once (bare) into
    ``work``, so that its tags can be listed and every version rebuilt without cloning again."""
    if "://" not in source and not source.startswith("git@"):
        path = Path(source)
        if not path.is_dir():
            raise SourceError(f"source {source!r} is neither a directory nor a git URL")
        return path
    work.mkdir(parents=True, exist_ok=True)
    clone = work / "clone.git"
    run_git(work, "clone", "--quiet", "--bare", "--", source, str(clone))
    return clone


def sweep_releases(
    name: str,
    index_url: str,
    repo: Path | None,
    selection: VersionSelection,
    *,
    verify_one: VerifyOne,
    work: Path,
    patterns: Sequence[TagPattern] = DEFAULT_PATTERNS,
    accept: str = ACCEPT_JSON_FIRST,
    context: ssl.SSLContext | None = None,
    progress: Progress | None = None,
) -> SweepReport:
    """Verify each chosen version of ``name`` from its tag in ``repo`` (``None``: from the
    index's own sdist, no tags); see the module docstring.

        Raises when nothing can be swept (no such project, no version chosen, no repository); a
        single version's failure is recorded in the report instead.
    """
    say = progress or (lambda _step: None)
    say(f"reading the releases of {name} from {index_url}")
    page, files = project_files(index_url, name, accept=accept, context=context)
    versions = {version for _file, version in files}
    if not versions:
        raise ReleaseNotFound(f"{page} lists no files of {name}")
    chosen = selection.choose(versions)
    if not chosen:
        listed = ", ".join(str(v) for v in sorted(versions))
        raise InvalidInput(
            f"no release of {name} matches --versions {selection.text!r}; {page} lists {listed}"
        )
    yanked = {v for v in chosen if all(f.yanked for f, of in files if of == v)}
    tags = match_tags(repository_tags(repo), chosen, patterns) if repo is not None else {}
    shown_patterns = " or ".join(p.text for p in patterns)
    releases: list[SweptRelease] = []
    for number, version in enumerate(chosen, 1):
        label = f"[{number}/{len(chosen)}] {name} {version}"
        tag = tags.get(version)
        if tag is None and repo is not None:
            say(f"{label}: no tag")
            releases.append(
                SweptRelease(
                    str(version),
                    NO_TAG,
                    detail=f"no tag matches {shown_patterns}; pass --tag-pattern",
                    yanked=version in yanked,
                )
            )
            continue
        say(f"{label}: verifying tag {tag}" if tag else f"{label}: verifying from its sdist")
        scratch = work / f"v{number}"
        try:
            ref = f"refs/tags/{tag}" if tag else None
            report = verify_one(f"{name}=={version}", ref, scratch)
        except Error as exc:
            failed = SweptRelease(
                str(version), FAILED, tag, detail=exc.diagnostics(), yanked=version in yanked
            )
            releases.append(failed)
        else:
            status = VERIFIED if report.ok else NOT_VERIFIED
            releases.append(
                SweptRelease(str(version), status, tag, report, yanked=version in yanked)
            )
        finally:
            shutil.rmtree(scratch, ignore_errors=True)  # a sweep of 100 releases fits the disk
        say(f"{label}: {releases[-1].status}")
    return SweepReport(
        name=name,
        index_url=index_url,
        selection=selection.text,
        patterns=tuple(p.text for p in patterns) if repo is not None else (),
        releases=tuple(releases),
        from_sdist=repo is None,
    )


def __dir__() -> list[str]:
    return __all__
