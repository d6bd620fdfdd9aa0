"""``trustyard release add-wheels``: wheels for a new Python version, added to a published release.
The release workflow's manual mode (the seed's ``workflow_dispatch`` job that adds wheels later).

What makes it safe to add files to a release that already exists:

1. the wheels are built from the sdist the production index serves, and only after that sdist
   proved to be byte for byte what the tag rebuilds to (else the new wheels would not come from
   the published source);
2. each requested interpreter must already be installed (``uv python find``, never a download),
   and a wheel must name its interpreter in its tags: a ``py3-none-any`` wheel adds nothing;
3. a wheel whose filename the index already has with other bytes stops everything before any
   file is written; identical ones are skipped, so a rerun resumes where a run stopped;
4. every interpreter's wheels get their own build record, ``SHA256SUMS`` and SLSA provenance
   (``<tag>.build-env.json``, ``<tag>.SHA256SUMS``, ``<tag>.intoto.jsonl``) and, with a CI
   identity, PEP 740 attestations, through the ``attest`` stage;
5. publish to the test index, the approval gate, then production: the steps of
   ``trustyard release`` itself (:mod:`trustyard.release.promotion`), with the same rules.
"""

from __future__ import annotations

import os
import re
import shutil
import ssl
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from trustyard.dists.filenames import SDIST_SUFFIX, parse_dist_filename
from trustyard.dists.names import normalize_name
from trustyard.errors import Error, InvalidInput
from trustyard.release.approval import ask_on_terminal
from trustyard.release.attest import AttestOptions, attest_release
from trustyard.release.build import (
    ENV_RECORD_NAME,
    BuildOptions,
    Progress,
    build_release,
    build_wheel_from_sdist,
    sha256_of,
)
from trustyard.release.buildenv.cache import EnvCache
from trustyard.release.buildenv.interpreters import Interpreter, find_interpreter
from trustyard.release.buildenv.pins import BuildEnvRecord
from trustyard.release.compare import compare_archives, render_diff
from trustyard.release.errors import ReleaseError, ReleaseNotFound
from trustyard.release.promotion import IndexTarget, approve, check_audiences, publish_to
from trustyard.release.publish import TrustedPublishingMode, tls_context
from trustyard.release.simple_client import IndexFile, download, release_files
from trustyard.release.source import resolve_commit

__all__ = [
    "AddWheelsError",
    "AddWheelsOptions",
    "AddedWheels",
    "add_wheels",
    "parse_python_tags",
]

_PYTHON_TAG = re.compile(r"cp3(?P<minor>[0-9]|[1-9][0-9])(?P<free>t?)")


class AddWheelsError(ReleaseError):
    """The release cannot get wheels added as asked; nothing was published."""


@dataclass(frozen=True)
class AddWheelsOptions:
    """One ``add-wheels`` run, built once by the CLI.

    ``dist`` receives the new wheels and their records; its ``build-env.json``, when it is the
    record of the release's own build of ``ref``, pins the build environment (else the build
    requirements are resolved afresh, and the sdist check shows whether that still matters).
    """

    project: Path
    ref: str
    pythons: tuple[str, ...]
    production: IndexTarget
    test: IndexTarget | None = None
    dist: Path = Path("dist")
    trusted_publishing: TrustedPublishingMode = "auto"
    cacert: Path | None = None
    sigstore_trust_config: Path | None = None
    yes: bool = False
    approve_file: Path | None = None
    ask: Callable[[str], str] | None = ask_on_terminal
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    cache_dir: Path | None = None
    work: Path | None = None


@dataclass(frozen=True)
class AddedWheels:
    """What a run did: the release, the published sdist it built from, and per wheel (filename
    -> sha256) what is new on production and what was already there."""

    release: str
    commit: str
    sdist: str
    sdist_sha256: str
    added: Mapping[str, str]
    already_there: Mapping[str, str]
    provenance: tuple[Path, ...] = ()
    signed: bool = False
    approved_by: str = ""


def parse_python_tags(values: Sequence[str]) -> tuple[str, ...]:
    """``cp311``, ``cp314``, ``cp314t`` (CPython, a free-threaded build with ``t``): the
    interpreter tags of PEP 425 that a wheel for a new CPython version carries; every bad or
    repeated value is reported together."""
    problems: list[str] = []
    tags: list[str] = []
    for value in values:
        match = _PYTHON_TAG.fullmatch(value)
        if match is None:
            problems.append(
                f"--python {value!r} is not a CPython interpreter tag such as cp312, cp314 or "
                "cp314t (free-threaded)"
            )
        elif value in tags:
            problems.append(f"--python {value} is given twice")
        else:
            tags.append(value)
    if not values:
        problems.append("name at least one interpreter with --python (e.g. --python cp314)")
    if problems:
        raise InvalidInput("; ".join(problems))
    return tuple(tags)


