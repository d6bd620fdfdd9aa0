"""SLSA v1 provenance statements: built in the shape of the real example (actions/attest-build-
provenance's statement for pypi-attestations 0.0.19), parsed strictly, builders found from CI
environments."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from trustyard.attestations.statements import (
    BUILD_TYPE,
    LOCAL_BUILDER_ID,
    MAX_STATEMENT_BYTES,
    SLSA_PROVENANCE_V1,
    STATEMENT_TYPE,
    BuildEnvironment,
    Dependency,
    InvalidStatement,
    SourceRevision,
    Subject,
    build_provenance,
    detect_builder,
    parse_provenance,
    provenance_line,
    serialize_statement,
)
from trustyard.errors import InvalidInput

VECTORS = Path(__file__).resolve().parents[1] / "data" / "pypi-attestations"
COMMIT = "08802efe1f8e5fec4ad842d6b8ce97656092ee72"
SHA_A = "a" * 64
SHA_B = "b" * 64
GITHUB = {
    "GITHUB_ACTIONS": "true",
    "GITHUB_SERVER_URL": "https://github.com",
    "GITHUB_REPOSITORY": "octo/proj",
    "GITHUB_WORKFLOW_REF": "octo/proj/.github/workflows/release.yml@refs/tags/v1.0.0",
    "GITHUB_RUN_ID": "12169989787",
    "GITHUB_RUN_ATTEMPT": "2",
    "GITHUB_REF": "refs/tags/v1.0.0",
    "GITHUB_SHA": COMMIT,
    "GITHUB_EVENT_NAME": "push",
    "GITHUB_REPOSITORY_ID": "772247423",
    "GITHUB_REPOSITORY_OWNER_ID": "2314423",
    "RUNNER_ENVIRONMENT": "github-hosted",
}
GITLAB = {
    "GITLAB_CI": "true",
    "CI_SERVER_URL": "https://gitlab.example.org",
    "CI_PROJECT_PATH": "group/sub/proj",
    "CI_CONFIG_PATH": "ci/release.yml",
    "CI_COMMIT_TAG": "v1.0.0",
    "CI_COMMIT_REF_NAME": "v1.0.0",
    "CI_COMMIT_SHA": COMMIT,
    "CI_JOB_URL": "https://gitlab.example.org/group/sub/proj/-/jobs/77",
    "CI_PIPELINE_ID": "55",
    "CI_PROJECT_ID": "9",
}
ENVIRONMENT = BuildEnvironment(
    backend={"name": "hatchling", "version": "1.27.0", "entry_point": "hatchling.build"},
    build_requires=("hatchling",),
    dependencies=(
        Dependency("hatchling", "1.27.0", (SHA_A,)),
        Dependency("packaging", "25.0", (SHA_A, SHA_B)),
    ),
    python={"version": "3.11.9", "implementation": "CPython"},
    platform="linux-x86_64",
    record_sha256=SHA_B,
    source_date_epoch=1709528767,
)
SOURCE = SourceRevision("https://github.com/octo/proj", COMMIT, "refs/tags/v1.0.0")
SUBJECTS = [Subject("proj-1.0.0.tar.gz", SHA_A), Subject("proj-1.0.0-py3-none-any.whl", SHA_B)]


def real_statement() -> dict[str, Any]:
    """The statement inside the real SLSA v1 attestation shipped with pypi-attestations."""
    attestation = json.loads(
        (VECTORS / "pypi_attestations-0.0.19.tar.gz.slsa.attestation").read_text()
    )
    document: dict[str, Any] = json.loads(base64.b64decode(attestation["envelope"]["statement"]))
    return document


def shape(value: Any) -> Any:
    """The JSON type skeleton of a document: objects keep keys, lists their first item."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return type(value).__name__


