"""A project's build system: its ``[build-system]`` table (PEP 518/517) and the distribution
that provides its backend."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from trustyard.release.buildenv.cache import ReadyEnv
from trustyard.release.errors import SourceError

__all__ = ["BuildSystem", "backend_distribution", "read_build_system"]

_FALLBACK_REQUIRES = ("setuptools>=40.8.0",)
_FALLBACK_BACKEND = "setuptools.build_meta:__legacy__"


@dataclass(frozen=True)
class BuildSystem:
    """A project's ``[build-system]`` table (PEP 518/517), with PEP 517's fallback applied."""

    requires: tuple[str, ...]
    backend: str
    backend_path: tuple[str, ...] = ()


def read_build_system(project: Path) -> BuildSystem:
    """Read ``[build-system]``; without one, PEP 517's fallback (setuptools' legacy backend)."""
    pyproject = project / "pyproject.toml"
    if not pyproject.is_file():
        return BuildSystem(_FALLBACK_REQUIRES, _FALLBACK_BACKEND)
    try:
        document = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SourceError(f"pyproject.toml is not valid TOML: {exc}") from exc
    table = document.get("build-system")
    if table is None:
        return BuildSystem(_FALLBACK_REQUIRES, _FALLBACK_BACKEND)
    problems: list[str] = []
    requires = table.get("requires") if isinstance(table, dict) else None
    if not isinstance(requires, list) or not all(isinstance(r, str) for r in requires):
        problems.append("[build-system] requires must be a list of strings (PEP 518)")
        requires = []
    for requirement in requires:
        try:
            Requirement(requirement)
        except InvalidRequirement as exc:
            problems.append(f"[build-system] requires has an invalid requirement: {exc}")
    backend = table.get("build-backend", _FALLBACK_BACKEND) if isinstance(table, dict) else ""
    if not isinstance(backend, str) or not re.fullmatch(r"[\w.]+(:[\w.]+)?", backend):
        problems.append(f"[build-system] build-backend {backend!r} is not an object reference")
    backend_path = table.get("backend-path", []) if isinstance(table, dict) else []
    if not isinstance(backend_path, list) or not all(isinstance(p, str) for p in backend_path):
        problems.append("[build-system] backend-path must be a list of strings")
        backend_path = []
    if problems:
        raise SourceError("pyproject.toml: " + "; ".join(problems))
    return BuildSystem(tuple(requires), str(backend), tuple(backend_path))


def backend_distribution(env: ReadyEnv, backend: str) -> tuple[str, str]:
    """The distribution (name, version) that provides the backend module, from the venv's
    metadata read when it was made."""
    top = backend.split(":", 1)[0].split(".", 1)[0]
    names = env.modules.get(top, [])
    versions = {p.name: p.version for p in env.pins}
    for name in names:
        if canonicalize_name(name) in versions:
            return str(canonicalize_name(name)), versions[canonicalize_name(name)]
    return top, "in-tree" if names == [] else "unknown"


def __dir__() -> list[str]:
    return __all__
