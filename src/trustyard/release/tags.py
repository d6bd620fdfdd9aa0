"""Which git tag holds which release: tag patterns, and matching a repository's tags to versions.

A pattern is either a template holding ``{version}`` once (``v{version}``, ``release-{version}``,
``mypkg-v{version}``) or a regular expression with a named group ``version`` that must match the
whole tag (``(?P<version>[0-9.]+)-final``). A tag matches a release when its version part, read
as a PEP 440 version, *equals* the release's: so ``v2026.07.22`` is the tag of 2026.7.22 and
``v1.0.0`` that of 1.0 (PEP 440 normalisation and zero padding), as a person reading the tag list
would decide. Where several tags fit, the earlier pattern wins, then a tag spelled as the normalised
version (``v1.0`` before ``v1.0.0`` for 1.0), then the first by name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.version import InvalidVersion, Version

from trustyard.errors import InvalidInput
from trustyard.release.source import run_git

__all__ = ["DEFAULT_PATTERNS", "TagPattern", "match_tags", "parse_tag_pattern", "repository_tags"]

PLACEHOLDER = "{version}"
MAX_PATTERN_LENGTH = 200


@dataclass(frozen=True)
class TagPattern:
    """A tag pattern as given (``text``) and the regular expression it stands for."""

    text: str
    regex: re.Pattern[str]

    def version_of(self, tag: str) -> tuple[Version, str] | None:
        """The PEP 440 version ``tag`` names under this pattern, with its spelling; else None."""
        match = self.regex.fullmatch(tag)
        if match is None:
            return None
        spelled = match.group("version")
        try:
            return Version(spelled), spelled
        except InvalidVersion:
            return None


def parse_tag_pattern(text: str) -> TagPattern:
    """``--tag-pattern``: a ``{version}`` template or a regex with a ``(?P<version>...)`` group."""
    shown = f"--tag-pattern {text!r}"
    if not text or len(text) > MAX_PATTERN_LENGTH or any(c.isspace() for c in text):
        raise InvalidInput(
            f"{shown}: give a template such as v{PLACEHOLDER} or a regular expression with a "
            f"(?P<version>...) group, at most {MAX_PATTERN_LENGTH} characters, no spaces"
        )
    if PLACEHOLDER in text:
        before, _, after = text.partition(PLACEHOLDER)
        if PLACEHOLDER in after:
            raise InvalidInput(f"{shown}: {PLACEHOLDER} may appear only once")
        regex = f"{re.escape(before)}(?P<version>.+){re.escape(after)}"
        return TagPattern(text, re.compile(regex))
    try:
        compiled = re.compile(text)
    except re.error as exc:
        raise InvalidInput(
            f"{shown} holds no {PLACEHOLDER} and is not a regular expression: {exc}"
        ) from exc
    if "version" not in compiled.groupindex:
        raise InvalidInput(
            f"{shown}: a regular expression needs a named group (?P<version>...) for the version "
            f"(or use a template such as v{PLACEHOLDER})"
        )
    return TagPattern(text, compiled)


DEFAULT_PATTERNS = (parse_tag_pattern("v{version}"), parse_tag_pattern("{version}"))


def repository_tags(repo: Path) -> list[str]:
    """Every tag name of ``repo`` (a work tree or a bare repository)."""
    listed = run_git(repo, "for-each-ref", "--format=%(refname:strip=2)", "refs/tags")
    return [line for line in listed.decode("utf-8", "replace").splitlines() if line]


def match_tags(
    tags: Iterable[str],
    versions: Iterable[Version],
    patterns: Sequence[TagPattern] = DEFAULT_PATTERNS,
) -> dict[Version, str]:
    """The tag of each of ``versions`` that has one."""
    wanted = set(versions)
    best: dict[Version, tuple[int, bool, str]] = {}
    for tag in tags:
        for rank, pattern in enumerate(patterns):
            found = pattern.version_of(tag)
            if found is None or found[0] not in wanted:
                continue
            version, spelled = found
            key = (rank, spelled != str(version), tag)
            if version not in best or key < best[version]:
                best[version] = key
    return {version: key[2] for version, key in best.items()}


def __dir__() -> list[str]:
    return __all__