def _uv_request(tag: str) -> str:
    """``cp314`` -> ``cpython@3.14``, ``cp314t`` -> ``cpython@3.14t`` (uv's request syntax)."""
    match = _PYTHON_TAG.fullmatch(tag)
    if match is None:
        raise InvalidInput(f"{tag!r} is not a CPython interpreter tag")
    return f"cpython@3.{match['minor']}{match['free']}"


def _interpreters(tags: tuple[str, ...], cache_dir: Path | None) -> dict[str, Interpreter]:
    """Each tag's installed interpreter; all missing ones reported together."""
    found: dict[str, Interpreter] = {}
    problems: list[str] = []
    for tag in tags:
        try:
            interpreter = find_interpreter(_uv_request(tag), cache_dir)
        except Error as exc:
            problems.append(f"{tag}: {exc.message}")
            continue
        if interpreter.tag != tag:
            problems.append(
                f"{tag}: uv found {interpreter.executable}, which builds {interpreter.tag} wheels"
            )
            continue
        found[tag] = interpreter
    if problems:
        raise AddWheelsError("cannot build for every requested Python:\n  " + "\n  ".join(problems))
    return found


def add_wheels(options: AddWheelsOptions, progress: Progress | None = None) -> AddedWheels:
    """Build, attest and publish wheels of ``options.pythons`` for the release of ``ref``."""
    say = progress or (lambda _step: None)
    tags = parse_python_tags(options.pythons)
    interpreters = _interpreters(tags, options.cache_dir)
    commit = resolve_commit(options.project, options.ref)
    record = _release_record(options.dist, commit)
    context = tls_context(options.cacert)
    check_audiences(options)
    with tempfile.TemporaryDirectory(prefix="trustyard-add-wheels-", dir=options.work) as scratch:
        work = Path(scratch)
        say(f"rebuilding the sdist of {options.ref} ({commit[:12]})")
        rebuilt = build_release(
            BuildOptions(
                options.project,
                ref=commit,
                allow_dirty=True,
                env_record=record,
                cache_dir=options.cache_dir,
            ),
            work / "rebuilt",
            work / "rebuild",
            progress=say,
        )
        ours = rebuilt.artifacts[0]
        parsed = parse_dist_filename(ours.name)
        release = f"{normalize_name(parsed.name)}=={parsed.version}"
        index_url = options.production.simple_url
        say(f"reading the files of {parsed.name} {parsed.version} from {index_url}")
        try:
            listed = release_files(index_url, parsed.name, parsed.version, context=context)
        except ReleaseNotFound as exc:
            raise AddWheelsError(
                f"the production index has no release {release} (what {options.ref} builds): "
                f"{exc.message}; publish the release first (trustyard release)"
            ) from exc
        published = _published_sdist(listed, ours.name, release, work / "index", context)
        _check_same_source(published, ours, options.ref)

        source = {
            "commit": commit,
            "ref": options.ref,
            "source_date_epoch": rebuilt.source.source_date_epoch,
            "sdist": {"filename": published.name, "sha256": sha256_of(published)},
        }
        wheels = {
            tag: _build_one(
                options,
                interpreters[tag],
                published,
                record=record,
                source=source,
                work=work,
                say=say,
            )
            for tag in tags
        }
        on_index = {f.filename: f.sha256 for f in listed}
        added, already = _against_index(wheels, on_index, index_url)
        result = AddedWheels(
            release,
            commit,
            published.name,
            sha256_of(published),
            {name: sha for tag in added for name, sha in added[tag].items()},
            already,
        )
        if not added:
            say("every wheel is already on the production index: nothing to add")
            return result
        provenance, signed = _keep_and_attest(options, added, wheels, say)
    files = [options.dist / name for name in result.added]
    if options.test is not None:
        publish_to(options, options.test, files, stage="publish-test", say=say, what="wheel")
    approved_by = approve(options, result.added).by
    publish_to(options, options.production, files, stage="publish", say=say, what="wheel")
    return AddedWheels(
        result.release,
        result.commit,
        result.sdist,
        result.sdist_sha256,
        result.added,
        result.already_there,
        provenance,
        signed,
        approved_by,
    )


def _release_record(dist: Path, commit: str) -> BuildEnvRecord | None:
    """``DIR/build-env.json`` when it records the build of ``commit``; another commit's record
    is an error (the directory belongs to another release)."""
    path = dist / ENV_RECORD_NAME
    if not path.is_file():
        return None
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise AddWheelsError(f"cannot read {path}: {exc}") from exc
    record = BuildEnvRecord.from_json(text, origin=str(path))
    recorded = record.source.get("commit")
    if recorded != commit:
        raise AddWheelsError(
            f"{path} records the build of commit {recorded}, not {commit}: add the wheels "
            "in the release's own directory, or in an empty one (--dist)"
        )
    return record


