"""In-toto Statement v1 carrying a SLSA v1 provenance predicate: built and parsed as plain data.
Implements in-toto attestation spec v1 (Statement, ResourceDescriptor) and SLSA v1.0 provenance.

trustyard's build type (``BUILD_TYPE``) defines the parameters as follows:

- ``externalParameters.source``: ``{repository, ref, commit}``, the git revision that was built;
  ``externalParameters.workflow``: ``{ref, repository, path}`` when a CI workflow ran the build
  (the same object GitHub's ``https://actions.github.io/buildtypes/workflow/v1`` records);
- ``internalParameters.buildEnvironment``: ``build-env.json`` written by ``trustyard build``
  (backend, build requirements, Python, platform, ``SOURCE_DATE_EPOCH``); ``internalParameters``
  also holds the CI's own facts under ``github`` or ``gitlab``, and ``builder: "local"`` when the
  build ran on somebody's machine rather than in a CI service;
- ``resolvedDependencies``: first ``git+<repository>@<ref>`` with its ``gitCommit``, then every
  pinned build dependency as ``pkg:pypi/<name>@<version>`` with the sha256 hashes it was
  installed under (``digest`` when there is exactly one, ``annotations.sha256`` always);
- ``runDetails.builder.id``: the CI workflow at its ref, or ``LOCAL_BUILDER_ID``;
  ``runDetails.metadata.invocationId``: the CI run (attempt), absent for a local build;
  ``runDetails.byproducts``: ``build-env.json``, its sha256 and (when the record's bytes are
  given) the bytes themselves as the ResourceDescriptor's ``content`` (base64, ``mediaType``
  ``application/json``), so that the signed provenance alone lets anyone replay the build.

Why a byproduct: SLSA v1.0 (https://slsa.dev/spec/v1.0/provenance#rundetails) keeps
``byproducts`` for artifacts the build makes besides its outputs that a later reader may need,
naming a digest of the fully evaluated build configuration as an example: that is what
``build-env.json`` is. It is not a resolved dependency (nothing was fetched by its name; the
pins inside it are, and they are listed as such). The in-toto ResourceDescriptor
(https://github.com/in-toto/attestation/blob/main/spec/v1/resource_descriptor.md) carries a
small resource inline in ``content``, base64 in JSON (the protobuf JSON mapping of bytes).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from trustyard.errors import InvalidInput

__all__ = [
    "BUILD_TYPE",
    "LOCAL_BUILDER_ID",
    "MAX_STATEMENT_BYTES",
    "SLSA_PROVENANCE_V1",
    "STATEMENT_TYPE",
    "BuildEnvironment",
    "Builder",
    "Dependency",
    "InvalidStatement",
    "ParsedProvenance",
    "ResourceDescriptor",
    "SourceRevision",
    "Subject",
    "build_provenance",
    "detect_builder",
    "parse_provenance",
    "provenance_line",
    "serialize_statement",
]

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
SLSA_PROVENANCE_V1 = "https://slsa.dev/provenance/v1"
BUILD_TYPE = "urn:trustyard:buildtype:release:v1"
LOCAL_BUILDER_ID = "urn:trustyard:builder:local-machine"
MAX_STATEMENT_BYTES = 4 << 20  # a statement this large is an attack, not a release
BUNDLE_MEDIA_PREFIX = "application/vnd.dev.sigstore.bundle"
_HEX = re.compile(r"^[0-9a-f]+$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_COMMIT = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")

BuilderKind = Literal["github", "gitlab", "local"]


class InvalidStatement(InvalidInput):
    """A statement (or a provenance file line) that is not a well-formed SLSA v1 provenance."""


@dataclass(frozen=True)
class Subject:
    """One artifact the statement is about: its filename and sha256."""

    name: str
    sha256: str


@dataclass(frozen=True)
class SourceRevision:
    """The git revision that was built; ``ref`` is a full ref (``refs/tags/v1.0``) or None."""

    repository: str
    commit: str
    ref: str | None = None

    @property
    def uri(self) -> str:
        """SLSA's git URI form (``git+https://host/o/r@refs/tags/v1``), as GitHub writes it."""
        return f"git+{self.repository}@{self.ref or self.commit}"


