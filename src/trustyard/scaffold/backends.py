"""Build backends the template supports, as data, and detection of a project's backend.

The backend is pinned exactly (``==``) in ``[build-system] requires`` and installed from the
hash-pinned build lock, then used with ``python -m build --no-isolation``: an isolated build
would fetch whatever backend is newest (the seed template's gap, reference note B5).
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from trustyard.errors import InvalidInput


@dataclass(frozen=True)
class Backend:
    """A build backend: its distribution, its PEP 517 entry point and its lock file."""

    name: str
    distribution: str
    build_backend: str
    can_build_extensions: bool

    @property
    def lock_name(self) -> str:
        return f"build-{self.distribution}.txt"

    def lock_text(self) -> str:
        """The hash-pinned build lock (build + this backend) shipped with trustyard."""
        return locks_dir().joinpath(self.lock_name).read_text(encoding="utf-8")

    def pinned_version(self) -> str:
        """The backend's version in the lock, which ``requires`` must match exactly."""
        match = re.search(
            rf"^{re.escape(self.distribution)}==(\S+)", self.lock_text(), flags=re.MULTILINE
        )
        if match is None:
            raise InvalidInput(f"lock {self.lock_name} does not pin {self.distribution}")
        return match.group(1)


BACKENDS: dict[str, Backend] = {
    b.name: b
    for b in (
        Backend("hatchling", "hatchling", "hatchling.build", can_build_extensions=False),
        Backend("setuptools", "setuptools", "setuptools.build_meta", can_build_extensions=True),
        Backend("flit", "flit-core", "flit_core.buildapi", can_build_extensions=False),
        Backend("pdm", "pdm-backend", "pdm.backend", can_build_extensions=False),
        Backend("poetry", "poetry-core", "poetry.core.masonry.api", can_build_extensions=False),
        Backend("uv", "uv-build", "uv_build", can_build_extensions=False),
    )
}


def locks_dir() -> resources.abc.Traversable:
    """The hash-pinned locks shipped as package data."""
    return resources.files("trustyard.scaffold").joinpath("locks")


def get_backend(name: str) -> Backend:
    """The backend called ``name``, or a precise error listing the known ones."""
    try:
        return BACKENDS[name]
    except KeyError:
        known = ", ".join(BACKENDS)
        raise InvalidInput(f"unknown build backend {name!r}; choose one of: {known}") from None


@dataclass(frozen=True)
class ProjectShape:
    """What ``workflow generate`` needs to know about an existing project."""

    name: str
    backend: Backend
    has_extension: bool


def detect_project(root: Path) -> ProjectShape:
    """Read ``pyproject.toml`` (PEP 517/518/621) to find the backend, name and extension modules.

    Extension modules are detected as Python sources next to compiled-language sources
    (``*.c``, ``*.cpp``, ``*.pyx``, ``*.rs``) under ``src/`` or the package, or a ``setup.py`` that
    mentions ``ext_modules``.
    """
    path = root / "pyproject.toml"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidInput(f"{path}: cannot read it ({exc.strerror})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(f"{path}: not valid TOML: {exc}") from exc
    entry = data.get("build-system", {}).get("build-backend")
    if not isinstance(entry, str):
        raise InvalidInput(f"{path}: no [build-system] build-backend (PEP 517) to detect")
    matches = [b for b in BACKENDS.values() if b.build_backend == entry]
    if not matches:
        known = ", ".join(sorted(b.build_backend for b in BACKENDS.values()))
        raise InvalidInput(f"{path}: unsupported build-backend {entry!r}; supported: {known}")
    name = data.get("project", {}).get("name") or data.get("tool", {}).get("poetry", {}).get("name")
    if not isinstance(name, str):
        raise InvalidInput(f"{path}: no [project] name")
    return ProjectShape(name=name, backend=matches[0], has_extension=_has_extension(root))


_COMPILED = (".c", ".cc", ".cpp", ".pyx", ".rs")
_SKIP = {"tests", "test", "build", "dist", "node_modules", "venv", "docs"}


def _has_extension(root: Path) -> bool:
    setup = root / "setup.py"
    if setup.is_file() and "ext_modules" in setup.read_text(encoding="utf-8", errors="replace"):
        return True
    for _here, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in _SKIP]
        if any(f.endswith(_COMPILED) for f in files):
            return True
    return False
