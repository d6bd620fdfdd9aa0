"""Versions from git: projects whose version a git plugin computes (setuptools-scm, hatch-vcs,
pdm-backend's ``[tool.pdm.version] source = "scm"``) cannot read it from a clean export (no
``.git``), so the version a checkout of the tag would give is passed the way the plugins
document: ``SETUPTOOLS_SCM_PRETEND_VERSION`` (setuptools-scm, and hatch-vcs which runs it) and
``PDM_BUILD_SCM_VERSION`` (pdm-backend).

Only a commit at a version tag is built: off a tag the plugins make a dev version from the
distance, hash and date of the checkout, which is not something to publish or reproduce.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from trustyard.release.errors import SourceError

__all__ = ["GitVersion", "version_from_git"]

# setuptools-scm's DEFAULT_TAG_REGEX (also hatch-vcs's, which hands it on); pdm-backend's
# default accepts the same version tags (``v1.2.3``, ``1.2.3``, ``name-1.2.3``).
_DEFAULT_TAG_REGEX = r"^(?:[\w-]+-)?(?P<version>[vV]?\d+(?:\.\d+){0,2}[^\+]*)(?:\+.*)?$"

_ENV_VAR = {
    "setuptools-scm": "SETUPTOOLS_SCM_PRETEND_VERSION",
    "hatch-vcs": "SETUPTOOLS_SCM_PRETEND_VERSION",
    "pdm-backend": "PDM_BUILD_SCM_VERSION",
}


@dataclass(frozen=True)
class GitVersion:
    """The version a git plugin would compute for the tag, and how the backend gets it."""

    plugin: str
    tag: str
    version: str

    def environment(self) -> dict[str, str]:
        return {_ENV_VAR[self.plugin]: self.version}

    def record(self) -> dict[str, str]:
        return {"plugin": self.plugin, "tag": self.tag, "version": self.version}


def version_from_git(
    project: Path, requires: Sequence[str], tag: str | None, commit: str
) -> GitVersion | None:
    """The git version of ``project`` at ``commit`` (whose version tag is ``tag``), or ``None``
    when no git plugin computes the project's version."""
    document = _pyproject(project)
    plugin = _plugin(document, requires)
    if plugin is None or _static_version(document):
        return None
    if tag is None:
        raise SourceError(
            f"builds of a git-versioned project ({plugin}) need the commit to be at a version "
            f"tag; {commit[:12]} has none (tag it, or pass the tag as the ref)"
        )
    pattern = _tag_regex(document, plugin)
    match = re.match(pattern, tag)
    raw = _version_group(match) if match else None
    try:
        version = str(Version(raw)) if raw else None
    except InvalidVersion:
        version = None
    if version is None:
        raise SourceError(f"tag {tag!r} does not hold a version that {plugin} reads ({pattern})")
    return GitVersion(plugin, tag, version)


def _version_group(match: re.Match[str]) -> str | None:
    """The ``version`` group, else the first group, else the whole match (setuptools-scm)."""
    if "version" in match.re.groupindex:
        return match.group("version")
    return match.group(1) if match.re.groups else match.group(0)


def _pyproject(project: Path) -> dict[str, Any]:
    path = project / "pyproject.toml"
    if not path.is_file():
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SourceError(f"pyproject.toml is not valid TOML: {exc}") from exc


def _table(document: dict[str, Any], *keys: str) -> dict[str, Any]:
    for key in keys:
        value = document.get(key)
        document = value if isinstance(value, dict) else {}
    return document


def _plugin(document: dict[str, Any], requires: Sequence[str]) -> str | None:
    names = {canonicalize_name(Requirement(r).name) for r in requires}
    if "hatch-vcs" in names:
        return "hatch-vcs"
    if "setuptools-scm" in names:
        return "setuptools-scm"
    # pdm-backend builds itself from its tree (``backend-path``, no requirement on itself)
    backend = _table(document, "build-system").get("build-backend", "")
    pdm = "pdm-backend" in names or str(backend).startswith("pdm.backend")
    if pdm and _table(document, "tool", "pdm", "version").get("source") == "scm":
        return "pdm-backend"
    return None


def _static_version(document: dict[str, Any]) -> bool:
    """PEP 621: a ``[project] version`` not listed in ``dynamic`` is the version; no plugin
    is asked (setuptools-scm is often required only for its file finder)."""
    project = _table(document, "project")
    dynamic = project.get("dynamic", [])
    return "version" in project and not (isinstance(dynamic, list) and "version" in dynamic)


def _tag_regex(document: dict[str, Any], plugin: str) -> str:
    """The project's own tag pattern where it sets one, else the plugins' default."""
    configured = {
        "setuptools-scm": _table(document, "tool", "setuptools_scm").get("tag_regex"),
        "hatch-vcs": _table(document, "tool", "hatch", "version").get("tag-pattern"),
        "pdm-backend": _table(document, "tool", "pdm", "version").get("tag_regex"),
    }[plugin]
    return configured if isinstance(configured, str) else _DEFAULT_TAG_REGEX


def __dir__() -> list[str]:
    return __all__
