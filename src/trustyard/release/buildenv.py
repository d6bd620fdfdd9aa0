"""The isolated build environment: PEP 517/518 build requirements resolved once, pinned with
hashes (``uv pip compile --generate-hashes``), installed with ``--require-hashes``, recorded.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from trustyard.errors import InvalidInput
from trustyard.release.errors import BuildFailed, SourceError

__all__ = [
    "BuildEnvRecord",
    "BuildSystem",
    "Pin",
    "child_env",
    "create_env",
    "read_build_system",
    "resolve_pins",
    "unsatisfied",
]

RECORD_VERSION = 1
_PIN_RE = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>\S+?)\s*\\?$")
_HASH_RE = re.compile(r"^--hash=sha256:(?P<hash>[0-9a-f]{64})\s*\\?$")
_FALLBACK_REQUIRES = ("setuptools>=40.8.0",)
_FALLBACK_BACKEND = "setuptools.build_meta:__legacy__"


@dataclass(frozen=True)
class BuildSystem:
    """A project's ``[build-system]`` table (PEP 518/517), with PEP 517's fallback applied."""

    requires: tuple[str, ...]
    backend: str
    backend_path: tuple[str, ...] = ()


@dataclass(frozen=True)
class Pin:
    """One exact build dependency and the sha256 hashes its files may have."""

    name: str
    version: str
    hashes: tuple[str, ...]

    def requirement_line(self) -> str:
        hashes = " ".join(f"--hash=sha256:{h}" for h in self.hashes)
        return f"{self.name}=={self.version} {hashes}"


@dataclass(frozen=True)
class BuildEnvRecord:
    """What ``build-env.json`` holds: enough to recreate the environment and to explain it."""

    backend: str
    backend_name: str
    backend_version: str
    requires: tuple[str, ...]
    pins: tuple[Pin, ...]
    python_version: str
    python_implementation: str
    platform: str
    source: dict[str, Any] = field(default_factory=dict)
    artifacts: tuple[dict[str, str], ...] = ()

    def to_json(self) -> str:
        document = {
            "version": RECORD_VERSION,
            "backend": {
                "name": self.backend_name,
                "version": self.backend_version,
                "entry_point": self.backend,
            },
            "build_requires": list(self.requires),
            "dependencies": [
                {"name": p.name, "version": p.version, "hashes": [f"sha256:{h}" for h in p.hashes]}
                for p in self.pins
            ],
            "python": {
                "version": self.python_version,
                "implementation": self.python_implementation,
            },
            "platform": self.platform,
            "source": self.source,
            "artifacts": list(self.artifacts),
        }
        return json.dumps(document, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str, *, origin: str = "build-env.json") -> BuildEnvRecord:
        """Parse a record; every problem is reported together."""
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"{origin} is not JSON: {exc}") from exc
        problems: list[str] = []
        if not isinstance(doc, dict):
            raise InvalidInput(f"{origin} must hold a JSON object")
        if doc.get("version") != RECORD_VERSION:
            problems.append(f"version must be {RECORD_VERSION}, not {doc.get('version')!r}")
        backend = doc.get("backend")
        if not isinstance(backend, dict) or not all(
            isinstance(backend.get(k), str) for k in ("name", "version", "entry_point")
        ):
            problems.append("backend must be an object with string name, version and entry_point")
            backend = {"name": "", "version": "", "entry_point": ""}
        requires = doc.get("build_requires")
        if not isinstance(requires, list) or not all(isinstance(r, str) for r in requires):
            problems.append("build_requires must be a list of strings")
            requires = []
        pins = _pins_from_json(doc.get("dependencies"), problems)
        python = doc.get("python")
        if not isinstance(python, dict) or not isinstance(python.get("version"), str):
            problems.append("python must be an object with a string version")
            python = {"version": "", "implementation": ""}
        if not isinstance(doc.get("platform"), str):
            problems.append("platform must be a string")
        if problems:
            raise InvalidInput(
                f"{origin} is not a valid build environment record: " + "; ".join(problems)
            )
        return cls(
            backend=backend["entry_point"],
            backend_name=backend["name"],
            backend_version=backend["version"],
            requires=tuple(requires),
            pins=pins,
            python_version=python["version"],
            python_implementation=str(python.get("implementation", "")),
            platform=doc["platform"],
            source=source if isinstance(source := doc.get("source"), dict) else {},
            artifacts=tuple(a for a in doc.get("artifacts", []) if isinstance(a, dict)),
        )


def _pins_from_json(value: object, problems: list[str]) -> tuple[Pin, ...]:
    if not isinstance(value, list) or not value:
        problems.append("dependencies must be a non-empty list")
        return ()
    pins: list[Pin] = []
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            problems.append(f"dependencies[{index}] must be an object")
            continue
        name, version, hashes = item.get("name"), item.get("version"), item.get("hashes")
        if not isinstance(name, str) or not isinstance(version, str):
            problems.append(f"dependencies[{index}] needs a string name and version")
            continue
        if not isinstance(hashes, list) or not hashes:
            problems.append(f"dependencies[{index}] ({name}) has no hashes")
            continue
        digests = []
        for digest in hashes:
            if not isinstance(digest, str) or not re.fullmatch(r"sha256:[0-9a-f]{64}", digest):
                problems.append(f"dependencies[{index}] ({name}) has a bad hash {digest!r}")
            else:
                digests.append(digest.removeprefix("sha256:"))
        pins.append(Pin(name, version, tuple(digests)))
    return tuple(pins)


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


def uv_binary() -> str:
    """uv, found next to this interpreter or on PATH."""
    beside = Path(sys.executable).parent / "uv"
    if beside.exists():
        return str(beside)
    found = shutil.which("uv")
    if found is None:
        raise BuildFailed("trustyard build needs uv (https://docs.astral.sh/uv/) on PATH")
    return found


def child_env(cache_dir: Path | None, **extra: str) -> dict[str, str]:
    """The environment of every installer and backend we start: none of the machine's
    ``PIP_*``/``UV_*``/``PYTHON*`` settings (they would change what resolves or builds)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PIP_", "UV_", "PYTHON", "VIRTUAL_ENV"))
    }
    env.update(
        {
            "UV_NO_CONFIG": "1",
            "UV_PYTHON_DOWNLOADS": "never",
            "UV_NO_PROGRESS": "1",
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            "PIP_CONFIG_FILE": os.devnull,
        }
    )
    if cache_dir is not None:
        env["UV_CACHE_DIR"] = str(cache_dir)
    elif "UV_CACHE_DIR" in os.environ:  # where the cache lives cannot change what is built
        env["UV_CACHE_DIR"] = os.environ["UV_CACHE_DIR"]
    env.update(extra)
    return env


