"""Build an sdist from a git commit, then the wheel from that sdist (as pip does), through the
PEP 517 backend in a hash-pinned isolated environment, and normalise both outputs.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ParamSpec, TypeVar

import build as pypa_build

from trustyard.release.buildenv import (
    BuildEnvRecord,
    Pin,
    backend_distribution,
    child_env,
    create_env,
    read_build_system,
    resolve_pins,
    this_interpreter,
    unsatisfied,
)
from trustyard.release.errors import BuildFailed, SourceError
from trustyard.release.normalize import normalize_archive, record_problems
from trustyard.release.source import SourceTree, export_tree

__all__ = [
    "ENV_RECORD_NAME",
    "BuildOptions",
    "BuildResult",
    "Conditions",
    "Progress",
    "build_release",
    "sha256_of",
]

Progress = Callable[[str], None]
_P = ParamSpec("_P")
_R = TypeVar("_R")
ENV_RECORD_NAME = "build-env.json"


@dataclass(frozen=True)
class Conditions:
    """What may vary between two builds of one commit without changing the bytes.

    ``tz``/``lang`` of ``None`` keep the caller's; ``start_delay`` shifts the wall clock the
    build starts at (libfaketime is not assumed to exist).
    """

    label: str = "build"
    umask: int = 0o022
    tz: str | None = None
    lang: str | None = None
    start_delay: float = 0.0

    def environment(self) -> dict[str, str]:
        env: dict[str, str] = {}
        if self.tz is not None:
            env["TZ"] = self.tz
        if self.lang is not None:
            env["LANG"] = env["LC_ALL"] = self.lang
        return env


@dataclass(frozen=True)
class BuildOptions:
    """Where the source is, which commit, and how to get the build environment.

    ``env_record`` rebuilds with a recorded environment instead of resolving a new one;
    ``cache_dir`` is uv's cache (``None``: uv's default).
    """

    project: Path
    ref: str = "HEAD"
    allow_dirty: bool = False
    env_record: BuildEnvRecord | None = None
    cache_dir: Path | None = None


@dataclass(frozen=True)
class BuildResult:
    """The normalised artifacts (sdist first), the backend's raw outputs, and the record."""

    artifacts: tuple[Path, ...]
    raw: Mapping[str, Path]
    record: BuildEnvRecord
    source: SourceTree
    record_path: Path
    steps: tuple[str, ...] = field(default=())


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def build_release(
    options: BuildOptions,
    out_dir: Path,
    work: Path,
    conditions: Conditions = Conditions(),
    progress: Progress | None = None,
) -> BuildResult:
    """Build ``options.ref`` of ``options.project`` into ``out_dir``; ``work`` is scratch space
    the caller owns (the raw outputs stay there for comparisons)."""
    say = progress or (lambda _step: None)
    if conditions.start_delay:
        time.sleep(conditions.start_delay)
    work.mkdir(parents=True, exist_ok=True)
    say(f"exporting {options.ref} from git")
    source = export_tree(
        options.project,
        options.ref,
        work / "source",
        allow_dirty=options.allow_dirty,
        umask=conditions.umask,
    )
    system = read_build_system(source.path)
    pins = _initial_pins(options, list(system.requires))
    say(
        "creating the build environment (" + ", ".join(f"{p.name}=={p.version}" for p in pins) + ")"
    )
    env = _Environment(options, conditions, work, source.source_date_epoch)
    python = env.create(pins)

    builder = env.builder(source.path, python)
    extra = set(_hook(builder.get_requires_for_build, "sdist"))
    if unsatisfied(extra, pins):
        pins, python = env.grow(pins, system.requires, extra)
        builder = env.builder(source.path, python)

    say("building the sdist")
    raw_dir = work / "raw"
    raw_sdist = Path(_hook(builder.build, "sdist", str(raw_dir)))
    out_dir.mkdir(parents=True, exist_ok=True)
    sdist = normalize_archive(raw_sdist, out_dir / raw_sdist.name, source.source_date_epoch)

    say("building the wheel from the sdist")
    unpacked = _unpack_sdist(sdist, work / "from-sdist", conditions.umask)
    builder = env.builder(unpacked, python)
    extra_wheel = set(_hook(builder.get_requires_for_build, "wheel"))
    if unsatisfied(extra_wheel, pins):
        pins, python = env.grow(pins, system.requires, extra | extra_wheel)
        builder = env.builder(unpacked, python)
    raw_wheel = Path(_hook(builder.build, "wheel", str(raw_dir)))
    wheel = normalize_archive(raw_wheel, out_dir / raw_wheel.name, source.source_date_epoch)
    problems = record_problems(wheel)
    if problems:
        raise BuildFailed(f"{wheel.name} has an invalid RECORD: " + "; ".join(problems))

    backend_name, backend_version = backend_distribution(python, system.backend, pins)
    artifacts = (sdist, wheel)
    record = BuildEnvRecord(
        backend=system.backend,
        backend_name=backend_name,
        backend_version=backend_version,
        requires=system.requires,
        pins=pins,
        **this_interpreter(),
        source={
            "commit": source.commit,
            "ref": options.ref,
            "source_date_epoch": source.source_date_epoch,
        },
        artifacts=tuple({"filename": p.name, "sha256": sha256_of(p)} for p in artifacts),
    )
    record_path = out_dir / ENV_RECORD_NAME
    record_path.write_text(record.to_json(), encoding="utf-8")
    say("done")
    return BuildResult(
        artifacts=artifacts,
        raw={sdist.name: raw_sdist, wheel.name: raw_wheel},
        record=record,
        source=source,
        record_path=record_path,
    )


