"""Pin resolution: build requirements resolved to exact versions with every file's sha256
(``uv pip compile --generate-hashes``), and ``build-env.json``, the record of them."""

from __future__ import annotations

import contextlib
import json
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from trustyard.errors import InvalidInput
from trustyard.release.buildenv.uv import child_env, run_tool, uv_binary
from trustyard.release.errors import BuildFailed

__all__ = [
    "RECORD_VERSION",
    "BuildEnvRecord",
    "Pin",
    "exclude_newer_text",
    "pins_from_json",
    "pins_to_json",
    "resolve_pins",
    "unsatisfied",
]

RECORD_VERSION = 1
_PIN_RE = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>\S+?)\s*\\?$")
_HASH_RE = re.compile(r"^--hash=sha256:(?P<hash>[0-9a-f]{64})\s*\\?$")


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
            "dependencies": pins_to_json(self.pins),
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
        pins = pins_from_json(doc.get("dependencies"), problems)
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


def pins_to_json(pins: tuple[Pin, ...]) -> list[dict[str, Any]]:
    """The ``dependencies`` of a record (and of a stored resolution)."""
    return [
        {"name": p.name, "version": p.version, "hashes": [f"sha256:{h}" for h in p.hashes]}
        for p in pins
    ]


def pins_from_json(value: object, problems: list[str]) -> tuple[Pin, ...]:
    """The inverse of :func:`pins_to_json`; what is wrong is added to ``problems``."""
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


def exclude_newer_text(cutoff: datetime) -> str:
    """``cutoff`` as uv's ``--exclude-newer`` takes it (RFC 3339, UTC)."""
    if cutoff.tzinfo is None:
        raise ValueError("the resolution cut-off needs a time zone")
    return cutoff.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def resolve_pins(
    requirements: list[str],
    python: str,
    cache_dir: Path | None,
    *,
    exclude_newer: datetime | None = None,
    constraints: tuple[str, ...] = (),
) -> tuple[Pin, ...]:
    """Resolve ``requirements`` for ``python`` to exact versions with every file's sha256.

    ``exclude_newer`` resolves as the index stood at that time (uv ignores files uploaded
    later); ``constraints`` (``flit-core==3.7.1``) narrow the versions that may be chosen
    without adding requirements. Both serve to rebuild a release as it was built then.
    """
    args = [uv_binary(), "pip", "compile", "-", "--generate-hashes", "--no-header"]
    args += ["--no-annotate", "--python", python, "--quiet"]
    if exclude_newer is not None:
        args += ["--exclude-newer", exclude_newer_text(exclude_newer)]
    with contextlib.ExitStack() as stack:  # a scratch directory only when there are constraints
        if constraints:
            scratch = stack.enter_context(tempfile.TemporaryDirectory(prefix="trustyard-pins-"))
            path = Path(scratch) / "constraints.txt"
            path.write_text("\n".join(constraints) + "\n", encoding="utf-8")
            args += ["--constraints", str(path)]
        output = run_tool(
            args,
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


def __dir__() -> list[str]:
    return __all__
