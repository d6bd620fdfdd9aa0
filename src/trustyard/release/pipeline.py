"""``trustyard release``: build → attest → test index → verify → approval → production → verify.

Each stage is a function over one release directory; a state file in that directory records
what is done (and the sha256 of every file), so a rerun resumes after the last finished stage and
refuses to go on with bytes that changed since they were built. The same files that passed the
test index go to production: they are never rebuilt in between. The publish stages and the
approval gate are the steps of :mod:`trustyard.release.promotion`, shared with ``add-wheels``.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from trustyard.atomicfiles import write_atomic
from trustyard.dists.filenames import PUBLISHABLE_SUFFIXES, SDIST_SUFFIX, parse_dist_filename
from trustyard.release.approval import ask_on_terminal
from trustyard.release.attest import AttestOptions, attest_release
from trustyard.release.build import ENV_RECORD_NAME, BuildOptions, Progress, sha256_of
from trustyard.release.buildenv.pins import BuildEnvRecord
from trustyard.release.check import check_reproducible
from trustyard.release.compare import render_diff
from trustyard.release.errors import ReleaseError
from trustyard.release.promotion import (
    IndexTarget,
    StageFailed,
    approve,
    check_audiences,
    publish_to,
)
from trustyard.release.publish import TrustedPublishingMode, tls_context
from trustyard.release.source import resolve_commit
from trustyard.release.verify import (
    ATTESTED,
    EQUIVALENT,
    NOT_ON_INDEX,
    parse_publisher,
    passing_verdicts,
    verify_release,
)

__all__ = [
    "STAGES",
    "STATE_FILE",
    "ReleaseOptions",
    "release",
]

STATE_FILE = "release-state.json"
STATE_VERSION = 1
STAGES = (
    "build",
    "attest",
    "publish-test",
    "verify-test",
    "approve",
    "publish",
    "verify",
)


@dataclass(frozen=True)
class ReleaseOptions:
    """Everything one ``trustyard release`` run needs; built once by the CLI."""

    project: Path
    dist: Path
    test: IndexTarget
    production: IndexTarget
    ref: str = "HEAD"
    allow_dirty: bool = False
    trusted_publishing: TrustedPublishingMode = "auto"
    cacert: Path | None = None
    sigstore_trust_config: Path | None = None
    publisher: str | None = None
    yes: bool = False
    approve_file: Path | None = None
    ask: Callable[[str], str] | None = ask_on_terminal
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    work: Path | None = None
    # issue 16: the verify stages accept files equal but for archive metadata (`equivalent`)
    accept_equivalent: bool = False


@dataclass
class _State:
    """What the state file holds."""

    commit: str
    release: str = ""
    files: dict[str, str] = field(default_factory=dict)
    done: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_json(self) -> str:
        document = {
            "version": STATE_VERSION,
            "commit": self.commit,
            "release": self.release,
            "files": self.files,
            "done": self.done,
        }
        return json.dumps(document, indent=2) + "\n"


def _load_state(path: Path) -> _State | None:
    if not path.exists():
        return None
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ReleaseError(f"{path} is not a readable release state ({exc}); remove it") from exc
    ok = (
        isinstance(document, dict)
        and document.get("version") == STATE_VERSION
        and isinstance(document.get("commit"), str)
        and isinstance(document.get("release"), str)
        and isinstance(document.get("files"), dict)
        and all(isinstance(k, str) and isinstance(v, str) for k, v in document["files"].items())
        and isinstance(document.get("done"), dict)
        and all(k in STAGES and isinstance(v, dict) for k, v in document["done"].items())
    )
    if not ok:
        raise ReleaseError(f"{path} is not a release state this version understands; remove it")
    return _State(document["commit"], document["release"], document["files"], document["done"])


def _save_state(path: Path, state: _State) -> None:
    write_atomic(path, state.to_json())


@dataclass
class _Run:
    options: ReleaseOptions
    state: _State
    state_path: Path
    work: Path
    say: Progress

    def distributions(self) -> list[Path]:
        """The release's distributions, wheels before the sdist (as uv uploads them)."""
        found = [self.options.dist / name for name in self.state.files]
        return sorted(found, key=lambda p: (p.name.endswith(SDIST_SUFFIX), p.name))

    def check_unchanged(self) -> None:
        """Refuse to go on with bytes that are not the ones built (and recorded)."""
        for name, digest in sorted(self.state.files.items()):
            path = self.options.dist / name
            if not path.is_file():
                raise ReleaseError(f"{path} was built by this release but is gone")
            actual = sha256_of(path)
            if actual != digest:
                raise ReleaseError(
                    f"{path} changed since it was built (recorded sha256 {digest}, now {actual}); "
                    f"start over with an empty release directory"
                )
        extra = sorted(
            p.name
            for p in self.options.dist.iterdir()
            if p.name.endswith(PUBLISHABLE_SUFFIXES) and p.name not in self.state.files
        )
        if extra:
            raise ReleaseError(
                f"{self.options.dist} holds distributions this release did not build: "
                + ", ".join(extra)
            )


