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
    """A build backend: its distribution, its PEP 517 entry point and its lock files.

    ``extension_hook`` is the in-tree file through which the backend compiles a C extension,
    by the backend's own documented mechanism (``None``: the backend cannot build one), and
    ``extension_requires`` what that file needs besides the backend (setuptools' ``build_ext``
    does the compiling for every backend here).
    """

    name: str
    distribution: str
    build_backend: str
    extension_hook: str | None = None
    extension_requires: tuple[str, ...] = ()

    @property
    def can_build_extensions(self) -> bool:
        return self.extension_hook is not None

    @property
    def lock_name(self) -> str:
        return f"build-{self.distribution}.txt"

    def lock_name_for(self, *, extension: bool) -> str:
        """The build lock of a pure project, or of an extension project (with its helpers)."""
        if extension and self.extension_requires:
            return f"build-{self.distribution}-ext.txt"
        return self.lock_name

    def lock_text(self, *, extension: bool = False) -> str:
        """The hash-pinned build lock shipped with trustyard: build, the backend [, helpers]."""
        name = self.lock_name_for(extension=extension)
        return locks_dir().joinpath(name).read_text(encoding="utf-8")

    def pinned_version(self, distribution: str | None = None, *, extension: bool = False) -> str:
        """A distribution's version in the lock (default: the backend's): ``requires`` pins it."""
        wanted = distribution or self.distribution
        match = re.search(
            rf"^{re.escape(wanted)}==(\S+)", self.lock_text(extension=extension), re.MULTILINE
        )
        if match is None:
            raise InvalidInput(
                f"lock {self.lock_name_for(extension=extension)} does not pin {wanted}"
            )
        return match.group(1)

    def build_requires(self, *, extension: bool) -> list[str]:
        """``[build-system] requires``: the backend (and an extension's helpers), all ``==``."""
        names = [self.distribution, *(self.extension_requires if extension else ())]
        return [f"{n}=={self.pinned_version(n, extension=extension)}" for n in names]


# How each backend builds a C extension, from its own documentation:
# - setuptools: ``ext_modules`` in ``setup.py``
#   (https://setuptools.pypa.io/en/latest/userguide/ext_modules.html);
# - hatchling: a custom build hook, ``hatch_build.py`` enabled by
#   ``[tool.hatch.build.targets.wheel.hooks.custom]``
#   (https://hatch.pypa.io/latest/plugins/build-hook/custom/); the hook sets
#   ``build_data["pure_python"] = False`` and ``build_data["infer_tag"] = True``
#   (https://hatch.pypa.io/latest/plugins/builder/wheel/#build-data) and compiles with
#   setuptools' ``build_ext``;
# - pdm-backend: ``pdm_build.py`` with ``pdm_build_update_setup_kwargs`` adding setuptools
#   ``ext_modules``, and ``[tool.pdm.build] run-setuptools = true``
#   (https://backend.pdm-project.org/build_config/#run-setuptools);
# - poetry-core: a build script, ``[tool.poetry.build] script = ...`` with
#   ``generate-setup-file = false``
#   (https://python-poetry.org/docs/pyproject/#build); the script here compiles in place
#   with setuptools' ``build_ext``;
# - flit-core packages pure-Python modules and packages only and has no build-hook mechanism
#   (https://flit.pypa.io/en/stable/), and "the uv build backend currently only supports pure
#   Python code" (https://docs.astral.sh/uv/concepts/build-backend/): no extension hook.
BACKENDS: dict[str, Backend] = {
    b.name: b
    for b in (
        Backend("hatchling", "hatchling", "hatchling.build", "hatch_build.py", ("setuptools",)),
        Backend("setuptools", "setuptools", "setuptools.build_meta", "setup.py"),
        Backend("flit", "flit-core", "flit_core.buildapi"),
        Backend("pdm", "pdm-backend", "pdm.backend", "pdm_build.py", ("setuptools",)),
        Backend(
            "poetry",
            "poetry-core",
            "poetry.core.masonry.api",
            "build_extension.py",
            ("setuptools",),
        ),
        Backend("uv", "uv-build", "uv_build"),
    )
}


def extension_backends() -> list[str]:
    """The backends that can build a C extension module."""
    return [b.name for b in BACKENDS.values() if b.can_build_extensions]


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
