"""The graded verdicts of ``trustyard verify`` (issue 16) and the archive comparisons behind them.

A file is *proven* when its bytes are rebuilt: ``reproduced`` from the tag, or
``reproduced-from-sdist`` (a wheel rebuilt byte for byte from the published sdist, whose content
is the tag's). ``equivalent`` says the same members hold the same bytes and only archive
metadata differs (and which); ``differs`` carries the member diff of the closest rebuild.
OSS Rebuild's "stabilised" match is at most our ``equivalent``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from trustyard.dists.filenames import SDIST_SUFFIX
from trustyard.release.compare import ArchiveDiff, compare_archives
from trustyard.release.normalize import InvalidArchive, Member, read_members

__all__ = [
    "DIFFERS",
    "EQUIVALENT",
    "MISSING",
    "NOT_COMPARED",
    "NOT_ON_INDEX",
    "NOT_REBUILT",
    "PROVEN",
    "REPRODUCED",
    "REPRODUCED_FROM_SDIST",
    "SCHEMA_VERSION",
    "Equivalence",
    "FileVerdict",
    "closeness",
    "equivalence",
    "sdist_content_problems",
]

SCHEMA_VERSION = 2
"""Of ``trustyard verify --json``; 1 was the ungraded report (``identical``/``differs``)."""

REPRODUCED = "reproduced"
REPRODUCED_FROM_SDIST = "reproduced-from-sdist"
EQUIVALENT = "equivalent"
DIFFERS = "differs"
NOT_REBUILT = "not rebuilt (platform wheel)"
NOT_COMPARED = "not compared (no git source)"
MISSING = "missing from rebuild"
NOT_ON_INDEX = "not on the index"
PROVEN = frozenset({REPRODUCED, REPRODUCED_FROM_SDIST})
# Verdicts that are no failure and no proof: the file could not be rebuilt here by design.
UNJUDGED = frozenset({NOT_REBUILT, NOT_COMPARED, NOT_ON_INDEX})


@dataclass(frozen=True)
class FileVerdict:
    """The grade of one index file. ``diff`` is the member diff of the closest rebuild when the
    bytes differ; ``recipe`` and ``command`` say how the file was rebuilt (``command`` as one
    line for plain ``uv build``); ``aspects`` what differs for ``equivalent``."""

    filename: str
    index_sha256: str
    rebuilt_sha256: str
    verdict: str
    note: str = ""
    diff: ArchiveDiff | None = None
    recipe: str = ""
    command: str = ""
    aspects: tuple[str, ...] = ()


_ASPECTS = {  # compare.py's field names -> the words of the verdict
    "mtime": "mtime",
    "mode": "mode",
    "owner": "owner",
}


@dataclass(frozen=True)
class Equivalence:
    """Same members with the same bytes; ``aspects`` names what differs (``mtime``, ``mode``,
    ``owner``, ``order``, ``compression``, ``gzip header``, ``tar format``, ``zip comment``)."""

    aspects: tuple[str, ...]
    diff: ArchiveDiff


def equivalence(published: Path, rebuilt: Path) -> Equivalence | None:
    """How two archives with equal members differ, or ``None`` when a member's bytes differ
    (or one side lacks a member)."""
    try:
        diff = compare_archives(published, rebuilt)
    except InvalidArchive:
        return None
    if diff.content_differs:
        return None
    aspects: list[str] = []
    for fact in diff.container:
        key = fact.split(":", 1)[0]
        word = {"gzip.mtime": "gzip header", "gzip.name": "gzip header", "tar.format": "tar format"}
        aspects.append(word.get(key, "zip comment"))
    for member in diff.members:
        if member.kind == "order":
            aspects.append("order")
        aspects += [_aspect(detail) for detail in member.details]
    if not aspects:  # bytes differ below what members show: header fields, padding, streams
        aspects.append(
            "tar headers" if published.name.endswith(SDIST_SUFFIX) else "deflate streams"
        )
    return Equivalence(tuple(dict.fromkeys(sorted(aspects))), diff)


def _aspect(detail: str) -> str:
    """The word for one differing field of compare.py (``mtime: 1 != 2``). Tar ``attributes``
    are PAX headers (an ``mtime`` there is a time, too); zip ``attributes`` are how the member
    is stored."""
    key, _, values = detail.partition(":")
    if key != "attributes":
        return _ASPECTS.get(key, key)
    if "compress=" in values:
        return "compression"
    keys = {item.split("=", 1)[0] for item in values.replace("!=", " ").split() if "=" in item}
    return "mtime" if keys <= {"mtime"} else "pax headers"


def closeness(diff: ArchiveDiff) -> tuple[int, int]:
    """A sort key for "closest candidate": fewest members differing in content, then fewest
    differing at all."""
    content = sum(m.kind in {"only-left", "only-right", "content"} for m in diff.members)
    return content, len(diff.members) + len(diff.container)


def sdist_content_problems(published: Path, tree: Path, rebuilt: Path | None) -> list[str]:
    """Why the published sdist's content is not the tag's tree plus what the backend generates.

    Every file member (its top directory removed) must hold the bytes of the tree's file at
    that path, or of the same member of ``rebuilt`` (the sdist the backend made from the tree:
    ``PKG-INFO``, ``*.egg-info/``, a version file written by a git plugin; setuptools'
    ``SOURCES.txt`` only has to be in both). Tree files the sdist leaves out are fine: an sdist
    is a selection.
    """
    if not published.name.endswith(SDIST_SUFFIX):
        return [f"{published.name} is not a .tar.gz sdist"]
    try:
        members, _ = read_members(published)
        generated = _by_path(read_members(rebuilt)[0]) if rebuilt is not None else {}
    except InvalidArchive as exc:
        return [exc.message]
    problems: list[str] = []
    for path, member in _by_path(members).items():
        if member.kind != "file":
            continue
        on_disk = tree / path
        if on_disk.is_file() and not on_disk.is_symlink() and on_disk.read_bytes() == member.data:
            continue
        if path in generated and generated[path].data == member.data:
            continue
        if path.endswith(".egg-info/SOURCES.txt") and path in generated:
            # setuptools lists the files its finders saw (with setuptools-scm, every tracked
            # file; without .git, fewer): a listing nothing installs or runs
            continue
        where = "differs from the tag's" if on_disk.exists() else "is not in the tag's tree"
        problems.append(f"{path} {where} (and from the rebuilt sdist's)")
    return problems


def _by_path(members: list[Member]) -> dict[str, Member]:
    """Members by their path below the sdist's single top directory (the last one wins)."""
    found: dict[str, Member] = {}
    for member in members:
        _top, _, rest = member.name.rstrip("/").partition("/")
        if rest:
            found[rest] = member
    return found


def __dir__() -> list[str]:
    return __all__