def _run(args: list[str], env: dict[str, str], what: str, stdin: str | None = None) -> str:
    result = subprocess.run(args, input=stdin, capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        raise BuildFailed(f"{what} failed (exit {result.returncode}):\n{result.stderr.strip()}")
    return result.stdout


def resolve_pins(requirements: list[str], python: str, cache_dir: Path | None) -> tuple[Pin, ...]:
    """Resolve ``requirements`` for ``python`` to exact versions with every file's sha256."""
    output = _run(
        [
            uv_binary(),
            "pip",
            "compile",
            "-",
            "--generate-hashes",
            "--no-header",
            "--no-annotate",
            "--python",
            python,
            "--quiet",
        ],
        child_env(cache_dir),
        "resolving the build requirements (" + ", ".join(requirements) + ")",
        stdin="\n".join(requirements) + "\n",
    )
    pins: list[Pin] = []
    name = version = ""
    hashes: list[str] = []
    for raw_line in output.splitlines():
        line = raw_line.strip()
        if not line or line.startswith("#"):
            continue
        if pin := _PIN_RE.match(line):
            if name:
                pins.append(Pin(name, version, tuple(hashes)))
            name, version, hashes = str(canonicalize_name(pin["name"])), pin["version"], []
        elif digest := _HASH_RE.match(line):
            hashes.append(digest["hash"])
        else:
            raise BuildFailed(f"unexpected line from uv pip compile: {line!r}")
    if name:
        pins.append(Pin(name, version, tuple(hashes)))
    unhashed = [p.name for p in pins if not p.hashes]
    if unhashed:
        raise BuildFailed("build requirements without hashes: " + ", ".join(unhashed))
    return tuple(pins)


def create_env(directory: Path, pins: tuple[Pin, ...], cache_dir: Path | None) -> str:
    """A fresh venv at ``directory`` holding exactly ``pins``; returns its interpreter."""
    env = child_env(cache_dir)
    uv = uv_binary()
    _run(
        [uv, "venv", "--quiet", "--python", sys.executable, str(directory)],
        env,
        "creating the build venv",
    )
    python = str(directory / ("Scripts/python.exe" if os.name == "nt" else "bin/python"))
    requirements = directory / "build-requirements.txt"
    requirements.write_text("\n".join(p.requirement_line() for p in pins) + "\n", encoding="utf-8")
    _run(
        [
            uv,
            "pip",
            "install",
            "--quiet",
            "--require-hashes",
            "--no-deps",
            "--python",
            python,
            "-r",
            str(requirements),
        ],
        env,
        "installing the pinned build requirements",
    )
    return python


def unsatisfied(requirements: list[str] | set[str], pins: tuple[Pin, ...]) -> list[str]:
    """The requirements (whose markers apply here) that ``pins`` does not satisfy."""
    versions = {p.name: p.version for p in pins}
    missing = []
    for text in sorted(requirements):
        requirement = Requirement(text)
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        pinned = versions.get(canonicalize_name(requirement.name))
        try:
            ok = pinned is not None and requirement.specifier.contains(
                Version(pinned), prereleases=True
            )
        except InvalidVersion:
            ok = False
        if not ok:
            missing.append(text)
    return missing


def this_interpreter() -> dict[str, str]:
    """Python version, implementation and platform tag, for the record."""
    return {
        "python_version": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "platform": sysconfig.get_platform(),
    }


def backend_distribution(python: str, backend: str, pins: tuple[Pin, ...]) -> tuple[str, str]:
    """The distribution (name, version) that provides the backend module, asked of the venv."""
    top = backend.split(":", 1)[0].split(".", 1)[0]
    script = (
        "import importlib.metadata as m, json, sys\n"
        f"print(json.dumps(m.packages_distributions().get({top!r}, [])))\n"
    )
    names = json.loads(
        _run([python, "-c", script], child_env(None), "finding the backend's distribution")
    )
    versions = {p.name: p.version for p in pins}
    for name in names:
        if canonicalize_name(name) in versions:
            return str(canonicalize_name(name)), versions[canonicalize_name(name)]
    return top, "in-tree" if names == [] else "unknown"


def __dir__() -> list[str]:
    return __all__
