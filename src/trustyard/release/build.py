"""Build an sdist from a git commit, then the wheel from that sdist (as pip does), through the
PEP 517 backend in a hash-pinned isolated environment, and normalise both outputs.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import tarfile
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import pyproject_hooks

from trustyard.dists.extract import extract_tar
from trustyard.release.buildenv.cache import EnvCache, ReadyEnv
from trustyard.release.buildenv.interpreters import this_interpreter
from trustyard.release.buildenv.pins import BuildEnvRecord, Pin, unsatisfied
from trustyard.release.buildenv.scm import version_from_git
from trustyard.release.buildenv.system import BuildSystem, backend_distribution, read_build_system
from trustyard.release.buildenv.uv import child_env
from trustyard.release.errors import BuildFailed, SourceError
from trustyard.release.normalize import (
    NormalSdist,
    gzip_sdist,
    normal_sdist,
    normalize_checked_wheel,
)
from trustyard.release.sdist_tree import adopt_export
from trustyard.release.source import SourceTree, export_tree

__all__ = [
    "ENV_RECORD_NAME",
    "BuildOptions",
    "BuildResult",
    "Conditions",
    "Progress",
    "build_release",
    "build_wheel_from_sdist",
    "call_hook",
    "sha256_of",
    "unpack_sdist",
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
    ``cache_dir`` is uv's cache (``None``: uv's default); ``envs`` holds resolutions and
    ready-made venvs (``None``: a fresh :class:`EnvCache` over the default cache directory).
    Builds given the same ``envs`` share its in-process memo: ``--check`` resolves once.
    """

    project: Path
    ref: str = "HEAD"
    allow_dirty: bool = False
    env_record: BuildEnvRecord | None = None
    cache_dir: Path | None = None
    envs: EnvCache | None = field(default=None, compare=False)

    def env_cache(self) -> EnvCache:
        return self.envs if self.envs is not None else EnvCache(uv_cache=self.cache_dir)


