"""Build recipes for rebuilding a release someone else built, and their inference.

A recipe is what varies between the builds of one tag that real maintainers ran: whether
``SOURCE_DATE_EPOCH`` was set (to the commit time), which build requirements were current
(``uv --exclude-newer``: at the upload or at the commit), the backend version the wheel names,
and the interpreter. :func:`candidate_recipes` orders a few of them, most likely first, from
the published files' clues (the survey of issue 16 and ``benchmarks/rebuild/``).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version

from trustyard.release.buildenv.pins import exclude_newer_text
from trustyard.release.clues import Clues
from trustyard.release.zones import valid_zone

__all__ = [
    "PYTHON_RELEASES",
    "Recipe",
    "candidate_recipes",
    "interpreter_of_the_time",
    "recipe_from_json",
]

PYTHON_RELEASES = {  # first final release of each CPython minor (python.org, PEP 5xx/6xx/7xx)
    "3.7": datetime(2018, 6, 27, tzinfo=UTC),
    "3.8": datetime(2019, 10, 14, tzinfo=UTC),
    "3.9": datetime(2020, 10, 5, tzinfo=UTC),
    "3.10": datetime(2021, 10, 4, tzinfo=UTC),
    "3.11": datetime(2022, 10, 24, tzinfo=UTC),
    "3.12": datetime(2023, 10, 2, tzinfo=UTC),
    "3.13": datetime(2024, 10, 7, tzinfo=UTC),
    "3.14": datetime(2025, 10, 7, tzinfo=UTC),
}


@dataclass(frozen=True)
class Recipe:
    """One way to rebuild a tag. ``python`` is a minor version (``"3.8"``) or ``None`` for the
    running interpreter; ``constraints`` pin versions without adding requirements."""

    source_date_epoch: int | None
    exclude_newer: datetime | None
    constraints: tuple[str, ...] = ()
    python: str | None = None
    tz: str = "UTC"
    version_env: dict[str, str] = field(default_factory=dict, compare=False)

    def describe(self) -> str:
        """A short label: ``SOURCE_DATE_EPOCH=1656789393, requirements as of
        2022-07-02T19:18:01Z, flit-core==3.7.1``."""
        parts = [
            f"SOURCE_DATE_EPOCH={self.source_date_epoch}"
            if self.source_date_epoch is not None
            else "no SOURCE_DATE_EPOCH",
            f"requirements as of {exclude_newer_text(self.exclude_newer)}"
            if self.exclude_newer
            else "requirements of today",
            *self.constraints,
        ]
        if self.python:
            parts.append(f"Python {self.python}")
        if self.tz != "UTC":
            parts.append(f"TZ={self.tz}")
        return ", ".join(parts)

    def uv_command(self, ref: str, wheel_from: str, sdist_name: str | None = None) -> str:
        """The recipe as one shell line a person can run with plain ``uv build`` in a clone.
        ``wheel_from`` is ``sdist`` (uv's default), ``tree`` or ``published-sdist``."""
        env = {"TZ": self.tz, **self.version_env}
        if self.source_date_epoch is not None:
            env["SOURCE_DATE_EPOCH"] = str(self.source_date_epoch)
        prefix = " ".join(f"{k}={shlex.quote(v)}" for k, v in sorted(env.items()))
        flags = []
        if self.python:
            flags += ["--python", self.python]
        if self.exclude_newer is not None:
            flags += ["--exclude-newer", exclude_newer_text(self.exclude_newer)]
        pins = ""
        if self.constraints:
            pins = " --build-constraints <(printf '%s\\n' " + " ".join(
                shlex.quote(c) for c in self.constraints
            )
            pins += ")"
        options = " ".join(shlex.quote(f) for f in flags) + pins
        if wheel_from == "published-sdist" and sdist_name:
            top = sdist_name.removesuffix(".tar.gz")
            return (
                f"mkdir sdist && tar -xzf {shlex.quote(sdist_name)} -C sdist && "
                f"{prefix} uv build --wheel {options} sdist/{shlex.quote(top)}"
            ).replace("  ", " ")
        target = "--wheel " if wheel_from == "tree" else ""
        return (
            f"git checkout {shlex.quote(ref)} && {prefix} uv build {target}{options}".rstrip()
        ).replace("  ", " ")

    def to_json(self, wheel_from: str) -> dict[str, Any]:
        """The recipe as ``build-env.json`` carries it (``source.recipe``)."""
        return {
            "source_date_epoch": self.source_date_epoch,
            "exclude_newer": exclude_newer_text(self.exclude_newer) if self.exclude_newer else None,
            "constraints": list(self.constraints),
            "python": self.python,
            "tz": self.tz,
            "wheel_from": wheel_from,
            "version_env": dict(self.version_env),
        }


def recipe_from_json(doc: object) -> tuple[Recipe, str] | None:
    """A recipe written by :meth:`Recipe.to_json` and its ``wheel_from``; ``None`` if ``doc``
    is not one (a record of ``trustyard build`` has none)."""
    if not isinstance(doc, dict):
        return None
    epoch = doc.get("source_date_epoch")
    cutoff = doc.get("exclude_newer")
    constraints = doc.get("constraints", [])
    wheel_from = doc.get("wheel_from", "sdist")
    version_env = doc.get("version_env", {})
    if (
        not (epoch is None or isinstance(epoch, int))
        or not (cutoff is None or isinstance(cutoff, str))
        or not isinstance(constraints, list)
        or not all(isinstance(c, str) for c in constraints)
        or wheel_from not in {"sdist", "tree", "published-sdist"}
        or not isinstance(version_env, dict)
        or not valid_zone(str(doc.get("tz", "UTC")))
    ):
        return None
    try:
        when = datetime.fromisoformat(cutoff.replace("Z", "+00:00")) if cutoff else None
    except ValueError:
        return None
    python = doc.get("python")
    recipe = Recipe(
        epoch,
        when,
        tuple(constraints),
        python if isinstance(python, str) else None,
        str(doc.get("tz", "UTC")),
        {str(k): str(v) for k, v in version_env.items()},
    )
    return recipe, str(wheel_from)


def interpreter_of_the_time(when: datetime | None, requires_python: str | None) -> list[str]:
    """Python minors a maintainer likely built with at ``when``: the newest released then,
    and the oldest that ``Requires-Python`` allows (older ``tarfile`` writes other headers:
    httpx 0.28.1's sdist needs 3.8)."""
    if when is None:
        return []
    released = [v for v, day in PYTHON_RELEASES.items() if day <= when]
    found = released[-1:]
    try:
        allowed = SpecifierSet(requires_python or "")
    except InvalidSpecifier:
        allowed = SpecifierSet()
    oldest = next((v for v in released if Version(f"{v}.99") in allowed), None)
    if oldest and oldest not in found:
        found.append(oldest)
    return found


def candidate_recipes(
    clues: Clues,
    commit_time: int,
    *,
    running_python: str,
    version_env: dict[str, str] | None = None,
) -> list[Recipe]:
    """The recipes to try, most likely first: the backend pinned to what the wheel names;
    requirements as of the upload (then as of the commit); ``SOURCE_DATE_EPOCH`` the commit
    time or unset (unset first when the sdist carries a default or checkout times); the zone
    the wheel's local zip times name (``TZ``), then UTC; the running interpreter, then those
    of the time."""
    venv = dict(version_env or {})
    constraints = (clues.backend_pin,) if clues.backend_pin else ()
    commit = datetime.fromtimestamp(commit_time, UTC)
    cutoffs: list[datetime | None] = [clues.upload_time] if clues.upload_time else []
    if not cutoffs or abs((cutoffs[0] or commit) - commit).total_seconds() > 60:
        cutoffs.append(commit)
    epochs: list[int | None] = [commit_time, None]
    if clues.sde_unset_first(commit_time):
        epochs.reverse()
    zones = [*clues.zones(commit_time)[:1], "UTC"]
    recipes = [
        Recipe(epoch, cutoff, constraints, None, tz, venv)
        for cutoff in cutoffs
        for epoch in epochs
        for tz in zones
    ]
    for minor in interpreter_of_the_time(clues.upload_time or commit, clues.requires_python):
        if minor != running_python:
            recipes += [Recipe(e, cutoffs[0], constraints, minor, zones[0], venv) for e in epochs]
    return list(dict.fromkeys(recipes))


def __dir__() -> list[str]:
    return __all__