def _published_sdist(
    listed: list[IndexFile], filename: str, release: str, dest: Path, context: ssl.SSLContext
) -> Path:
    """The sdist the index serves under the rebuilt sdist's filename, downloaded (its bytes
    checked against the sha256 the index lists)."""
    sdists = [f for f in listed if f.filename.endswith(SDIST_SUFFIX)]
    match = next((f for f in sdists if f.filename == filename), None)
    if match is None:
        others = ", ".join(f.filename for f in sdists) or "none"
        raise AddWheelsError(
            f"the production index has no sdist {filename} for {release} (sdists there: "
            f"{others}): wheels are only added to a release whose published source they "
            "can be built from"
        )
    if not match.sha256:
        raise AddWheelsError(f"the index lists {filename} without a sha256; it cannot be checked")
    dest.mkdir(parents=True, exist_ok=True)
    return download(match, dest, context)


def _check_same_source(published: Path, rebuilt: Path, ref: str) -> None:
    """The published sdist must be exactly what the tag builds to (a reproducible build)."""
    theirs, ours = sha256_of(published), sha256_of(rebuilt)
    if theirs == ours:
        return
    lines = render_diff(compare_archives(published, rebuilt))
    raise AddWheelsError(
        f"the index's {published.name} (sha256 {theirs}) is not what {ref} builds to "
        f"(sha256 {ours}), so wheels built from it would not come from the tagged source:\n"
        + "\n".join(lines)
    )


def _build_one(
    options: AddWheelsOptions,
    interpreter: Interpreter,
    sdist: Path,
    *,
    record: BuildEnvRecord | None,
    source: Mapping[str, object],
    work: Path,
    say: Progress,
) -> Path:
    """One interpreter's wheel of the published sdist, which must name that interpreter."""
    tag = interpreter.tag
    built = build_wheel_from_sdist(
        sdist,
        BuildOptions(
            options.project,
            ref=options.ref,
            env_record=record,
            cache_dir=options.cache_dir,
            envs=EnvCache(uv_cache=options.cache_dir, interpreter=interpreter),
        ),
        work / "wheels" / tag,
        work / "build" / tag,
        source=source,
        record_name=f"{tag}.{ENV_RECORD_NAME}",
        progress=_prefixed(say, f"[{tag}]"),
    )
    wheel = built.artifacts[0]
    named = sorted({t.interpreter for t in parse_dist_filename(wheel.name).tags})
    if tag not in named:
        raise AddWheelsError(
            f"{interpreter.executable} built {wheel.name}, a wheel for {', '.join(named)}, not "
            f"one for {tag}: this project's wheels do not depend on the Python version, so "
            "there is nothing to add"
        )
    return wheel


def _against_index(
    wheels: Mapping[str, Path], on_index: Mapping[str, str], index_url: str
) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    """(tag -> new wheels, wheels already there with these bytes); other bytes under one of
    these filenames stop the run."""
    added: dict[str, dict[str, str]] = {}
    already: dict[str, str] = {}
    conflicts: list[str] = []
    for tag, wheel in wheels.items():
        digest = sha256_of(wheel)
        remote = on_index.get(wheel.name)
        if remote is None:
            added.setdefault(tag, {})[wheel.name] = digest
        elif remote == digest:
            already[wheel.name] = digest
        else:
            conflicts.append(
                f"{wheel.name}: the index has sha256 {remote or '(none listed)'}, "
                f"the build from the published sdist is {digest}"
            )
    if conflicts:
        raise AddWheelsError(
            f"{index_url} already has these filenames with other bytes (a filename can never "
            "be given other bytes):\n  " + "\n  ".join(conflicts)
        )
    return added, already


def _keep_and_attest(
    options: AddWheelsOptions,
    added: Mapping[str, Mapping[str, str]],
    wheels: Mapping[str, Path],
    say: Progress,
) -> tuple[tuple[Path, ...], bool]:
    """Copy the new wheels and their build records into ``dist``, then attest each tag."""
    dist = options.dist
    dist.mkdir(parents=True, exist_ok=True)
    for tag in added:
        wheel = wheels[tag]
        target = dist / wheel.name
        if target.exists() and sha256_of(target) != sha256_of(wheel):
            raise AddWheelsError(
                f"{target} exists with other bytes than this build of it: remove it, or use "
                "another --dist"
            )
        shutil.copy2(wheel, target)
        record_name = f"{tag}.{ENV_RECORD_NAME}"
        shutil.copy2(wheel.parent / record_name, dist / record_name)
    provenance: list[Path] = []
    signed = True
    for tag, names in added.items():
        say(f"[{tag}] attesting {', '.join(sorted(names))}")
        result = attest_release(
            AttestOptions(
                release_dir=dist,
                source=options.project,
                trust_config=options.sigstore_trust_config,
                overwrite=True,
                environ=options.environ,
                distributions=tuple(dist / name for name in names),
                label=tag,
            ),
            progress=_prefixed(say, f"[{tag}] attest:"),
        )
        if not result.signed:
            say(f"[{tag}] attest: not signed ({result.unsigned_reason})")
        signed = signed and result.signed
        provenance.append(result.provenance_path)
    return tuple(provenance), signed


def _prefixed(say: Progress, prefix: str) -> Progress:
    return lambda step: say(f"{prefix} {step}")


def __dir__() -> list[str]:
    return __all__