@dataclass(frozen=True)
class Dependency:
    """A pinned build dependency and the sha256 hashes it may be installed under."""

    name: str
    version: str
    sha256: tuple[str, ...]


@dataclass(frozen=True)
class BuildEnvironment:
    """What ``build-env.json`` says about the build environment, and that file's digest."""

    backend: Mapping[str, str]
    build_requires: tuple[str, ...]
    dependencies: tuple[Dependency, ...]
    python: Mapping[str, str]
    platform: str
    record_sha256: str
    source_date_epoch: int | None = None
    record: bytes = b""
    """``build-env.json``'s exact bytes, carried inside the provenance (empty: digest only)."""


@dataclass(frozen=True)
class Builder:
    """Who ran the build: a CI workflow run, or this machine.

    ``workflow`` is ``externalParameters.workflow``; ``facts`` is the CI's own
    ``internalParameters`` entry; ``repository``/``ref``/``commit`` are what the CI says about
    the checked-out source (empty for a local build).
    """

    kind: BuilderKind
    id: str
    invocation_id: str | None = None
    workflow: Mapping[str, str] | None = None
    facts: Mapping[str, str] = field(default_factory=dict)
    repository: str = ""
    ref: str = ""
    commit: str = ""

    def describe(self) -> str:
        """One line for people."""
        if self.kind == "local":
            return "this machine (not a CI run: no CI service vouches for the build)"
        run = f", run {self.invocation_id}" if self.invocation_id else ""
        return f"{self.id}{run}"


@dataclass(frozen=True)
class ResourceDescriptor:
    """An in-toto v1 ResourceDescriptor, with the fields provenance uses."""

    uri: str | None
    name: str | None
    digest: Mapping[str, str]
    annotations: Mapping[str, Any] = field(default_factory=dict)
    content: bytes | None = None
    media_type: str | None = None


@dataclass(frozen=True)
class ParsedProvenance:
    """A validated SLSA v1 provenance statement (any build type, e.g. GitHub's)."""

    subjects: tuple[Subject, ...]
    build_type: str
    external_parameters: Mapping[str, Any]
    internal_parameters: Mapping[str, Any]
    resolved_dependencies: tuple[ResourceDescriptor, ...]
    builder_id: str
    invocation_id: str | None
    raw: Mapping[str, Any]
    byproducts: tuple[ResourceDescriptor, ...] = ()

    def byproduct(self, name: str) -> bytes | None:
        """The ``content`` of the byproduct called ``name`` (``build-env.json``), checked against
        its sha256 digest; None when no byproduct of that name carries content."""
        for item in self.byproducts:
            if item.name != name or item.content is None:
                continue
            expected = item.digest.get("sha256")
            actual = hashlib.sha256(item.content).hexdigest()
            if expected != actual:
                raise InvalidStatement(
                    f"the byproduct {name} hashes to {actual}, but its digest says {expected}"
                )
            return item.content
        return None

    def source(self) -> SourceRevision | None:
        """The first ``git+`` dependency with a ``gitCommit`` digest, as a revision."""
        for dep in self.resolved_dependencies:
            commit = dep.digest.get("gitCommit")
            if dep.uri and dep.uri.startswith("git+") and commit:
                location, _, ref = dep.uri.removeprefix("git+").rpartition("@")
                if not location:
                    location, ref = ref, ""
                return SourceRevision(location, commit, ref if ref and ref != commit else None)
        return None


# -- building -------------------------------------------------------------------------------------


