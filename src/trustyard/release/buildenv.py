"""The isolated build environment: PEP 517/518 build requirements resolved once, pinned with
hashes (``uv pip compile --generate-hashes``), installed with ``--require-hashes``, recorded.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name, canonicalize_version
from packaging.version import InvalidVersion, Version

from trustyard.atomicfiles import write_atomic
from trustyard.errors import InvalidInput
from trustyard.release.errors import BuildFailed, SourceError

__all__ = [
    "BuildEnvRecord",
    "BuildSystem",
    "EnvCache",
    "Interpreter",
    "Pin",
    "ReadyEnv",
    "backend_distribution",
    "child_env",
    "default_cache_root",
    "env_key",
    "find_interpreter",
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


def unsatisfied(
    requirements: list[str] | set[str],
    pins: tuple[Pin, ...],
    markers: Mapping[str, str] | None = None,
) -> list[str]:
    """The requirements (whose markers apply here, or under ``markers``, another interpreter's
    PEP 508 environment) that ``pins`` does not satisfy."""
    versions = {p.name: p.version for p in pins}
    missing = []
    for text in sorted(requirements):
        requirement = Requirement(text)
        environment = dict(markers) if markers is not None else None
        if requirement.marker is not None and not requirement.marker.evaluate(environment):
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


# Run by another interpreter: the facts a record, a cache key and PEP 508 markers need
# (the marker variables as PEP 508 defines them), using nothing but the standard library.
_PROBE = """
import json, os, platform, sys, sysconfig
def full(info):
    text = "%d.%d.%d" % (info.major, info.minor, info.micro)
    return text if info.releaselevel == "final" else text + info.releaselevel[0] + str(info.serial)