def release(options: ReleaseOptions, progress: Progress | None = None) -> dict[str, Any]:
    """Run (or resume) the pipeline; return the final state document."""
    say = progress or (lambda _step: None)
    if options.publisher:
        parse_publisher(options.publisher)  # a bad spec fails now, not after the uploads
    commit = resolve_commit(options.project, options.ref)
    options.dist.mkdir(parents=True, exist_ok=True)
    state_path = options.dist / STATE_FILE
    state = _load_state(state_path)
    if state is None:
        leftovers = sorted(
            p.name for p in options.dist.iterdir() if p.name.endswith(PUBLISHABLE_SUFFIXES)
        )
        if leftovers:
            raise ReleaseError(
                f"{options.dist} already holds distributions ({', '.join(leftovers)}) but no "
                f"{STATE_FILE}: release into an empty directory"
            )
        state = _State(commit=commit)
    elif state.commit != commit:
        raise ReleaseError(
            f"{options.dist} holds the release of commit {state.commit[:12]}, but {options.ref} "
            f"is {commit[:12]}: release into another directory, or remove this one"
        )
    if "publish" not in state.done:
        check_audiences(options)
    with tempfile.TemporaryDirectory(prefix="trustyard-release-", dir=options.work) as scratch:
        run = _Run(options, state, state_path, Path(scratch), say)
        for stage in STAGES:
            if stage in state.done:
                say(f"{stage}: done earlier, skipped")
                continue
            if stage != "build":
                run.check_unchanged()
            say(f"{stage}: running")
            details = _STAGE_FUNCTIONS[stage](run)
            details["at"] = datetime.now(UTC).isoformat(timespec="seconds")
            state.done[stage] = details
            _save_state(state_path, state)
            say(f"{stage}: done")
    final: dict[str, Any] = json.loads(state.to_json())
    return final


def _build(run: _Run) -> dict[str, Any]:
    """``build --check``: two builds under varied conditions must agree byte for byte."""
    options = run.options
    out = run.work / "built"
    check = check_reproducible(
        BuildOptions(options.project, ref=run.state.commit, allow_dirty=options.allow_dirty),
        out,
        run.work / "check",
        progress=run.say,
    )
    if not check.reproducible:
        lines = [f"missing from one build: {name}" for name in check.missing]
        for diff in check.differences:
            lines += render_diff(diff)
        raise StageFailed("build", "the two builds differ:\n" + "\n".join(lines))
    files: dict[str, str] = {}
    for artifact in check.first.artifacts:
        files[artifact.name] = sha256_of(artifact)
        shutil.copy2(artifact, options.dist / artifact.name)
    shutil.copy2(check.first.record_path, options.dist / ENV_RECORD_NAME)
    sdist = next(name for name in files if name.endswith(SDIST_SUFFIX))
    parsed = parse_dist_filename(sdist)
    run.state.files = files
    run.state.release = f"{parsed.name}=={parsed.version}"
    return {"files": len(files)}