def test_github_statement_has_the_real_examples_shape() -> None:
    real = real_statement()
    ours = build_provenance(SUBJECTS, SOURCE, ENVIRONMENT, detect_builder(GITHUB))
    # every key path of the real statement exists in ours with the same JSON type
    real_shape, our_shape = shape(real), shape(ours)

    def covered(theirs: Any, mine: Any, path: str) -> None:
        if isinstance(theirs, dict):
            assert isinstance(mine, dict), path
            for key, value in theirs.items():
                if path.endswith("internalParameters") and key == "github":
                    continue  # checked below: facts come from the environment
                assert key in mine, f"{path}.{key} missing"
                covered(value, mine[key], f"{path}.{key}")
        elif isinstance(theirs, list) and theirs:
            covered(theirs[0], mine[0], f"{path}[0]")
        else:
            assert theirs == mine, path

    covered(real_shape, our_shape, "")
    assert ours["_type"] == STATEMENT_TYPE == real["_type"]
    assert ours["predicateType"] == SLSA_PROVENANCE_V1 == real["predicateType"]
    definition = ours["predicate"]["buildDefinition"]
    assert definition["buildType"] == BUILD_TYPE
    assert definition["externalParameters"]["workflow"] == {
        "ref": "refs/tags/v1.0.0",
        "repository": "https://github.com/octo/proj",
        "path": ".github/workflows/release.yml",
    }
    assert definition["externalParameters"]["source"] == {
        "repository": "https://github.com/octo/proj",
        "ref": "refs/tags/v1.0.0",
        "commit": COMMIT,
    }
    assert definition["internalParameters"]["github"] == {
        "event_name": "push",
        "repository_id": "772247423",
        "repository_owner_id": "2314423",
        "runner_environment": "github-hosted",
    }
    assert definition["internalParameters"]["buildEnvironment"] == {
        "backend": {"name": "hatchling", "version": "1.27.0", "entry_point": "hatchling.build"},
        "build_requires": ["hatchling"],
        "python": {"version": "3.11.9", "implementation": "CPython"},
        "platform": "linux-x86_64",
        "source_date_epoch": 1709528767,
    }
    assert definition["resolvedDependencies"] == [
        {
            "uri": "git+https://github.com/octo/proj@refs/tags/v1.0.0",
            "digest": {"gitCommit": COMMIT},
        },
        {
            "uri": "pkg:pypi/hatchling@1.27.0",
            "name": "hatchling",
            "annotations": {"sha256": [SHA_A]},
            "digest": {"sha256": SHA_A},
        },
        {
            "uri": "pkg:pypi/packaging@25.0",
            "name": "packaging",
            "annotations": {"sha256": [SHA_A, SHA_B]},
        },
    ]
    run = ours["predicate"]["runDetails"]
    assert run["builder"]["id"] == (
        "https://github.com/octo/proj/.github/workflows/release.yml@refs/tags/v1.0.0"
    )
    assert run["metadata"]["invocationId"] == (
        "https://github.com/octo/proj/actions/runs/12169989787/attempts/2"
    )
    assert run["byproducts"] == [{"name": "build-env.json", "digest": {"sha256": SHA_B}}]
    # subjects sorted by name, each with its sha256
    assert [s["name"] for s in ours["subject"]] == sorted(s.name for s in SUBJECTS)


def test_real_example_parses_and_names_its_source() -> None:
    parsed = parse_provenance(json.dumps(real_statement()))
    assert parsed.builder_id == (
        "https://github.com/trailofbits/pypi-attestations/.github/workflows/release.yml"
        "@refs/tags/v0.0.19"
    )
    assert parsed.invocation_id is not None
    assert parsed.invocation_id.endswith("/actions/runs/12169989787/attempts/1")
    assert parsed.source() == SourceRevision(
        "https://github.com/trailofbits/pypi-attestations", COMMIT, "refs/tags/v0.0.19"
    )
    assert parsed.subjects == (
        Subject(
            "pypi_attestations-0.0.19.tar.gz",
            "9bb1add04b1b4e182be6b0b80931593f7a291eb49d69b4fd728a5d4cbcdc4bd3",
        ),
    )


def test_our_statement_round_trips_through_the_parser() -> None:
    statement = build_provenance(SUBJECTS, SOURCE, ENVIRONMENT, detect_builder(GITLAB))
    data = serialize_statement(statement)
    assert b"\n" not in data  # one JSON Lines line
    parsed = parse_provenance(data)
    assert parsed.source() == SOURCE
    assert parsed.build_type == BUILD_TYPE
    assert set(parsed.subjects) == set(SUBJECTS)
    assert parsed.internal_parameters["gitlab"] == {"project_id": "9", "pipeline_id": "55"}