@dataclass(frozen=True)
class BuildResult:
    """The normalised artifacts (sdist first), the backend's raw outputs, and the record.
    ``source.path`` is where the export was: it became the wheel's source tree."""

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
    git_version = version_from_git(source.path, system.requires, source.tag, source.commit)
    envs = options.env_cache()
    pins = _initial_pins(options, envs, list(system.requires))
    say(
        "preparing the build environment ("
        + ", ".join(f"{p.name}=={p.version}" for p in pins)
        + ")"
    )
    env = _Environment(
        options,
        envs,
        conditions,
        work,
        source.source_date_epoch,
        version_env=git_version.environment() if git_version else {},
    )
    python = env.create(pins)

    builder = env.builder(source.path, python, system)
    extra = set(_hook(builder.get_requires_for_build_sdist))
    if unsatisfied(extra, pins, envs.markers):
        pins, python = env.grow(pins, system.requires, extra)
        builder = env.builder(source.path, python, system)

    say("building the sdist")
    raw_dir = work / "raw"
    raw_dir.mkdir(parents=True, exist_ok=True)
    raw_sdist = raw_dir / _hook(builder.build_sdist, str(raw_dir))
    out_dir.mkdir(parents=True, exist_ok=True)
    sdist = out_dir / raw_sdist.name
    normal = normal_sdist(raw_sdist, source.source_date_epoch)

    say("building the wheel from the sdist")
    # The sdist is compressed (gzip level 9: seconds for a large one) on a worker thread
    # while the wheel is built from the same members, which is what unpacking the written
    # file would give.
    with ThreadPoolExecutor(1, thread_name_prefix="trustyard-sdist") as compressor:
        written = compressor.submit(_write_sdist, normal.tar, sdist, source.source_date_epoch)
        unpacked = _tree_for_wheel(source, normal, sdist.name, work / "from-sdist", conditions)
        wheel, raw_wheel, pins = _wheel_of(
            env,
            unpacked,
            pins=pins,
            python=python,
            requires=system.requires,
            extra=extra,
            out_dir=out_dir,
        )
        sdist_sha256 = written.result()

    backend_name, backend_version = backend_distribution(env.ready, system.backend)
    artifacts = (sdist, wheel)
    record = BuildEnvRecord(
        backend=system.backend,
        backend_name=backend_name,
        backend_version=backend_version,
        requires=system.requires,
        pins=pins,
        **_interpreter_fields(envs),
        source={
            "commit": source.commit,
            "ref": options.ref,
            "source_date_epoch": source.source_date_epoch,
            **({"version_from_git": git_version.record()} if git_version else {}),
        },
        artifacts=(
            {"filename": sdist.name, "sha256": sdist_sha256},
            {"filename": wheel.name, "sha256": sha256_of(wheel)},
        ),
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


def build_wheel_from_sdist(
    sdist: Path,
    options: BuildOptions,
    out_dir: Path,
    work: Path,
    *,
    source: Mapping[str, Any],
    record_name: str,
    progress: Progress | None = None,
) -> BuildResult:
    """Build the wheel of a given sdist (one downloaded from an index, say) as pip would:
    unpacked, with its own ``[build-system]``, in the environment of ``options`` (its
    ``env_record``, and its ``envs`` whose interpreter may be another Python than this one).

    ``source`` (``commit``, ``ref``, ``source_date_epoch``, which the backend gets as
    ``SOURCE_DATE_EPOCH``) goes into the record written as ``out_dir/record_name``.
    """
    say = progress or (lambda _step: None)
    epoch = source.get("source_date_epoch")
    if not isinstance(epoch, int):
        raise BuildFailed("building a wheel needs the source's SOURCE_DATE_EPOCH")
    work.mkdir(parents=True, exist_ok=True)
    unpacked = _unpack_sdist(sdist, work / "from-sdist", Conditions().umask)
    system = read_build_system(unpacked)
    envs = options.env_cache()
    pins = _initial_pins(options, envs, list(system.requires))
    base = envs.interpreter.executable if envs.interpreter else "this Python"
    say(f"preparing the build environment for {base}")
    env = _Environment(options, envs, Conditions(), work, epoch)
    python = env.create(pins)
    say(f"building the wheel of {sdist.name}")
    out_dir.mkdir(parents=True, exist_ok=True)
    wheel, raw_wheel, pins = _wheel_of(
        env,
        unpacked,
        pins=pins,
        python=python,
        requires=system.requires,
        extra=set(),
        out_dir=out_dir,
    )
    backend_name, backend_version = backend_distribution(env.ready, system.backend)
    record = BuildEnvRecord(
        backend=system.backend,
        backend_name=backend_name,
        backend_version=backend_version,
        requires=system.requires,
        pins=pins,
        **_interpreter_fields(envs),
        source=dict(source),
        artifacts=({"filename": wheel.name, "sha256": sha256_of(wheel)},),
    )
    record_path = out_dir / record_name
    record_path.write_text(record.to_json(), encoding="utf-8")
    tree = SourceTree(unpacked, str(source.get("commit", "")), epoch)
    return BuildResult((wheel,), {wheel.name: raw_wheel}, record, tree, record_path)


def _interpreter_fields(envs: EnvCache) -> dict[str, str]:
    """Python version, implementation and platform of the interpreter that built, for the record."""
    return envs.interpreter.record_fields() if envs.interpreter else this_interpreter()


def _wheel_of(
    env: _Environment,
    unpacked: Path,
    *,
    pins: tuple[Pin, ...],
    python: str,
    requires: Sequence[str],
    extra: set[str],
    out_dir: Path,
) -> tuple[Path, Path, tuple[Pin, ...]]:
    """The normalised wheel of an unpacked sdist, its raw form, and the pins it took."""
    system = read_build_system(unpacked)  # the sdist's own [build-system], as pip
    builder = env.builder(unpacked, python, system)
    extra_wheel = set(_hook(builder.get_requires_for_build_wheel))
    if unsatisfied(extra_wheel, pins, env.envs.markers):
        pins, python = env.grow(pins, requires, extra | extra_wheel)
        builder = env.builder(unpacked, python, system)
    raw_dir = env.work / "raw"
    raw_dir.mkdir(parents=True, exist_ok=True)
    raw_wheel = raw_dir / _hook(builder.build_wheel, str(raw_dir))
    wheel = out_dir / raw_wheel.name
    problems = normalize_checked_wheel(raw_wheel, wheel, env.epoch)
    if problems:
        raise BuildFailed(f"{wheel.name} has an invalid RECORD: " + "; ".join(problems))
    return wheel, raw_wheel, pins


def _initial_pins(options: BuildOptions, envs: EnvCache, requires: list[str]) -> tuple[Pin, ...]:
    if options.env_record is None:
        return envs.resolve(requires)
    missing = unsatisfied(requires, options.env_record.pins, envs.markers)
    if missing:
        raise BuildFailed(
            "the recorded build environment does not satisfy [build-system] requires: "
            + ", ".join(missing)
        )
    return options.env_record.pins


class _Environment:
    """The (cached, shared, read-only) venv of one build, and the runner that starts the
    backend in it under this build's conditions."""

    def __init__(
        self,
        options: BuildOptions,
        envs: EnvCache,
        conditions: Conditions,
        work: Path,
        epoch: int,
        *,
        version_env: Mapping[str, str] | None = None,
    ) -> None:
        self.options = options
        self.envs = envs
        self.conditions = conditions
        self.work = work
        self.epoch = epoch
        flags = f"-ffile-prefix-map={work.resolve()}=/trustyard-build"
        self.env = child_env(
            options.cache_dir,
            SOURCE_DATE_EPOCH=str(epoch),
            PYTHONHASHSEED="0",
            CFLAGS=f"{os.environ.get('CFLAGS', '')} {flags}".strip(),
            CXXFLAGS=f"{os.environ.get('CXXFLAGS', '')} {flags}".strip(),
            **conditions.environment(),
            **(version_env or {}),
        )
        self._ready: ReadyEnv | None = None

    @property
    def ready(self) -> ReadyEnv:
        if self._ready is None:
            raise BuildFailed("no build environment was made")
        return self._ready

    def create(self, pins: tuple[Pin, ...]) -> str:
        self._ready = self.envs.env(pins)
        return self._ready.python

    def grow(
        self, pins: tuple[Pin, ...], requires: Sequence[str], extra: set[str]
    ) -> tuple[tuple[Pin, ...], str]:
        """The backend asks for more (PEP 517 ``get_requires_for_build_*``): resolve again."""
        if self.options.env_record is not None:
            raise BuildFailed(
                "the recorded build environment lacks what the backend asks for: "
                + ", ".join(unsatisfied(extra, pins, self.envs.markers))
            )
        new_pins = self.envs.resolve([*requires, *sorted(extra)])
        return new_pins, self.create(new_pins)

    def builder(
        self, source: Path, python: str, system: BuildSystem
    ) -> pyproject_hooks.BuildBackendHookCaller:
        """The PEP 517 hook caller (``pyproject_hooks``, what ``build`` and pip use), each hook
        in a fresh subprocess of the venv's interpreter started by :meth:`_run`."""
        return pyproject_hooks.BuildBackendHookCaller(
            str(source),
            system.backend,
            backend_path=list(system.backend_path) or None,
            runner=self._run,
            python_executable=python,
        )

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
    """Call a PEP 517 hook; its failures become :class:`BuildFailed` with the backend's output."""
    try:
        return call(*args, **kwargs)
    except subprocess.CalledProcessError as exc:
        output = "\n".join(
            part.strip()[-4000:] for part in (exc.stdout or "", exc.stderr or "") if part
        )
        raise BuildFailed(
            f"the build backend failed: {exc.cmd[-2] if len(exc.cmd) > 1 else 'a hook'} "
            f"exited with status {exc.returncode}\n{output}".strip()
        ) from exc
    except pyproject_hooks.BackendUnavailable as exc:
        raise BuildFailed(
            f"the build backend failed: {exc.backend_name!r} cannot be imported\n"
            f"{exc.traceback or ''}".strip()
        ) from exc
    except (pyproject_hooks.HookMissing, pyproject_hooks.UnsupportedOperation) as exc:
        raise BuildFailed(f"the build backend failed: {exc!r}") from exc


def _write_sdist(tar: bytes, dest: Path, source_date_epoch: int) -> str:
    """Write the normalised sdist of ``tar`` to ``dest``; its sha256, from the bytes written."""
    data = gzip_sdist(tar, source_date_epoch)
    dest.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def _tree_for_wheel(
    source: SourceTree, normal: NormalSdist, name: str, dest: Path, conditions: Conditions
) -> Path:
    """The unpacked sdist ``name`` in ``dest``: the export it was built from, made to hold
    exactly its members (:func:`adopt_export`: no file written twice), or else unpacked."""
    try:
        adopted = adopt_export(
            source.path,
            normal.members,
            dest,
            umask=conditions.umask,
            mtime=source.source_date_epoch,
        )
    except OSError:
        adopted = None
    if adopted is not None:
        return adopted
    return _unpack_tar(normal.tar, name, dest, conditions.umask)


def _unpack_sdist(sdist: Path, dest: Path, umask: int) -> Path:
    """Unpack like pip: the single top-level directory is the project to build the wheel of."""
    return _unpack(lambda: tarfile.open(sdist, "r:gz"), sdist.name, dest, umask)


def _unpack_tar(tar: bytes, name: str, dest: Path, umask: int) -> Path:
    """:func:`_unpack_sdist` of the sdist ``name`` given as its uncompressed tar."""
    return _unpack(lambda: tarfile.open(fileobj=io.BytesIO(tar), mode="r:"), name, dest, umask)


def _unpack(open_archive: Callable[[], tarfile.TarFile], name: str, dest: Path, umask: int) -> Path:
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    try:
        with open_archive() as archive:
            extract_tar(archive, dest)
    except (OSError, tarfile.TarError) as exc:
        raise BuildFailed(f"cannot unpack {name}: {exc}") from exc
    return _project_of(name, dest, umask)


def _project_of(name: str, dest: Path, umask: int) -> Path:
    """The single top-level directory of an unpacked sdist, its modes set as a checkout under
    ``umask`` would give them."""
    tops = [p for p in dest.iterdir() if p.is_dir()]
    if len(tops) != 1:
        raise SourceError(f"{name} must hold exactly one top-level directory")
    for path in [tops[0], *tops[0].rglob("*")]:
        if not path.is_symlink():
            executable = path.is_dir() or bool(path.stat().st_mode & 0o111)
            path.chmod((0o777 if executable else 0o666) & ~umask)
    return tops[0]


call_hook = _hook
"""Public name of :func:`_hook` for other rebuilders (``release/rebuild.py``)."""
unpack_sdist = _unpack_sdist
"""Public name of :func:`_unpack_sdist`: members keep their mtimes, as pip and build unpack."""


def __dir__() -> list[str]:
    return __all__
