"""The upload's ``attestations`` field: PyPI's rules in PyPI's order, with PyPI's messages."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.attestations.vectors import (
    PROVENANCE,
    PUBLISH,
    PUBLISH_V1,
    REPOSITORY,
    SDIST,
    SLSA,
    WORKFLOW,
    document,
    field,
    sha256,
)
from trustyard.attestations.identity import attestation_identity
from trustyard.attestations.trust import AttestationError
from trustyard.attestations.verify import (
    MAX_FIELD_BYTES,
    check_upload_attestations,
    parse_attestations,
)
from trustyard.oidc.publishers import KINDS

REFUSED = "Invalid attestations supplied during upload: "
GITHUB = {"repository": REPOSITORY, "workflow": WORKFLOW}


def identity(kind: str, config: dict[str, str]) -> Any:
    """The identity of a publisher of ``kind`` (its PEP 740 object, from the kind's module)."""
    return attestation_identity(KINDS[kind].display_name, KINDS[kind].attestation_publisher(config))


def check(values: list[str], kind: str | None = "github", **config: str) -> dict[str, Any]:
    return check_upload_attestations(
        values,
        publisher_kind=KINDS[kind].display_name if kind else None,
        publisher_identity=KINDS[kind].attestation_publisher({**GITHUB, **config})
        if kind
        else None,
        filename=SDIST.name,
        sha256=sha256(SDIST),
        trust=None,
    )


def refusal(values: list[str], kind: str | None = "github", **config: str) -> str:
    with pytest.raises(AttestationError) as caught:
        check(values, kind, **config)
    assert caught.value.status == 400
    return caught.value.message


def test_both_real_attestations_become_pypis_provenance() -> None:
    provenance = check([field(PUBLISH, SLSA)])
    assert provenance["version"] == 1
    [bundle] = provenance["attestation_bundles"]
    assert bundle["publisher"] == {
        "kind": "GitHub",
        "repository": REPOSITORY,
        "workflow": WORKFLOW,
        "environment": None,
    }
    assert bundle["attestations"] == [document(PUBLISH), document(SLSA)]


def test_the_publish_attestation_alone_gives_pypis_own_provenance_file() -> None:
    assert check([field(PUBLISH)]) == json.loads(PROVENANCE.read_text())


def test_the_environment_is_recorded() -> None:
    provenance = check([field(PUBLISH)], environment="pypi")
    assert provenance["attestation_bundles"][0]["publisher"]["environment"] == "pypi"


ONE = field(PUBLISH)


@pytest.mark.parametrize(
    ("values", "kind", "message"),
    [
        ([ONE], None, "Attestations are only supported when using Trusted Publishing"),
        (["garbage"], None, "Attestations are only supported when using Trusted Publishing"),
        ([ONE], "oidc", "Attestations are not currently supported with OIDC publishers"),
        (["garbage"], "oidc", "Attestations are not currently supported with OIDC publishers"),
        (["[]"], "github", "Malformed attestations: an empty attestation set is not permitted"),
        (
            [field(PUBLISH, SLSA, PUBLISH)],
            "github",
            "A maximum of 2 attestations per file are supported",
        ),
        (
            [field(PUBLISH, PUBLISH)],
            "github",
            "Multiple attestations for the same file with the same predicate type"
            f" ({PUBLISH_V1}) are not supported",
        ),
        (
            [ONE, ONE],
            "github",
            "Malformed attestations: the field was sent 2 times; send one JSON list",
        ),
    ],
    ids=[
        "api-token",
        "api-token-before-parsing",
        "generic-publisher",
        "generic-before-parsing",
        "empty",
        "three",
        "two-of-a-kind",
        "field-twice",
    ],
)
def test_refusals_in_pypis_order(values: list[str], kind: str | None, message: str) -> None:
    assert refusal(values, kind) == REFUSED + message


@pytest.mark.parametrize(
    ("value", "detail"),
    [
        ("", "Invalid JSON: EOF while parsing a value"),
        ("{nope", "Invalid JSON: key must be a string"),
        ("{}", "Input should be a valid array"),
        ("[1]", "Input should be an object"),
        ('[{"version": 2}]', "Input should be 1"),
        (
            json.dumps([{**document(PUBLISH), "envelope": {"statement": "A", "signature": ""}}]),
            "Base64 decoding error",
        ),
    ],
    ids=["empty-string", "not-json", "object", "not-objects", "version-2", "bad-base64"],
)
def test_malformed_fields_say_what_is_wrong(value: str, detail: str) -> None:
    message = refusal([value])
    assert message.startswith(REFUSED + "Malformed attestations: ")
    assert detail in message


def test_thousands_of_errors_are_summed_up() -> None:
    value = json.dumps(
        [
            {
                **document(PUBLISH),
                "verification_material": {"certificate": "", "transparency_entries": [1] * 5000},
            }
        ]
    )
    message = refusal([value])
    assert message.startswith(REFUSED + "Malformed attestations: 5000 validation errors")
    assert "the first: 0.verification_material.transparency_entries.0:" in message
    assert len(message) < 2000


def test_an_oversized_field_is_refused_before_parsing() -> None:
    value = "[" + " " * MAX_FIELD_BYTES + "]"
    assert refusal([value]) == (
        REFUSED + f"Malformed attestations: the field is {MAX_FIELD_BYTES + 2} bytes,"
        f" more than the {MAX_FIELD_BYTES} allowed"
    )


def test_parse_keeps_the_uploaded_attestations() -> None:
    [one, two] = parse_attestations([field(PUBLISH, SLSA)])
    assert json.loads(one.model_dump_json()) == document(PUBLISH)
    assert json.loads(two.model_dump_json()) == document(SLSA)


# -- identities --------------------------------------------------------------------------------


def test_identities_of_each_kind() -> None:
    github = identity("github", {"repository": "o/r", "workflow": "w.yml"})
    assert github.model_dump() == {
        "kind": "GitHub",
        "repository": "o/r",
        "workflow": "w.yml",
        "environment": None,
    }
    gitlab = identity(
        "gitlab",
        {"project": "g/p", "workflow_path": ".gitlab-ci.yml", "environment": "prod"},
    )
    assert gitlab.model_dump() == {
        "kind": "GitLab",
        "repository": "g/p",
        "workflow_filepath": ".gitlab-ci.yml",
        "environment": "prod",
    }
    google = identity("google", {"email": "ci@p.iam.gserviceaccount.com"})
    assert google.model_dump() == {"kind": "Google", "email": "ci@p.iam.gserviceaccount.com"}


def test_kinds_without_an_identity() -> None:
    with pytest.raises(AttestationError) as caught:
        identity("oidc", {"issuer": "https://ci.example"})
    assert caught.value.message == "Attestations are not currently supported with OIDC publishers"
    with pytest.raises(AttestationError) as caught:
        attestation_identity("circleci", None)
    assert caught.value.message == (
        "Attestations are not currently supported with circleci publishers"
    )


def test_a_registered_identity_that_does_not_match_is_refused_by_verification() -> None:
    message = refusal([ONE], "github", repository="trailofbits/other")
    assert message == (
        REFUSED + "Could not verify the uploaded artifact using the included attestation:"
        " Verification failed: Certificate's OIDCSourceRepositoryURI does not match"
        f" (got https://github.com/{REPOSITORY}, expected https://github.com/trailofbits/other)"
    )
    message = refusal([ONE], "gitlab", project=REPOSITORY, workflow_path=".gitlab-ci.yml")
    assert message.startswith(REFUSED + "Could not verify the uploaded artifact")
