"""Run one :class:`~trustyard.release.recipes.Recipe`: the backend's own, unnormalised outputs
of a tag's tree (the sdist, the wheel from that sdist, the wheel from the tree) and of a
published sdist (its wheel), in hash-pinned environments shared between recipes.

Unlike ``trustyard build`` nothing is normalised here: the point is to find the bytes another
builder made. ``SOURCE_DATE_EPOCH`` is set only when the recipe says so.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pyproject_hooks

from trustyard.release.build import Progress, call_hook, unpack_sdist
from trustyard.release.buildenv.cache import EnvCache
from trustyard.release.buildenv.interpreters import Interpreter, find_interpreter, this_interpreter
from trustyard.release.buildenv.pins import BuildEnvRecord, Pin, unsatisfied
from trustyard.release.buildenv.system import BuildSystem, backend_distribution, read_build_system
from trustyard.release.buildenv.uv import child_env
from trustyard.release.errors import BuildFailed
from trustyard.release.recipes import Recipe

__all__ = ["MissingInterpreter", "Outputs", "Rebuilder", "running_minor"]


class MissingInterpreter(BuildFailed):
    """The recipe needs an interpreter this machine does not have (never downloaded)."""

    def __init__(self, python: str, detail: str) -> None:
        super().__init__(detail)
        self.python = python


@dataclass
class Outputs:
    """What one recipe made (raw, as the backend wrote it); a failed step leaves ``None``
    and says why in ``problems``."""

    recipe: Recipe
    sdist: Path | None = None
    wheel_from_sdist: Path | None = None
    wheel_from_tree: Path | None = None
    wheel_from_published: Path | None = None
    record: BuildEnvRecord | None = None
    problems: list[str] = field(default_factory=list)

    def wheels(self) -> list[tuple[str, Path]]:
        """(how, path) of every wheel made, the tag's first."""
        made = [
            ("sdist", self.wheel_from_sdist),
            ("tree", self.wheel_from_tree),
            ("published-sdist", self.wheel_from_published),
        ]
        return [(how, path) for how, path in made if path is not None]


class Rebuilder:
    """Runs recipes under ``work``; environments (resolutions and venvs) are kept per
    interpreter, cut-off and constraints, so recipes that differ only in
    ``SOURCE_DATE_EPOCH`` or in what is built share one venv."""

    def __init__(
        self, work: Path, cache_dir: Path | None = None, progress: Progress | None = None
    ) -> None:
        self.work = work
        self.cache_dir = cache_dir
        self.say = progress or (lambda _step: None)
        self._caches: dict[tuple[object, ...], EnvCache] = {}
        self._interpreters: dict[str, Interpreter] = {}
        self._count = 0

    def interpreter(self, python: str | None) -> Interpreter | None:
        """The installed interpreter of ``python`` (a minor version), never downloaded;
        :class:`MissingInterpreter` when there is none."""
        if python is None:
            return None
        if python not in self._interpreters:
            try:
                self._interpreters[python] = find_interpreter(f"cpython@{python}", self.cache_dir)
            except BuildFailed as exc:
                raise MissingInterpreter(python, exc.message) from exc
        return self._interpreters[python]

    def _envs(self, recipe: Recipe) -> EnvCache:
        key = (recipe.python, recipe.exclude_newer, recipe.constraints)
        if key not in self._caches:
            self._caches[key] = EnvCache(
                uv_cache=self.cache_dir,
                interpreter=self.interpreter(recipe.python),
                exclude_newer=recipe.exclude_newer,
                constraints=recipe.constraints,
            )
        return self._caches[key]

    def run(
        self,
        recipe: Recipe,
        tree: Path | None,
        published_sdist: Path | None,
        *,
        pins: tuple[Pin, ...] | None = None,
        from_tree: bool = True,
    ) -> Outputs:
        """Build what ``recipe`` makes of ``tree`` (sdist, its wheel, and with ``from_tree``
        the wheel straight from the tree) and of ``published_sdist`` (its wheel). ``pins``
        replays a recorded environment instead of resolving."""
        self._count += 1
        out = self.work / f"recipe-{self._count}"
        out.mkdir(parents=True, exist_ok=True)
        outputs = Outputs(recipe)
        envs = self._envs(recipe)
        environ = child_env(
            self.cache_dir,
            PYTHONHASHSEED="0",
            TZ=recipe.tz,
            **(
                {"SOURCE_DATE_EPOCH": str(recipe.source_date_epoch)}
                if recipe.source_date_epoch is not None
                else {}
            ),
            **recipe.version_env,
        )
        session = _Session(envs, environ, pins)
        if tree is not None:
            self.say(f"building {tree.name} with {recipe.describe()}")
            try:
                outputs.sdist = session.build(tree, "sdist", out / "sdist")
                unpacked = unpack_sdist(outputs.sdist, out / "unpacked", 0o022)
                outputs.wheel_from_sdist = session.build(unpacked, "wheel", out / "wheel-sdist")
                if from_tree:
                    outputs.wheel_from_tree = session.build(tree, "wheel", out / "wheel-tree")
            except BuildFailed as exc:
                outputs.problems.append(exc.message)
        if published_sdist is not None and _same_bytes(outputs.sdist, published_sdist):
            published_sdist = None  # its wheel is the one built from ours: nothing to add
        if published_sdist is not None:
            self.say(f"building the wheel of {published_sdist.name} with {recipe.describe()}")
            try:
                unpacked = unpack_sdist(published_sdist, out / "published", 0o022)
                outputs.wheel_from_published = session.build(
                    unpacked, "wheel", out / "wheel-published"
                )
            except BuildFailed as exc:
                outputs.problems.append(exc.message)
        outputs.record = session.record(recipe)
        return outputs