def _verify(run: _Run, target: IndexTarget, stage: str) -> dict[str, Any]:
    """Rebuild from the commit with the recorded environment; every index file must be proven
    (a reproduced grade; ``equivalent`` only with ``accept_equivalent``), and with an expected
    ``--publisher`` every file must carry PEP 740 attestations by it."""
    options = run.options
    passing = passing_verdicts(options.accept_equivalent)
    run.say(f"{stage}: passing verdicts: {', '.join(sorted(passing))}")
    if not options.accept_equivalent:
        run.say(f"{stage}: an {EQUIVALENT!r} file fails (--accept-equivalent accepts it)")
    publisher = parse_publisher(options.publisher) if options.publisher else None
    trust = None
    if publisher is not None and options.sigstore_trust_config is not None:
        from trustyard.attestations.trust import load_trust_config  # noqa: PLC0415 - slow import

        trust = load_trust_config(options.sigstore_trust_config)
    record_path = run.options.dist / ENV_RECORD_NAME
    record = BuildEnvRecord.from_json(
        record_path.read_text(encoding="utf-8"), origin=str(record_path)
    )
    report = verify_release(
        run.state.release,
        target.simple_url,
        str(run.options.project),
        run.work / stage,
        ref=run.state.commit,
        env_record=record,
        accept_equivalent=options.accept_equivalent,
        progress=run.say,
        publisher=publisher,
        trust=trust,
        context=tls_context(options.cacert),
    )
    served = {f.filename: f for f in report.files}
    problems = []
    for name, built in sorted(run.state.files.items()):
        verdict = served.get(name)
        if verdict is None or verdict.verdict == NOT_ON_INDEX:
            problems.append(f"{name}: not on the {target.label} index")
        elif verdict.index_sha256 != built:
            problems.append(
                f"{name}: the {target.label} index serves sha256 {verdict.index_sha256}, "
                f"but {built} was built and published"
            )
        elif verdict.verdict not in passing:
            hint = (
                " (pass --accept-equivalent to accept it)" if verdict.verdict == EQUIVALENT else ""
            )
            problems.append(f"{name}: {verdict.verdict} {verdict.note}".rstrip() + hint)
    if publisher is not None:
        problems += [
            f"{a.filename}: {a.status} ({a.detail})"
            for a in report.attestations
            if a.status != ATTESTED
        ]
        if not report.attestations:
            problems.append(f"no file carries attestations by {publisher.text}")
    if problems:
        raise StageFailed(
            stage, "the index does not serve what was built:\n  " + "\n  ".join(problems)
        )
    attested = sum(a.status == ATTESTED for a in report.attestations)
    verdicts = {name: served[name].verdict for name in sorted(run.state.files)}
    for name, grade in verdicts.items():
        run.say(f"{stage}: {name}: {grade}")
    return {
        "index": target.simple_url,
        "files": len(run.state.files),
        "verdicts": verdicts,
        "accept_equivalent": options.accept_equivalent,
        "publisher": publisher.text if publisher else None,
        "attested": attested if publisher else None,
    }


def _attest(run: _Run) -> dict[str, Any]:
    """SHA256SUMS, SLSA provenance, and (with a CI identity) Sigstore-signed attestations.

    A rerun of this stage overwrites what an interrupted run left: nothing of it was used yet.
    """
    options = run.options
    result = attest_release(
        AttestOptions(
            release_dir=options.dist,
            source=options.project,
            trust_config=options.sigstore_trust_config,
            overwrite=True,
            environ=options.environ,
        ),
        progress=run.say,
    )
    if not result.signed:
        run.say(f"attest: not signed ({result.unsigned_reason})")
    return {
        "signed": result.signed,
        "identity": result.identity,
        "attestations": [p.name for p in result.attestation_paths],
    }


def _publish(run: _Run, target: IndexTarget, stage: str) -> dict[str, Any]:
    """The built files and their attestations (:func:`~.promotion.publish_to`)."""
    report = publish_to(run.options, target, run.distributions(), stage=stage, say=run.say)
    return {
        "index": target.upload_url,
        "uploaded": [f.filename for f in report.with_outcome("uploaded")],
        "skipped": [f.filename for f in report.with_outcome("skipped")],
        "trusted_publishing": report.trusted_publishing,
    }


def _approve(run: _Run) -> dict[str, Any]:
    """The gate: the exact hashes that passed the test index, approved for production."""
    return {"by": approve(run.options, run.state.files).by}


_STAGE_FUNCTIONS: dict[str, Callable[[_Run], dict[str, Any]]] = {
    "build": _build,
    "attest": _attest,
    "publish-test": lambda run: _publish(run, run.options.test, "publish-test"),
    "verify-test": lambda run: _verify(run, run.options.test, "verify-test"),
    "approve": _approve,
    "publish": lambda run: _publish(run, run.options.production, "publish"),
    "verify": lambda run: _verify(run, run.options.production, "verify"),
}
