"""The build environment cache: resolutions and ready-made venvs shared by builds, keyed by
what determines them, verified before every use and never modified."""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import shutil
import sys
import sysconfig
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from packaging.utils import canonicalize_name, canonicalize_version

from trustyard.atomicfiles import write_atomic
from trustyard.release.buildenv.interpreters import Interpreter, this_interpreter
from trustyard.release.buildenv.pins import (
    Pin,
    exclude_newer_text,
    pins_from_json,
    pins_to_json,
    resolve_pins,
    unsatisfied,
)
from trustyard.release.buildenv.uv import child_env, run_tool, uv_binary
from trustyard.release.errors import BuildFailed

__all__ = [
    "CACHE_FORMAT",
    "MARKER_NAME",
    "RESOLUTION_MAX_AGE",
    "EnvCache",
    "ReadyEnv",
    "default_cache_root",
    "env_key",
]


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
    running one, as ``add-wheels`` does for a new Python version. ``exclude_newer`` and
    ``constraints`` shape every resolution (:func:`~.pins.resolve_pins`) and are part of its
    key; venvs depend only on the pins they hold, so builds that resolve alike share them.
    """

    def __init__(
        self,
        root: Path | None = None,
        uv_cache: Path | None = None,
        *,
        max_age: float = RESOLUTION_MAX_AGE,
        refresh: bool = False,
        interpreter: Interpreter | None = None,
        exclude_newer: datetime | None = None,
        constraints: tuple[str, ...] = (),
    ) -> None:
        self.root = root if root is not None else default_cache_root()
        self.uv_cache = uv_cache
        self.max_age = max_age
        self.refresh = refresh
        self.interpreter = interpreter
        self.exclude_newer = exclude_newer
        self.constraints = constraints
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
        question = self._question(wanted)
        key = _digest({"interpreter": identity, **question})
        with self._locked("resolve-" + key):
            if key in self._resolved:
                return self._resolved[key]
            stored = self.root / "resolutions" / f"{key}.json"
            pins = None if self.refresh else self._stored_resolution(stored, wanted)
            if pins is None:
                pins = resolve_pins(
                    wanted,
                    self.base_python,
                    self.uv_cache,
                    exclude_newer=self.exclude_newer,
                    constraints=self.constraints,
                )
                self._store_resolution(stored, wanted, pins)
            self._resolved[key] = pins
            return pins

    def _question(self, wanted: list[str]) -> dict[str, object]:
        """What a resolution answers besides the interpreter. The cut-off and the constraints
        are left out when unset, so resolutions stored before they existed keep their keys."""
        question: dict[str, object] = {"requirements": wanted}
        if self.exclude_newer is not None:
            question["exclude_newer"] = exclude_newer_text(self.exclude_newer)
        if self.constraints:
            question["constraints"] = sorted(set(self.constraints))
        return question

    def _stored_resolution(self, path: Path, wanted: list[str]) -> tuple[Pin, ...] | None:
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        question = self._question(wanted)
        if not isinstance(doc, dict) or any(doc.get(k) != v for k, v in question.items()):
            return None
        resolved_at = doc.get("resolved_at")
        if not isinstance(resolved_at, (int, float)):
            return None
        if not 0 <= time.time() - resolved_at < self.max_age:
            return None
        problems: list[str] = []
        pins = pins_from_json(doc.get("dependencies"), problems)
        if problems or unsatisfied(wanted, pins, self.markers):
            return None
        return pins

    def _store_resolution(self, path: Path, wanted: list[str], pins: tuple[Pin, ...]) -> None:
        document = {
            **self._question(wanted),
            "resolved_at": time.time(),
            "dependencies": pins_to_json(pins),
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
            run_tool(
                [uv, "venv", "--quiet", "--relocatable", "--python", self.base_python, str(venv)],
                env,
                "creating the build venv",
            )
            requirements = staging / "build-requirements.txt"
            requirements.write_text(
                "\n".join(p.requirement_line() for p in pins) + "\n", encoding="utf-8"
            )
            run_tool(
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


def __dir__() -> list[str]:
    return __all__