def test_local_builder_says_so() -> None:
    builder = detect_builder({"PATH": "/usr/bin", "CI": "true"})  # a CI we do not know: local
    assert builder.kind == "local"
    assert builder.id == LOCAL_BUILDER_ID
    assert "not a CI run" in builder.describe()
    statement = build_provenance(SUBJECTS, SOURCE, ENVIRONMENT, builder)
    predicate = statement["predicate"]
    assert predicate["runDetails"]["builder"] == {"id": LOCAL_BUILDER_ID}
    assert "metadata" not in predicate["runDetails"]
    assert predicate["buildDefinition"]["internalParameters"]["builder"] == "local"
    assert "workflow" not in predicate["buildDefinition"]["externalParameters"]


def test_gitlab_builder_uses_fulcios_build_config_form() -> None:
    builder = detect_builder(GITLAB)
    assert (
        builder.id == "https://gitlab.example.org/group/sub/proj//ci/release.yml@refs/tags/v1.0.0"
    )
    assert builder.invocation_id == "https://gitlab.example.org/group/sub/proj/-/jobs/77"
    assert builder.ref == "refs/tags/v1.0.0"
    assert builder.repository == "https://gitlab.example.org/group/sub/proj"
    branch = detect_builder(
        {k: v for k, v in GITLAB.items() if k not in {"CI_COMMIT_TAG", "CI_JOB_URL"}}
        | {"CI_COMMIT_BRANCH": "main", "CI_JOB_ID": "78", "CI_SERVER_URL": ""}
    )
    assert branch.id == "https://gitlab.com/group/sub/proj//ci/release.yml@refs/heads/main"
    assert branch.invocation_id == "https://gitlab.com/group/sub/proj/-/jobs/78"