def detect_builder(environ: Mapping[str, str]) -> Builder:
    """The builder named by the CI environment: GitHub Actions, GitLab CI, or this machine.

    GitHub: builder id ``$GITHUB_SERVER_URL/$GITHUB_WORKFLOW_REF`` (the Fulcio Build Config URI,
    as actions/attest-build-provenance writes it), invocation
    ``$GITHUB_SERVER_URL/$GITHUB_REPOSITORY/actions/runs/$GITHUB_RUN_ID/attempts/$GITHUB_RUN_ATTEMPT``.
    GitLab: ``$CI_SERVER_URL/$CI_PROJECT_PATH//$CI_CONFIG_PATH@<ref>`` (Fulcio's GitLab Build
    Config URI form), invocation ``$CI_JOB_URL``.
    """
    if environ.get("GITHUB_ACTIONS") == "true":
        return _github_builder(environ)
    if environ.get("GITLAB_CI") == "true":
        return _gitlab_builder(environ)
    return Builder(kind="local", id=LOCAL_BUILDER_ID)


def _require(environ: Mapping[str, str], names: Sequence[str], ci: str) -> None:
    missing = [n for n in names if not environ.get(n)]
    if missing:
        raise InvalidInput(
            f"{ci} detected, but its environment lacks {', '.join(missing)}: cannot name the "
            "builder in the provenance"
        )


def _github_builder(environ: Mapping[str, str]) -> Builder:
    _require(environ, ("GITHUB_REPOSITORY", "GITHUB_WORKFLOW_REF"), "GitHub Actions")
    server = (environ.get("GITHUB_SERVER_URL") or "https://github.com").rstrip("/")
    repository = environ["GITHUB_REPOSITORY"]
    workflow_ref = environ["GITHUB_WORKFLOW_REF"]  # owner/repo/.github/workflows/x.yml@refs/...
    path_part, _, ref = workflow_ref.partition("@")
    prefix = f"{repository}/"
    if not ref or not path_part.lower().startswith(prefix.lower()):
        raise InvalidInput(
            f"GITHUB_WORKFLOW_REF {workflow_ref!r} is not OWNER/REPO/PATH@REF of "
            f"GITHUB_REPOSITORY {repository!r}"
        )
    run_id = environ.get("GITHUB_RUN_ID", "")
    attempt = environ.get("GITHUB_RUN_ATTEMPT", "1") or "1"
    invocation = (
        f"{server}/{repository}/actions/runs/{run_id}/attempts/{attempt}" if run_id else None
    )
    facts = {
        key: environ[var]
        for key, var in (
            ("event_name", "GITHUB_EVENT_NAME"),
            ("repository_id", "GITHUB_REPOSITORY_ID"),
            ("repository_owner_id", "GITHUB_REPOSITORY_OWNER_ID"),
            ("runner_environment", "RUNNER_ENVIRONMENT"),
        )
        if environ.get(var)
    }
    return Builder(
        kind="github",
        id=f"{server}/{workflow_ref}",
        invocation_id=invocation,
        workflow={
            "ref": ref,
            "repository": f"{server}/{repository}",
            "path": path_part[len(prefix) :],
        },
        facts=facts,
        repository=f"{server}/{repository}",
        ref=environ.get("GITHUB_REF", ""),
        commit=environ.get("GITHUB_SHA", ""),
    )


def _gitlab_builder(environ: Mapping[str, str]) -> Builder:
    _require(environ, ("CI_PROJECT_PATH", "CI_COMMIT_SHA"), "GitLab CI")
    server = (environ.get("CI_SERVER_URL") or "https://gitlab.com").rstrip("/")
    project = environ["CI_PROJECT_PATH"]
    config = environ.get("CI_CONFIG_PATH", "") or ".gitlab-ci.yml"
    if environ.get("CI_COMMIT_TAG"):
        ref = f"refs/tags/{environ['CI_COMMIT_TAG']}"
    elif environ.get("CI_COMMIT_BRANCH") or environ.get("CI_COMMIT_REF_NAME"):
        ref = f"refs/heads/{environ.get('CI_COMMIT_BRANCH') or environ['CI_COMMIT_REF_NAME']}"
    else:
        ref = environ["CI_COMMIT_SHA"]
    job_url = environ.get("CI_JOB_URL") or (
        f"{server}/{project}/-/jobs/{environ['CI_JOB_ID']}" if environ.get("CI_JOB_ID") else None
    )
    facts = {
        key: environ[var]
        for key, var in (
            ("project_id", "CI_PROJECT_ID"),
            ("pipeline_id", "CI_PIPELINE_ID"),
            ("pipeline_source", "CI_PIPELINE_SOURCE"),
            ("runner_environment", "CI_RUNNER_ENVIRONMENT"),
        )
        if environ.get(var)
    }
    return Builder(
        kind="gitlab",
        id=f"{server}/{project}//{config}@{ref}",
        invocation_id=job_url,
        workflow={"ref": ref, "repository": f"{server}/{project}", "path": config},
        facts=facts,
        repository=f"{server}/{project}",
        ref=ref,
        commit=environ["CI_COMMIT_SHA"],
    )