base = os.path.abspath(os.sep + "trustyard-base")
# The "venv" scheme (Python 3.11+): Debian's default scheme would say local/.../dist-packages.
purelib = sysconfig.get_path("purelib", "venv", vars={"base": base, "platbase": base})
print(json.dumps({
    "version": platform.python_version(),
    "implementation": platform.python_implementation(),
    "platform": sysconfig.get_platform(),
    "nodot": "%d%d" % sys.version_info[:2],
    "free_threaded": bool(sysconfig.get_config_var("Py_GIL_DISABLED")),
    "purelib": os.path.relpath(purelib, base),
    "markers": {
        "implementation_name": sys.implementation.name,
        "implementation_version": full(sys.implementation.version),
        "os_name": os.name,
        "platform_machine": platform.machine(),
        "platform_release": platform.release(),
        "platform_system": platform.system(),
        "platform_version": platform.version(),
        "python_full_version": platform.python_version(),
        "platform_python_implementation": platform.python_implementation(),
        "python_version": "%d.%d" % sys.version_info[:2],
        "sys_platform": sys.platform,
    },
}))
"""


@dataclass(frozen=True)
class Interpreter:
    """A base interpreter other than the running one, to build wheels with (found by
    :func:`find_interpreter`): where it is, and what it says about itself."""

    executable: str
    version: str
    implementation: str
    platform: str
    tag: str  # the wheel python tag it builds for: cp311, cp314t
    purelib: str  # site-packages of a venv made from it, relative to the venv
    markers: Mapping[str, str]

    def record_fields(self) -> dict[str, str]:
        """What :func:`this_interpreter` gives for the running one."""
        return {
            "python_version": self.version,
            "python_implementation": self.implementation,
            "platform": self.platform,
        }


def find_interpreter(request: str, cache_dir: Path | None = None) -> Interpreter:
    """The installed base interpreter (no virtual environment's) that ``uv python find``
    picks for ``request`` (``cpython@3.14``, ``cpython@3.14t``), never downloading one;
    :class:`BuildFailed` naming the request otherwise."""
    args = [uv_binary(), "python", "find", "--system", "--no-project", "--no-python-downloads"]
    args += ["--", request]
    result = subprocess.run(
        args, capture_output=True, text=True, env=child_env(cache_dir), check=False
    )
    executable = result.stdout.strip()
    if result.returncode != 0 or not executable:
        found = result.stderr.strip().splitlines()
        detail = next((line for line in found if line.startswith("error:")), "")
        raise BuildFailed(
            f"no installed Python interpreter matches {request} (`uv python find` never "
            f"downloads one here): install it first, e.g. `uv python install {request}`"
            + (f" ({detail.removeprefix('error: ')})" if detail else "")
        )
    output = _run(
        [executable, "-I", "-S", "-c", _PROBE], child_env(cache_dir), f"asking {executable}"
    )
    try:
        facts = json.loads(output)
        free = "t" if facts["free_threaded"] else ""
        prefix = "cp" if facts["implementation"] == "CPython" else "pp"
        return Interpreter(
            executable=executable,
            version=str(facts["version"]),
            implementation=str(facts["implementation"]),
            platform=str(facts["platform"]),
            tag=f"{prefix}{facts['nodot']}{free}",
            purelib=str(facts["purelib"]),
            markers={str(k): str(v) for k, v in facts["markers"].items()},
        )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise BuildFailed(f"{executable} did not describe itself: {output[:200]!r}") from exc


CACHE_FORMAT = 1
MARKER_NAME = "trustyard-env.json"
RESOLUTION_MAX_AGE = 600.0
"""Seconds a stored resolution is reused. PyPI serves its simple pages with ``max-age=600``,
so uv's own HTTP cache would not ask PyPI again sooner either."""


def default_cache_root() -> Path:
    """Where ready-made build venvs and resolutions live: ``$TRUSTYARD_BUILD_ENV_CACHE``, else
    ``$XDG_CACHE_HOME/trustyard/build-envs`` (``~/.cache`` when XDG_CACHE_HOME is unset)."""
    override = os.environ.get("TRUSTYARD_BUILD_ENV_CACHE")
    if override:
        return Path(override)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "trustyard" / "build-envs"


def _interpreter_identity(interpreter: Interpreter | None = None) -> dict[str, str]:
    """What a venv (and a resolution) depends on besides the pins: the base interpreter."""
    facts = this_interpreter() if interpreter is None else interpreter.record_fields()
    executable = sys.executable if interpreter is None else interpreter.executable
    return {**facts, "executable": os.path.realpath(executable), "format": str(CACHE_FORMAT)}


def _digest(document: object) -> str:
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()


def _pin_lines(pins: tuple[Pin, ...]) -> list[str]:
    """The pins in a canonical order (hash order and pin order do not change the venv)."""
    return sorted(f"{p.name}=={p.version} " + " ".join(sorted(p.hashes)) for p in pins)


def env_key(pins: tuple[Pin, ...], interpreter: Interpreter | None = None) -> str:
    """A venv's cache key: exactly these hash-pinned distributions on exactly this Python
    (or ``interpreter``)."""
    return _digest({"interpreter": _interpreter_identity(interpreter), "pins": _pin_lines(pins)})


def _venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _site_packages(venv: Path, interpreter: Interpreter | None = None) -> Path:
    if interpreter is not None:
        return venv / interpreter.purelib
    return Path(
        sysconfig.get_path("purelib", "venv", vars={"base": str(venv), "platbase": str(venv)})
    )


def _installed(venv: Path, interpreter: Interpreter | None = None) -> set[tuple[str, str]]:
    """(name, version) of every ``*.dist-info`` in the venv, read from directory names only."""
    found: set[tuple[str, str]] = set()
    site = _site_packages(venv, interpreter)
    if not site.is_dir():
        return found
    for entry in site.iterdir():
        if entry.suffix == ".dist-info" and "-" in entry.stem:
            name, version = entry.stem.rsplit("-", 1)
            found.add((str(canonicalize_name(name)), canonicalize_version(version)))
    return found


def _top_level_modules(venv: Path, interpreter: Interpreter | None = None) -> dict[str, list[str]]:
    """Import name -> distributions, as ``importlib.metadata.packages_distributions`` would
    answer inside the venv, computed here once when the venv is made (no subprocess)."""
    mapping: dict[str, set[str]] = {}
    site = _site_packages(venv, interpreter)
    for dist in importlib.metadata.distributions(path=[str(site)]):
        name = dist.metadata["Name"]
        tops = (dist.read_text("top_level.txt") or "").split()
        if not tops:
            for file in dist.files or []:
                if len(file.parts) > 1 and not file.parts[0].endswith((".dist-info", "..")):
                    tops.append(file.parts[0])
                elif len(file.parts) == 1 and file.suffix == ".py":
                    tops.append(file.stem)
        for top in tops:
            mapping.setdefault(top, set()).add(name)
    return {top: sorted(names) for top, names in sorted(mapping.items())}


@dataclass(frozen=True)
class ReadyEnv:
    """A verified build venv from the cache. It is shared, so it is only ever read."""

    path: Path
    python: str
    pins: tuple[Pin, ...]
    modules: dict[str, list[str]]


def _verified(
    venv: Path, key: str, pins: tuple[Pin, ...], interpreter: Interpreter | None = None
) -> ReadyEnv | None:
    """The venv at ``venv`` if its marker names ``key`` and these pins and its installed
    distributions are exactly the pinned ones; ``None`` for anything else (never repaired)."""
    try:
        doc = json.loads((venv / MARKER_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if (
        not isinstance(doc, dict)
        or doc.get("format") != CACHE_FORMAT
        or doc.get("key") != key
        or doc.get("pins") != _pin_lines(pins)
        or not isinstance(modules := doc.get("modules"), dict)
    ):
        return None
    python = _venv_python(venv)
    if not python.exists():
        return None
    if _installed(venv, interpreter) != {(p.name, canonicalize_version(p.version)) for p in pins}:
        return None
    return ReadyEnv(venv, str(python), pins, modules)


class EnvCache:
    """Resolutions and ready-made venvs shared by builds, keyed by what determines them.

    A resolution is keyed by the requirement set and the interpreter and reused for
    ``max_age`` seconds (never with ``refresh``); within one ``EnvCache`` a requirement set is
    resolved at most once, so both builds of ``--check`` get the same pins. A venv is keyed by
    the exact hash-pinned set and the interpreter (:func:`env_key`). It is built in a staging
    directory under ``root`` and renamed into place, so concurrent builds, in this process or
    others, either see a complete venv or none; it is verified before every use and never
    modified: a venv that fails verification is moved aside and made afresh.

    ``interpreter`` makes the venvs (and resolves) for another base interpreter than the
    running one, as ``add-wheels`` does for a new Python version.
    """

    def __init__(
        self,
        root: Path | None = None,
        uv_cache: Path | None = None,
        *,
        max_age: float = RESOLUTION_MAX_AGE,
        refresh: bool = False,
        interpreter: Interpreter | None = None,
    ) -> None:
        self.root = root if root is not None else default_cache_root()
        self.uv_cache = uv_cache
        self.max_age = max_age
        self.refresh = refresh
        self.interpreter = interpreter
        self._lock = threading.Lock()
        self._key_locks: dict[str, threading.Lock] = {}
        self._resolved: dict[str, tuple[Pin, ...]] = {}
        self._envs: dict[str, ReadyEnv] = {}

    @property
    def base_python(self) -> str:
        """The interpreter venvs are made from and resolutions are for."""
        return sys.executable if self.interpreter is None else self.interpreter.executable

    @property
    def markers(self) -> Mapping[str, str] | None:
        """The PEP 508 environment of that interpreter (``None``: the running one's)."""
        return None if self.interpreter is None else self.interpreter.markers

    def _locked(self, key: str) -> threading.Lock:
        with self._lock:
            return self._key_locks.setdefault(key, threading.Lock())

    def resolve(self, requirements: list[str]) -> tuple[Pin, ...]:
        """Hash-pinned versions for ``requirements`` (``uv pip compile``, or a fresh-enough
        stored answer to the same question)."""
        wanted = sorted(set(requirements))
        identity = _interpreter_identity(self.interpreter)
        key = _digest({"interpreter": identity, "requirements": wanted})
        with self._locked("resolve-" + key):
            if key in self._resolved:
                return self._resolved[key]
            stored = self.root / "resolutions" / f"{key}.json"
            pins = None if self.refresh else self._stored_resolution(stored, wanted)
            if pins is None:
                pins = resolve_pins(wanted, self.base_python, self.uv_cache)
                self._store_resolution(stored, wanted, pins)
            self._resolved[key] = pins
            return pins

    def _stored_resolution(self, path: Path, wanted: list[str]) -> tuple[Pin, ...] | None:
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(doc, dict) or doc.get("requirements") != wanted:
            return None
        resolved_at = doc.get("resolved_at")
        if not isinstance(resolved_at, (int, float)):
            return None
        if not 0 <= time.time() - resolved_at < self.max_age:
            return None
        problems: list[str] = []
        pins = _pins_from_json(doc.get("dependencies"), problems)
        if problems or unsatisfied(wanted, pins, self.markers):
            return None
        return pins

    def _store_resolution(self, path: Path, wanted: list[str], pins: tuple[Pin, ...]) -> None:
        document = {
            "requirements": wanted,
            "resolved_at": time.time(),
            "dependencies": [
                {"name": p.name, "version": p.version, "hashes": [f"sha256:{h}" for h in p.hashes]}
                for p in pins
            ],
        }
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(path, json.dumps(document, indent=2), mode=0o600)
        except OSError:  # a cache we cannot write only costs a later resolution
            return

    def env(self, pins: tuple[Pin, ...]) -> ReadyEnv:
        """A verified venv holding exactly ``pins``, from the cache or made now."""
        key = env_key(pins, self.interpreter)
        with self._locked("env-" + key):
            if key not in self._envs:
                final = self.root / key
                ready = _verified(final, key, pins, self.interpreter)
                self._envs[key] = ready if ready is not None else self._create(final, key, pins)
            return self._envs[key]

    def _create(self, final: Path, key: str, pins: tuple[Pin, ...]) -> ReadyEnv:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            if final.exists():  # incomplete or tampered with: out of the way, never patched
                trash = Path(tempfile.mkdtemp(prefix=".discarded-", dir=self.root))
                os.rename(final, trash / "env")
                shutil.rmtree(trash, ignore_errors=True)
            staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=self.root))
        except OSError as exc:
            raise BuildFailed(f"cannot use the build environment cache {self.root}: {exc}") from exc
        try:
            venv = staging / "env"
            env = child_env(self.uv_cache)
            uv = uv_binary()
            _run(
                [uv, "venv", "--quiet", "--relocatable", "--python", self.base_python, str(venv)],
                env,
                "creating the build venv",
            )
            requirements = staging / "build-requirements.txt"
            requirements.write_text(
                "\n".join(p.requirement_line() for p in pins) + "\n", encoding="utf-8"
            )
            _run(
                [
                    uv,
                    "pip",
                    "install",
                    "--quiet",
                    "--require-hashes",
                    "--no-deps",
                    "--compile-bytecode",  # a shared venv must not be written to on import
                    "--python",
                    str(_venv_python(venv)),
                    "-r",
                    str(requirements),
                ],
                env,
                "installing the pinned build requirements",
            )
            marker = {
                "format": CACHE_FORMAT,
                "key": key,
                "pins": _pin_lines(pins),
                "interpreter": _interpreter_identity(self.interpreter),
                "modules": _top_level_modules(venv, self.interpreter),
            }
            (venv / MARKER_NAME).write_text(json.dumps(marker, indent=2), encoding="utf-8")
            try:
                os.rename(venv, final)
            except OSError:
                if not final.exists():
                    raise
                # another build made the same venv first; use theirs (verified below)
        except OSError as exc:
            raise BuildFailed(f"cannot store the build venv in {self.root}: {exc}") from exc
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        ready = _verified(final, key, pins, self.interpreter)
        if ready is None:
            raise BuildFailed(f"the build venv {final} does not match its pins after creation")
        return ready


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