def test_github_defaults_and_enterprise_server() -> None:
    minimal = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_REPOSITORY": "octo/proj",
        "GITHUB_WORKFLOW_REF": "octo/proj/.github/workflows/release.yml@refs/heads/main",
    }
    builder = detect_builder(minimal)
    assert (
        builder.id == "https://github.com/octo/proj/.github/workflows/release.yml@refs/heads/main"
    )
    assert builder.invocation_id is None  # no run id: no invented invocation
    ghes = detect_builder(
        minimal | {"GITHUB_SERVER_URL": "https://ghe.example.com/", "GITHUB_RUN_ID": "5"}
    )
    assert ghes.id.startswith("https://ghe.example.com/octo/proj/")
    assert ghes.invocation_id == "https://ghe.example.com/octo/proj/actions/runs/5/attempts/1"


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        (
            {"GITHUB_ACTIONS": "true"},
            "GitHub Actions detected, but its environment lacks GITHUB_REPOSITORY, "
            "GITHUB_WORKFLOW_REF",
        ),
        (
            {
                "GITHUB_ACTIONS": "true",
                "GITHUB_REPOSITORY": "octo/proj",
                "GITHUB_WORKFLOW_REF": "other/repo/.github/workflows/x.yml@refs/heads/main",
            },
            "is not OWNER/REPO/PATH@REF of GITHUB_REPOSITORY 'octo/proj'",
        ),
        (
            {
                "GITHUB_ACTIONS": "true",
                "GITHUB_REPOSITORY": "octo/proj",
                "GITHUB_WORKFLOW_REF": "octo/proj/.github/workflows/x.yml",
            },
            "is not OWNER/REPO/PATH@REF",
        ),
        ({"GITLAB_CI": "true"}, "GitLab CI detected, but its environment lacks CI_PROJECT_PATH"),
    ],
)
def test_broken_ci_environment_is_an_error(environ: dict[str, str], message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        detect_builder(environ)
    assert message in caught.value.diagnostics()


def test_build_refuses_bad_subjects_and_commit() -> None:
    with pytest.raises(InvalidStatement) as caught:
        build_provenance(
            [Subject("a.whl", "XYZ"), Subject("a.whl", SHA_A)],
            SourceRevision("https://x", "HEAD"),
            ENVIRONMENT,
            detect_builder({}),
        )
    message = caught.value.diagnostics()
    assert "subject 'a.whl' has no valid sha256" in message
    assert "subject names must be unique" in message
    assert "commit 'HEAD' is not a full git commit id" in message
    with pytest.raises(InvalidStatement, match="at least one subject"):
        build_provenance([], SOURCE, ENVIRONMENT, detect_builder({}))


def broken(change: dict[str, Any]) -> dict[str, Any]:
    statement = build_provenance(SUBJECTS, SOURCE, ENVIRONMENT, detect_builder(GITHUB))
    for path, value in change.items():
        target = statement
        *parents, last = path.split(".")
        for key in parents:
            target = target[key]
        if value is ...:
            del target[last]
        else:
            target[last] = value
    return statement


@pytest.mark.parametrize(
    ("change", "messages"),
    [
        (
            {"_type": "https://in-toto.io/Statement/v0.1"},
            ["_type must be 'https://in-toto.io/Statement/v1'"],
        ),
        ({"subject": []}, ["subject must be a non-empty list"]),
        (
            {"subject": [{"name": "", "digest": {}}, {"name": "x", "digest": {"sha256": "zz"}}]},
            ["subject[0].name must be a non-empty string", "subject[1] (x) has non-hex digests"],
        ),
        (
            {"subject": [{"name": "x", "digest": {"sha256": "ab"}}]},
            ["subject[0] (x) sha256 is not 64 hex digits"],
        ),
        (
            {"predicateType": "https://slsa.dev/provenance/v0.2", "predicate.runDetails": ...},
            ["predicateType must be", "predicate.runDetails must be an object"],
        ),
        (
            {
                "predicate.buildDefinition.buildType": 7,
                "predicate.buildDefinition.externalParameters": [],
                "predicate.buildDefinition.internalParameters": "x",
            },
            [
                "buildType must be a non-empty string",
                "externalParameters must be an object",
                "internalParameters must be an object",
            ],
        ),
        (
            {"predicate.buildDefinition.resolvedDependencies": [{}, 3, {"uri": 1, "digest": []}]},
            [
                "resolvedDependencies[0] needs a uri, a digest or content",
                "resolvedDependencies[1] must be an object",
                "resolvedDependencies[2].uri must be a string",
                "resolvedDependencies[2].digest must map algorithms to hex digests",
            ],
        ),
        (
            {
                "predicate.runDetails.builder.id": "",
                "predicate.runDetails.metadata": {"invocationId": 5},
            },
            ["builder.id must be a non-empty string", "metadata.invocationId must be a string"],
        ),
    ],
)
def test_parser_reports_every_problem(change: dict[str, Any], messages: list[str]) -> None:
    with pytest.raises(InvalidStatement) as caught:
        parse_provenance(broken(change))
    text = caught.value.diagnostics()
    assert text.startswith("not a SLSA v1 provenance statement: ")
    for message in messages:
        assert message in text


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "the statement is not JSON"),
        (b"[1, 2]", "the statement must be a JSON object"),
        (b"\xff\xfe", "the statement is not JSON"),
        (b"[" * 100_000, "the statement is not JSON"),
        (b" " * (MAX_STATEMENT_BYTES + 1), f"larger than {MAX_STATEMENT_BYTES} bytes"),
    ],
)
def test_parser_refuses_hostile_bytes(data: bytes, message: str) -> None:
    with pytest.raises(InvalidStatement) as caught:
        parse_provenance(data)
    assert message in caught.value.diagnostics()


def test_provenance_line_reads_bundles_and_bare_statements() -> None:
    statement = serialize_statement(
        build_provenance(SUBJECTS, SOURCE, ENVIRONMENT, detect_builder({}))
    )
    assert provenance_line(statement + b"\n") == (statement, None)
    bundle = {
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "dsseEnvelope": {
            "payload": base64.b64encode(statement).decode(),
            "payloadType": "application/vnd.in-toto+json",
            "signatures": [],
        },
    }
    payload, carried = provenance_line(json.dumps(bundle))
    assert payload == statement
    assert carried is not None
    assert carried["mediaType"].endswith("v0.3+json")
    for bad, message in [
        ({"hello": 1}, "must be an in-toto statement or a Sigstore bundle"),
        (bundle | {"dsseEnvelope": None}, "holds no DSSE envelope"),
        (
            bundle | {"dsseEnvelope": {"payloadType": "text/plain", "payload": ""}},
            "not in-toto",
        ),
        (
            bundle
            | {"dsseEnvelope": {"payloadType": "application/vnd.in-toto+json", "payload": "!!"}},
            "not base64",
        ),
    ]:
        with pytest.raises(InvalidStatement, match=message):
            provenance_line(json.dumps(bad))