def build_provenance(
    subjects: Sequence[Subject],
    source: SourceRevision,
    environment: BuildEnvironment,
    builder: Builder,
    *,
    builder_version: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The in-toto Statement v1 (a JSON-ready dict) with a SLSA v1 provenance predicate."""
    problems = [
        f"subject {s.name!r} has no valid sha256"
        for s in subjects
        if not s.name or not _SHA256.match(s.sha256)
    ]
    if not subjects:
        problems.append("a statement needs at least one subject")
    if len({s.name for s in subjects}) != len(subjects):
        problems.append("subject names must be unique")
    if not _COMMIT.match(source.commit):
        problems.append(f"commit {source.commit!r} is not a full git commit id")
    if problems:
        raise InvalidStatement("cannot build the provenance: " + "; ".join(problems))
    external: dict[str, Any] = {
        "source": {
            "repository": source.repository,
            "ref": source.ref or "",
            "commit": source.commit,
        }
    }
    if builder.workflow is not None:
        external["workflow"] = dict(builder.workflow)
    internal: dict[str, Any] = {"buildEnvironment": _environment_json(environment)}
    if builder.kind == "local":
        internal["builder"] = "local"
    else:
        internal[builder.kind] = dict(builder.facts)
    dependencies: list[dict[str, Any]] = [
        {"uri": source.uri, "digest": {"gitCommit": source.commit}}
    ]
    for dep in environment.dependencies:
        entry: dict[str, Any] = {
            "uri": f"pkg:pypi/{dep.name.lower()}@{dep.version}",
            "name": dep.name,
            "annotations": {"sha256": list(dep.sha256)},
        }
        if len(dep.sha256) == 1:
            entry["digest"] = {"sha256": dep.sha256[0]}
        dependencies.append(entry)
    run_details: dict[str, Any] = {"builder": {"id": builder.id}}
    if builder_version:
        run_details["builder"]["version"] = dict(builder_version)
    if builder.invocation_id:
        run_details["metadata"] = {"invocationId": builder.invocation_id}
    record: dict[str, Any] = {
        "name": "build-env.json",
        "digest": {"sha256": environment.record_sha256},
    }
    if environment.record:
        actual = hashlib.sha256(environment.record).hexdigest()
        if actual != environment.record_sha256:
            raise InvalidStatement(
                f"build-env.json hashes to {actual}, not the {environment.record_sha256} recorded"
            )
        record["content"] = base64.b64encode(environment.record).decode("ascii")
        record["mediaType"] = "application/json"
    run_details["byproducts"] = [record]
    return {
        "_type": STATEMENT_TYPE,
        "subject": [
            {"name": s.name, "digest": {"sha256": s.sha256}}
            for s in sorted(subjects, key=lambda s: s.name)
        ],
        "predicateType": SLSA_PROVENANCE_V1,
        "predicate": {
            "buildDefinition": {
                "buildType": BUILD_TYPE,
                "externalParameters": external,
                "internalParameters": internal,
                "resolvedDependencies": dependencies,
            },
            "runDetails": run_details,
        },
    }


def _environment_json(environment: BuildEnvironment) -> dict[str, Any]:
    document: dict[str, Any] = {
        "backend": dict(environment.backend),
        "build_requires": list(environment.build_requires),
        "python": dict(environment.python),
        "platform": environment.platform,
    }
    if environment.source_date_epoch is not None:
        document["source_date_epoch"] = environment.source_date_epoch
    return document


def serialize_statement(statement: Mapping[str, Any]) -> bytes:
    """The statement's canonical bytes: sorted keys, no spaces, one line (for JSON Lines)."""
    return json.dumps(statement, sort_keys=True, separators=(",", ":")).encode("utf-8")


# -- parsing --------------------------------------------------------------------------------------


def parse_provenance(data: bytes | str | Mapping[str, Any]) -> ParsedProvenance:
    """Validate an in-toto v1 statement with a SLSA v1 provenance predicate; every problem is
    reported together."""
    doc = _load_object(data, "statement")
    problems: list[str] = []
    if doc.get("_type") != STATEMENT_TYPE:
        problems.append(f"_type must be {STATEMENT_TYPE!r}, not {doc.get('_type')!r}")
    subjects = _subjects(doc.get("subject"), problems)
    if doc.get("predicateType") != SLSA_PROVENANCE_V1:
        problems.append(
            f"predicateType must be {SLSA_PROVENANCE_V1!r}, not {doc.get('predicateType')!r}"
        )
    predicate = _object(doc, "predicate", problems, "")
    definition = _object(predicate, "buildDefinition", problems, "predicate.")
    run = _object(predicate, "runDetails", problems, "predicate.")
    build_type = definition.get("buildType")
    if not isinstance(build_type, str) or not build_type:
        problems.append("predicate.buildDefinition.buildType must be a non-empty string")
    external = _object(definition, "externalParameters", problems, "predicate.buildDefinition.")
    internal = definition.get("internalParameters", {})
    if not isinstance(internal, dict):
        problems.append("predicate.buildDefinition.internalParameters must be an object")
        internal = {}
    dependencies = _descriptors(
        definition.get("resolvedDependencies", []),
        "predicate.buildDefinition.resolvedDependencies",
        problems,
    )
    builder = _object(run, "builder", problems, "predicate.runDetails.")
    builder_id = builder.get("id")
    if not isinstance(builder_id, str) or not builder_id:
        problems.append("predicate.runDetails.builder.id must be a non-empty string")
    byproducts = _descriptors(
        run.get("byproducts", []), "predicate.runDetails.byproducts", problems
    )
    metadata = run.get("metadata", {})
    invocation = metadata.get("invocationId") if isinstance(metadata, dict) else None
    if not isinstance(metadata, dict) or (
        invocation is not None and not isinstance(invocation, str)
    ):
        problems.append("predicate.runDetails.metadata.invocationId must be a string")
        invocation = None
    if problems:
        raise InvalidStatement("not a SLSA v1 provenance statement: " + "; ".join(problems))
    return ParsedProvenance(
        subjects=subjects,
        build_type=str(build_type),
        external_parameters=external,
        internal_parameters=internal,
        resolved_dependencies=dependencies,
        builder_id=str(builder_id),
        invocation_id=invocation,
        raw=doc,
        byproducts=byproducts,
    )


def provenance_line(line: bytes | str) -> tuple[bytes, Mapping[str, Any] | None]:
    """One line of a ``.intoto.jsonl`` file: the statement's bytes, and the Sigstore bundle that
    carries it (``None`` for an unsigned statement line).

    A signed line is a Sigstore bundle (``mediaType`` ``application/vnd.dev.sigstore.bundle...``)
    whose DSSE envelope's payload is the statement, as slsa-github-generator v2.1 writes; an
    unsigned line is the bare statement. The signature is NOT checked here.
    """
    doc = _load_object(line, "provenance line")
    media = doc.get("mediaType")
    if not isinstance(media, str) or not media.startswith(BUNDLE_MEDIA_PREFIX):
        if "_type" not in doc:
            raise InvalidStatement(
                "a provenance line must be an in-toto statement or a Sigstore bundle"
            )
        return (line.encode("utf-8") if isinstance(line, str) else line).strip(), None
    envelope = doc.get("dsseEnvelope")
    if not isinstance(envelope, dict):
        raise InvalidStatement("the Sigstore bundle holds no DSSE envelope")
    if envelope.get("payloadType") != "application/vnd.in-toto+json":
        raise InvalidStatement(
            f"the DSSE payload type is {envelope.get('payloadType')!r}, not in-toto"
        )
    try:
        payload = base64.b64decode(str(envelope.get("payload", "")), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidStatement("the DSSE payload is not base64") from exc
    return payload, doc


def _load_object(data: bytes | str | Mapping[str, Any], what: str) -> dict[str, Any]:
    if isinstance(data, Mapping):
        return dict(data)
    if len(data) > MAX_STATEMENT_BYTES:
        raise InvalidStatement(f"the {what} is larger than {MAX_STATEMENT_BYTES} bytes")
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise InvalidStatement(f"the {what} is not JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise InvalidStatement(f"the {what} must be a JSON object")
    return doc


def _object(parent: Mapping[str, Any], key: str, problems: list[str], path: str) -> dict[str, Any]:
    value = parent.get(key)
    if not isinstance(value, dict):
        problems.append(f"{path}{key} must be an object")
        return {}
    return value


def _subjects(value: object, problems: list[str]) -> tuple[Subject, ...]:
    if not isinstance(value, list) or not value:
        problems.append("subject must be a non-empty list")
        return ()
    subjects = []
    for index, item in enumerate(value):
        name = item.get("name") if isinstance(item, dict) else None
        digest = item.get("digest") if isinstance(item, dict) else None
        if not isinstance(name, str) or not name:
            problems.append(f"subject[{index}].name must be a non-empty string")
            continue
        if not isinstance(digest, dict) or not digest:
            problems.append(f"subject[{index}] ({name}) needs a digest")
            continue
        bad = [k for k, v in digest.items() if not isinstance(v, str) or not _HEX.match(v)]
        if bad:
            problems.append(f"subject[{index}] ({name}) has non-hex digests: {', '.join(bad)}")
        sha256 = digest.get("sha256", "")
        if sha256 and not _SHA256.match(str(sha256)):
            problems.append(f"subject[{index}] ({name}) sha256 is not 64 hex digits")
        subjects.append(Subject(name, str(sha256)))
    return tuple(subjects)


def _descriptors(value: object, path: str, problems: list[str]) -> tuple[ResourceDescriptor, ...]:
    if not isinstance(value, list):
        problems.append(f"{path} must be a list")
        return ()
    found = []
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            problems.append(f"{path}[{index}] must be an object")
            continue
        uri, name, digest = item.get("uri"), item.get("name"), item.get("digest", {})
        annotations = item.get("annotations", {})
        if uri is not None and not isinstance(uri, str):
            problems.append(f"{path}[{index}].uri must be a string")
            uri = None
        if name is not None and not isinstance(name, str):
            problems.append(f"{path}[{index}].name must be a string")
            name = None
        if not isinstance(digest, dict) or not all(
            isinstance(v, str) and _HEX.match(v) for v in digest.values()
        ):
            problems.append(f"{path}[{index}].digest must map algorithms to hex digests")
            digest = {}
        if not isinstance(annotations, dict):
            problems.append(f"{path}[{index}].annotations must be an object")
            annotations = {}
        content = _content(item, f"{path}[{index}]", problems)
        media = item.get("mediaType")
        if media is not None and not isinstance(media, str):
            problems.append(f"{path}[{index}].mediaType must be a string")
            media = None
        if uri is None and not digest and "content" not in item:
            problems.append(f"{path}[{index}] needs a uri, a digest or content")
        found.append(ResourceDescriptor(uri, name, digest, annotations, content, media))
    return tuple(found)


def _content(item: Mapping[str, Any], path: str, problems: list[str]) -> bytes | None:
    """A ResourceDescriptor's ``content``: bytes, base64 in JSON (standard alphabet, padded)."""
    value = item.get("content")
    if value is None:
        return None
    if not isinstance(value, str):
        problems.append(f"{path}.content must be a base64 string")
        return None
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        problems.append(f"{path}.content is not base64")
        return None


def __dir__() -> list[str]:
    return __all__
