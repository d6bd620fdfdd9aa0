"""Recipe inference: try the candidate recipes of a release in order, within a time bound, until
every file is proven, and grade each file against the closest rebuild (issue 16).

The published files are read for clues (:mod:`.clues`), the recipes ordered (:mod:`.recipes`),
each run (:mod:`.rebuild`) and every output compared with the published bytes; the grades are
those of :mod:`.grades`.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

from packaging.tags import sys_tags
from packaging.utils import parse_wheel_filename

from trustyard.dists.filenames import SDIST_SUFFIX, WHEEL_SUFFIX
from trustyard.release.build import sha256_of
from trustyard.release.buildenv.pins import BuildEnvRecord, Pin
from trustyard.release.compare import compare_archives
from trustyard.release.grades import (
    DIFFERS,
    EQUIVALENT,
    MISSING,
    REPRODUCED,
    REPRODUCED_FROM_SDIST,
    FileVerdict,
    closeness,
    equivalence,
    sdist_content_problems,
)
from trustyard.release.normalize import InvalidArchive, normalize_archive
from trustyard.release.rebuild import MissingInterpreter, Outputs, Rebuilder
from trustyard.release.recipes import Recipe

__all__ = ["DEFAULT_TIME_LIMIT", "Candidate", "Inference", "Proof", "infer", "pure_files"]

DEFAULT_TIME_LIMIT = 600.0
"""Seconds to spend on recipes before grading what was built (a recipe started runs out)."""


@dataclass(frozen=True)
class Candidate:
    """One rebuilt file: where, how (``sdist``/``tree``/``published-sdist`` for wheels,
    ``tree`` for sdists; ``+normalised`` when in ``trustyard build``'s normal form), and by
    which recipe (an index into :attr:`Inference.runs`)."""

    path: Path
    how: str
    run: int


@dataclass(frozen=True)
class Proof:
    """The recipe that rebuilt a file byte for byte, and the environment it ran in."""

    recipe: Recipe
    wheel_from: str
    record: BuildEnvRecord | None


@dataclass
class Inference:
    """Every file's verdict, the recipes tried, the interpreters that would have been tried
    had they been installed, and the proof of each proven file."""

    verdicts: list[FileVerdict] = field(default_factory=list)
    tried: list[str] = field(default_factory=list)
    missing_pythons: list[str] = field(default_factory=list)
    proofs: dict[str, Proof] = field(default_factory=dict)
    runs: list[Outputs] = field(default_factory=list)
    out_of_time: bool = False
    scores: Counter[int] = field(default_factory=Counter)
    """How many published files each run (by index) rebuilt byte for byte."""


def infer(
    published: dict[str, Path],
    recipes: list[Recipe],
    rebuilder: Rebuilder,
    *,
    tree: Path | None,
    ref: str,
    commit_time: int | None,
    time_limit: float = DEFAULT_TIME_LIMIT,
    pins: tuple[Pin, ...] | None = None,
) -> Inference:
    """Run ``recipes`` in order on ``tree`` (``None``: only the wheels of the published sdist
    are rebuilt) until every file of ``published`` (sdists and pure wheels, by name) is proven
    or ``time_limit`` seconds have passed; grade every file."""
    result = Inference()
    sdist = next((p for n, p in published.items() if n.endswith(SDIST_SUFFIX)), None)
    candidates: dict[str, list[Candidate]] = {name: [] for name in published}
    shas = {name: sha256_of(path) for name, path in published.items()}
    started = time.monotonic()
    for recipe in recipes:
        if time.monotonic() - started > time_limit:
            result.out_of_time = True
            break
        try:
            outputs = rebuilder.run(recipe, tree, sdist, pins=pins)
        except MissingInterpreter as exc:
            if exc.python not in result.missing_pythons:
                result.missing_pythons.append(exc.python)
            continue
        result.tried.append(recipe.describe())
        result.runs.append(outputs)
        _collect(outputs, len(result.runs) - 1, candidates, commit_time)
        if all(
            _proven(n, shas[n], candidates[n], tree=tree, sdist=sdist, result=result)
            for n in published
        ):
            break
    # a file rebuilt by several recipes is credited to the one that rebuilt the most files,
    # so that one recorded recipe replays them all where one can
    result.scores = Counter(
        run
        for name in published
        for run in {c.run for c in _identical(shas[name], candidates[name])}
    )
    result.verdicts = [
        _grade(
            name, path, shas[name], candidates[name], tree=tree, sdist=sdist, result=result, ref=ref
        )
        for name, path in published.items()
    ]
    return result


def _collect(
    outputs: Outputs, run: int, into: dict[str, list[Candidate]], commit_time: int | None
) -> None:
    """File each output under the published name it claims (wheels by filename)."""
    made: list[tuple[Path, str]] = []
    if outputs.sdist is not None:
        made.append((outputs.sdist, "tree"))
    made += [(path, how) for how, path in outputs.wheels()]
    for path, how in made:
        if path.name not in into:
            continue
        into[path.name].append(Candidate(path, how, run))
        # `trustyard build` publishes its outputs normalised with the commit time
        if commit_time is not None and how in {"tree", "sdist"}:
            try:
                normal = normalize_archive(
                    path, path.with_name(f"normalised-{path.name}"), commit_time
                )
            except InvalidArchive:
                continue
            into[path.name].append(Candidate(normal, how + "+normalised", run))


def _identical(sha: str, candidates: list[Candidate]) -> list[Candidate]:
    return [c for c in candidates if sha256_of(c.path) == sha]


def _proven(
    name: str,
    sha: str,
    candidates: list[Candidate],
    *,
    tree: Path | None,
    sdist: Path | None,
    result: Inference,
) -> bool:
    hits = _identical(sha, candidates)
    if any(not c.how.startswith("published-sdist") for c in hits):
        return True
    return bool(hits) and (tree is None or _sdist_is_the_tags(sdist, tree, result))


def _sdist_is_the_tags(sdist: Path | None, tree: Path, result: Inference) -> bool:
    """The published sdist is byte-identical to a rebuild, or its content is the tree's plus
    what a rebuild generates."""
    if sdist is None:
        return False
    rebuilt = [o.sdist for o in result.runs if o.sdist is not None]
    sha = sha256_of(sdist)
    if any(sha256_of(p) == sha for p in rebuilt):
        return True
    return not sdist_content_problems(sdist, tree, rebuilt[0] if rebuilt else None)


def _grade(
    name: str,
    published: Path,
    sha: str,
    candidates: list[Candidate],
    *,
    tree: Path | None,
    sdist: Path | None,
    result: Inference,
    ref: str,
) -> FileVerdict:
    hits = sorted(_identical(sha, candidates), key=lambda c: (-result.scores[c.run], c.run))
    from_tag = [c for c in hits if not c.how.startswith("published-sdist")]
    if from_tag or hits:
        chosen = (from_tag or hits)[0]
        outputs = result.runs[chosen.run]
        # an sdist is made by every recipe alike; the wheel's origin is what the recipe names
        wheel_from = (
            "sdist" if name.endswith(SDIST_SUFFIX) else chosen.how.removesuffix("+normalised")
        )
        proof = Proof(outputs.recipe, wheel_from, outputs.record)
        line = outputs.recipe.uv_command(ref, wheel_from, sdist.name if sdist else None)
        note = f"rebuilt from the {_label(chosen.how)}"
        if from_tag:
            result.proofs[name] = proof
            return FileVerdict(
                name, sha, sha, REPRODUCED, note, recipe=outputs.recipe.describe(), command=line
            )
        if tree is None:
            note += "; the sdist itself was not compared with git (--from-sdist)"
        elif not _sdist_is_the_tags(sdist, tree, result):
            rebuilt = next((o.sdist for o in result.runs if o.sdist is not None), None)
            problems = sdist_content_problems(sdist, tree, rebuilt) if sdist else []
            why = (
                "rebuilt byte for byte from the published sdist, but that sdist is not the "
                "tag's: " + "; ".join(problems[:5])
            )
            # the wheel may still be the tag's in content (packaging 25.0: an sdist made
            # from a dirty tree, a wheel without the stray files): judged against the tag
            from_the_tag = [c for c in candidates if not c.how.startswith("published-sdist")]
            closest = _closest(name, published, sha, from_the_tag, tree=tree, result=result)
            if closest.verdict == EQUIVALENT:
                return replace(closest, note=f"{closest.note}; {why}")
            return FileVerdict(name, sha, sha, DIFFERS, why, recipe=outputs.recipe.describe())
        result.proofs[name] = proof
        return FileVerdict(
            name,
            sha,
            sha,
            REPRODUCED_FROM_SDIST,
            note,
            recipe=outputs.recipe.describe(),
            command=line,
        )
    return _closest(name, published, sha, candidates, tree=tree, result=result)


def _label(how: str) -> str:
    base = how.removesuffix("+normalised")
    text = {
        "tree": "tag's tree",
        "sdist": "tag's sdist",
        "published-sdist": "published sdist",
    }[base]
    return text + (" (normalised as `trustyard build` does)" if how.endswith("+normalised") else "")


def _closest(
    name: str,
    published: Path,
    sha: str,
    candidates: list[Candidate],
    *,
    tree: Path | None,
    result: Inference,
) -> FileVerdict:
    """``equivalent`` against the closest candidate that has the same members, else the
    published sdist's content check, else ``differs`` with the closest member diff."""
    why = _unproven_note(result)
    if not candidates:
        problems = "; ".join(p for o in result.runs for p in o.problems[:1])
        note = "no recipe rebuilt it" + (f": {problems}" if problems else "") + why
        return FileVerdict(name, sha, "", MISSING, note.strip())
    for candidate in candidates:
        same = equivalence(published, candidate.path)
        if same is not None:
            recipe = result.runs[candidate.run].recipe.describe()
            differ = ", ".join(same.aspects)
            return FileVerdict(
                name,
                sha,
                sha256_of(candidate.path),
                EQUIVALENT,
                f"same members and contents; differs in {differ}{why}",
                same.diff,
                recipe=recipe,
                aspects=same.aspects,
            )
    if name.endswith(SDIST_SUFFIX) and tree is not None:
        rebuilt = next((o.sdist for o in result.runs if o.sdist is not None), None)
        if not sdist_content_problems(published, tree, rebuilt):
            return FileVerdict(
                name,
                sha,
                sha256_of(rebuilt) if rebuilt else "",
                EQUIVALENT,
                "content equal to the tag's tree plus generated metadata; the archive differs"
                + why,
                compare_archives(published, rebuilt) if rebuilt else None,
                aspects=("content of the tag",),
            )
    diffs = []
    for candidate in candidates:
        try:
            diffs.append(
                (closeness(d := compare_archives(published, candidate.path)), d, candidate)
            )
        except InvalidArchive:
            continue
    if not diffs:
        return FileVerdict(name, sha, "", DIFFERS, "the rebuilt archives cannot be read" + why)
    _, diff, best = min(diffs, key=lambda item: item[0])
    recipe = result.runs[best.run].recipe.describe()
    return FileVerdict(
        name,
        sha,
        sha256_of(best.path),
        DIFFERS,
        f"closest: {recipe}, from the {_label(best.how)}{why}",
        diff,
        recipe=recipe,
    )


def _unproven_note(result: Inference) -> str:
    parts = []
    if result.missing_pythons:
        shown = ", ".join(f"Python {p}" for p in result.missing_pythons)
        parts.append(
            f"the interpreter of the time would be needed too ({shown}, not installed: "
            f"`uv python install {' '.join(result.missing_pythons)}` and verify again)"
        )
    if result.out_of_time:
        parts.append("the time limit stopped the search")
    return ("; " + "; ".join(parts)) if parts else ""


def pure_files(files: dict[str, Path]) -> dict[str, Path]:
    """The files of ``files`` a rebuild here can make: sdists, pure wheels, and the platform
    wheels this interpreter on this machine builds (their tags among its ``sys_tags``); other
    platform wheels are ``not rebuilt (platform wheel)``."""
    here = set(sys_tags())
    chosen = {}
    for name, path in files.items():
        if name.endswith(SDIST_SUFFIX):
            chosen[name] = path
        elif name.endswith(WHEEL_SUFFIX):
            tags = parse_wheel_filename(name)[3]
            if name.endswith("-none-any.whl") or tags & here:
                chosen[name] = path
    return chosen


def __dir__() -> list[str]:
    return __all__