def _same_bytes(a: Path | None, b: Path) -> bool:
    return (
        a is not None and a.stat().st_size == b.stat().st_size and a.read_bytes() == b.read_bytes()
    )


class _Session:
    """One recipe's environment: pins (grown when a backend asks for more) and the venv."""

    def __init__(
        self, envs: EnvCache, environ: dict[str, str], pins: tuple[Pin, ...] | None
    ) -> None:
        self.envs = envs
        self.environ = environ
        self.replay = pins is not None
        self.pins = pins
        self.requires: tuple[str, ...] = ()
        self.extra: set[str] = set()
        self.system: BuildSystem | None = None
        self.python = ""

    def _ensure(self, system: BuildSystem) -> None:
        if self.pins is None:
            self.pins = self.envs.resolve(list(system.requires))
        if self.system is None:
            self.system, self.requires = system, system.requires
            missing = unsatisfied(list(system.requires), self.pins, self.envs.markers)
            if missing:
                raise BuildFailed(
                    "the recorded build environment does not satisfy [build-system] requires: "
                    + ", ".join(missing)
                )
        if not self.python:
            self.python = self.envs.env(self.pins).python

    def build(self, project: Path, kind: str, dest: Path) -> Path:
        """The raw sdist or wheel the project's backend writes into ``dest``."""
        system = read_build_system(project)
        self._ensure(system)
        if self.pins is None:  # _ensure resolved them; for the type checker
            raise BuildFailed("no build environment was made")
        caller = self._caller(project, system)
        ask = (
            caller.get_requires_for_build_sdist
            if kind == "sdist"
            else (caller.get_requires_for_build_wheel)
        )
        extra = set(call_hook(ask))
        if unsatisfied(extra, self.pins, self.envs.markers):
            if self.replay:
                raise BuildFailed(
                    "the recorded build environment lacks what the backend asks for: "
                    + ", ".join(unsatisfied(extra, self.pins, self.envs.markers))
                )
            self.extra |= extra
            self.pins = self.envs.resolve([*system.requires, *sorted(self.extra)])
            self.python = self.envs.env(self.pins).python
            caller = self._caller(project, system)
        dest.mkdir(parents=True, exist_ok=True)
        hook = caller.build_sdist if kind == "sdist" else caller.build_wheel
        return dest / call_hook(hook, str(dest))

    def _caller(self, project: Path, system: BuildSystem) -> pyproject_hooks.BuildBackendHookCaller:
        return pyproject_hooks.BuildBackendHookCaller(
            str(project),
            system.backend,
            backend_path=list(system.backend_path) or None,
            runner=self._run,
            python_executable=self.python,
        )

    def _run(
        self,
        cmd: Sequence[str],
        cwd: str | None = None,
        extra_environ: Mapping[str, str] | None = None,
    ) -> None:
        result = subprocess.run(
            list(cmd),
            cwd=cwd,
            env={**self.environ, **(extra_environ or {})},
            umask=0o022,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise subprocess.CalledProcessError(
                result.returncode, cmd, output=result.stdout, stderr=result.stderr
            )

    def record(self, recipe: Recipe) -> BuildEnvRecord | None:
        """The environment as ``build-env.json`` holds it (``None`` if none was made)."""
        if self.pins is None or self.system is None or not self.python:
            return None
        ready = self.envs.env(self.pins)
        name, version = backend_distribution(ready, self.system.backend)
        interpreter = self.envs.interpreter
        facts = interpreter.record_fields() if interpreter else this_interpreter()
        return BuildEnvRecord(
            backend=self.system.backend,
            backend_name=name,
            backend_version=version,
            requires=self.requires,
            pins=self.pins,
            python_version=facts["python_version"],
            python_implementation=facts["python_implementation"],
            platform=facts["platform"],
            source={"source_date_epoch": recipe.source_date_epoch},
        )


def running_minor() -> str:
    """``3.11``: the running interpreter's minor version, as recipes name interpreters."""
    return ".".join(this_interpreter()["python_version"].split(".")[:2])


def __dir__() -> list[str]:
    return __all__