def _initial_pins(options: BuildOptions, requires: list[str]) -> tuple[Pin, ...]:
    if options.env_record is None:
        return resolve_pins(requires, _python(), options.cache_dir)
    missing = unsatisfied(requires, options.env_record.pins)
    if missing:
        raise BuildFailed(
            "the recorded build environment does not satisfy [build-system] requires: "
            + ", ".join(missing)
        )
    return options.env_record.pins


def _python() -> str:
    return sys.executable


class _Environment:
    """The venv of one build, and the runner that starts the backend in it."""

    def __init__(
        self, options: BuildOptions, conditions: Conditions, work: Path, epoch: int
    ) -> None:
        self.options = options
        self.conditions = conditions
        self.work = work
        flags = f"-ffile-prefix-map={work.resolve()}=/trustyard-build"
        self.env = child_env(
            options.cache_dir,
            SOURCE_DATE_EPOCH=str(epoch),
            PYTHONHASHSEED="0",
            CFLAGS=f"{os.environ.get('CFLAGS', '')} {flags}".strip(),
            CXXFLAGS=f"{os.environ.get('CXXFLAGS', '')} {flags}".strip(),
            **conditions.environment(),
        )
        self.generation = 0

    def create(self, pins: tuple[Pin, ...]) -> str:
        directory = self.work / f"env{self.generation}"
        self.generation += 1
        return create_env(directory, pins, self.options.cache_dir)

    def grow(
        self, pins: tuple[Pin, ...], requires: Sequence[str], extra: set[str]
    ) -> tuple[tuple[Pin, ...], str]:
        """The backend asks for more (PEP 517 ``get_requires_for_build_*``): resolve again."""
        if self.options.env_record is not None:
            raise BuildFailed(
                "the recorded build environment lacks what the backend asks for: "
                + ", ".join(unsatisfied(extra, pins))
            )
        new_pins = resolve_pins([*requires, *sorted(extra)], _python(), self.options.cache_dir)
        return new_pins, self.create(new_pins)

    def builder(self, source: Path, python: str) -> pypa_build.ProjectBuilder:
        return pypa_build.ProjectBuilder(source, python_executable=python, runner=self._run)

    def _run(
        self,
        cmd: Sequence[str],
        cwd: str | None = None,
        extra_environ: Mapping[str, str] | None = None,
    ) -> None:
        env = {**self.env, **(extra_environ or {})}
        result = subprocess.run(
            list(cmd),
            cwd=cwd,
            env=env,
            umask=self.conditions.umask,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise subprocess.CalledProcessError(
                result.returncode, cmd, output=result.stdout, stderr=result.stderr
            )


def _hook(call: Callable[_P, _R], *args: _P.args, **kwargs: _P.kwargs) -> _R:
    """Call a PEP 517 hook through ``build``; its failures become :class:`BuildFailed`."""
    try:
        return call(*args, **kwargs)
    except pypa_build.BuildBackendException as exc:
        cause = exc.exception
        output = ""
        if isinstance(cause, subprocess.CalledProcessError):
            output = "\n".join(
                part.strip()[-4000:] for part in (cause.stdout or "", cause.stderr or "") if part
            )
        raise BuildFailed(f"the build backend failed: {exc}\n{output}".strip()) from exc
    except pypa_build.BuildException as exc:
        raise BuildFailed(f"the build failed: {exc}") from exc


def _unpack_sdist(sdist: Path, dest: Path, umask: int) -> Path:
    """Unpack like pip: the single top-level directory is the project to build the wheel of."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    try:
        with tarfile.open(sdist, "r:gz") as archive:
            archive.extractall(dest, filter="data")
    except (OSError, tarfile.TarError) as exc:
        raise BuildFailed(f"cannot unpack {sdist.name}: {exc}") from exc
    tops = [p for p in dest.iterdir() if p.is_dir()]
    if len(tops) != 1:
        raise SourceError(f"{sdist.name} must hold exactly one top-level directory")
    for path in [tops[0], *tops[0].rglob("*")]:
        if not path.is_symlink():
            executable = path.is_dir() or bool(path.stat().st_mode & 0o111)
            path.chmod((0o777 if executable else 0o666) & ~umask)
    return tops[0]


def __dir__() -> list[str]:
    return __all__
