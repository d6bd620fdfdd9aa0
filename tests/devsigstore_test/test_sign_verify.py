"""PEP 740 attestations and SLSA provenance signed through the development Sigstore with the real
sigstore-python and pypi-attestations, verified against its trusted root, and every forgery refused."""

from __future__ import annotations

import base64
import datetime
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from pypi_attestations import Attestation, Distribution, GitHubPublisher, GitLabPublisher
from sigstore.dsse import DigestSet, StatementBuilder, Subject
from sigstore.errors import VerificationError
from sigstore.models import ClientTrustConfig
from sigstore.oidc import IdentityToken
from sigstore.sign import SigningContext
from sigstore.verify import Verifier, policy

from tests.devsigstore import GITHUB_ISSUER, GITLAB_ISSUER, SIGSTORE_AUDIENCE, start_dev_sigstore
from tests.devsigstore_test.conftest import RUN, wheel
from tests.oidc.conftest import DevIssuer, start_dev_issuer
from trustyard.oidc.devclaims import GitLabJob

PUBLISHER = GitHubPublisher(repository="octo/pkg", workflow="release.yml")


def sign(config: ClientTrustConfig, token: str, *dists: Path) -> list[Attestation]:
    """PEP 740 publish attestations for ``dists``, one signer (one certificate) for all."""
    context = SigningContext.from_trust_config(config)
    with context.signer(IdentityToken(token)) as signer:
        return [Attestation.sign(signer, Distribution.from_file(d)) for d in dists]


def verify(config: ClientTrustConfig, attestation: Attestation, identity: Any) -> dict[str, Any]:
    """sigstore's DSSE verification under ``identity``; the statement it vouches for."""
    verifier = Verifier(trusted_root=config.trusted_root)
    payload_type, payload = verifier.verify_dsse(attestation.to_bundle(), identity)
    assert payload_type == "application/vnd.in-toto+json"
    statement: dict[str, Any] = json.loads(payload)
    return statement


def tampered(attestation: Attestation, change: Any) -> Attestation:
    """A copy of ``attestation`` whose JSON document went through ``change``."""
    document = json.loads(attestation.model_dump_json())
    change(document)
    return Attestation.model_validate(document)


@pytest.fixture
def attestations(
    trust_config: ClientTrustConfig, github_token: str, tmp_path: Path
) -> list[Attestation]:
    """Two attestations from one workflow run, so the log holds at least two entries."""
    first = wheel(tmp_path)
    second = wheel(tmp_path, "pkg-1.0.0.tar.gz", b"sdist")
    return sign(trust_config, github_token, first, second)


def test_attestation_verifies_under_the_github_publisher(
    trust_config: ClientTrustConfig, attestations: list[Attestation], tmp_path: Path
) -> None:
    statement = verify(trust_config, attestations[0], PUBLISHER._as_policy())
    dist = Distribution.from_file(tmp_path / "pkg-1.0.0-py3-none-any.whl")
    assert statement["subject"] == [{"name": dist.name, "digest": {"sha256": dist.digest}}]
    assert statement["predicateType"] == "https://docs.pypi.org/attestations/publish/v1"
    # The second one too (its inclusion proof has hashes: the tree has grown).
    assert attestations[1].verification_material.transparency_entries[0]["inclusionProof"]["hashes"]
    verify(trust_config, attestations[1], PUBLISHER._as_policy())


def test_certificate_carries_githubs_claims(attestations: list[Attestation]) -> None:
    claims = attestations[0].certificate_claims
    workflow = "https://github.com/octo/pkg/.github/workflows/release.yml@refs/tags/v1.0.0"
    assert claims["1.3.6.1.4.1.57264.1.8"] == GITHUB_ISSUER
    assert claims["1.3.6.1.4.1.57264.1.9"] == workflow
    assert claims["1.3.6.1.4.1.57264.1.12"] == "https://github.com/octo/pkg"
    assert claims["1.3.6.1.4.1.57264.1.14"] == "refs/tags/v1.0.0"
    assert claims["1.3.6.1.4.1.57264.1.18"] == workflow
    assert claims["1.3.6.1.4.1.57264.1.21"] == (
        "https://github.com/octo/pkg/actions/runs/4001/attempts/1"
    )
    assert set(claims) == {f"1.3.6.1.4.1.57264.1.{arc}" for arc in range(8, 23)}
    cert = x509.load_der_x509_certificate(attestations[0].verification_material.certificate)
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert lifetime == datetime.timedelta(minutes=10)


def test_sigstore_identity_policy_matches_the_san(
    trust_config: ClientTrustConfig, attestations: list[Attestation]
) -> None:
    identity = policy.Identity(
        identity="https://github.com/octo/pkg/.github/workflows/release.yml@refs/tags/v1.0.0",
        issuer=GITHUB_ISSUER,
    )
    verify(trust_config, attestations[0], identity)
    with pytest.raises(VerificationError, match="SANs do not match"):
        verify(trust_config, attestations[0], policy.Identity(identity="someone@example.com"))


def test_attestation_json_round_trips(attestations: list[Attestation]) -> None:
    text = attestations[0].model_dump_json()
    again = Attestation.model_validate_json(text)
    assert again == attestations[0]
    assert again.model_dump_json() == text


@pytest.mark.parametrize(
    ("publisher", "reason"),
    [
        (
            GitHubPublisher(repository="octo/other", workflow="release.yml"),
            "OIDCSourceRepositoryURI",
        ),
        (GitHubPublisher(repository="octo/pkg", workflow="other.yml"), "Build Config URI"),
    ],
    ids=["wrong-repository", "wrong-workflow"],
)
def test_wrong_publisher_is_refused(
    trust_config: ClientTrustConfig,
    attestations: list[Attestation],
    publisher: GitHubPublisher,
    reason: str,
) -> None:
    with pytest.raises(VerificationError, match=reason):
        verify(trust_config, attestations[0], publisher._as_policy())


def _statement_with_other_digest(document: dict[str, Any]) -> None:
    statement = json.loads(base64.b64decode(document["envelope"]["statement"]))
    statement["subject"][0]["digest"]["sha256"] = "0" * 64
    document["envelope"]["statement"] = base64.b64encode(json.dumps(statement).encode()).decode()


def _entry(document: dict[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = document["verification_material"]["transparency_entries"][0]
    return entry


def _flip_b64(value: str) -> str:
    raw = bytearray(base64.b64decode(value))
    raw[len(raw) // 2] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


def _flip_checkpoint_signature(document: dict[str, Any]) -> None:
    checkpoint = _entry(document)["inclusionProof"]["checkpoint"]
    note, _, signature_line = checkpoint["envelope"].rpartition("\u2014 ")
    name, signature = signature_line.split()
    checkpoint["envelope"] = f"{note}\u2014 {name} {_flip_b64(signature)}\n"


TAMPERINGS = {
    "statement": (_statement_with_other_digest, "signature"),
    "proof-hash": (
        lambda d: _entry(d)["inclusionProof"]["hashes"].__setitem__(
            0, _flip_b64(_entry(d)["inclusionProof"]["hashes"][0])
        ),
        "inclusion proof contains invalid root hash",
    ),
    "proof-root": (
        lambda d: _entry(d)["inclusionProof"].__setitem__(
            "rootHash", _flip_b64(_entry(d)["inclusionProof"]["rootHash"])
        ),
        "invalid log entry",
    ),
    "checkpoint-signature": (_flip_checkpoint_signature, "checkpoint: invalid signature"),
    "signed-entry-timestamp": (
        lambda d: _entry(d)["inclusionPromise"].__setitem__(
            "signedEntryTimestamp",
            _flip_b64(_entry(d)["inclusionPromise"]["signedEntryTimestamp"]),
        ),
        "SET: invalid inclusion promise",
    ),
    "integrated-time": (
        lambda d: _entry(d).__setitem__(
            "integratedTime", str(int(_entry(d)["integratedTime"]) + 1)
        ),
        "SET: invalid inclusion promise",
    ),
}


@pytest.mark.parametrize("what", sorted(TAMPERINGS))
def test_tampering_is_refused(
    trust_config: ClientTrustConfig, attestations: list[Attestation], what: str
) -> None:
    change, reason = TAMPERINGS[what]
    forged = tampered(attestations[1], change)
    with pytest.raises(VerificationError, match=reason):
        verify(trust_config, forged, PUBLISHER._as_policy())


def test_certificate_from_another_ca_is_refused(
    trust_config: ClientTrustConfig, dev_issuer: DevIssuer, github_token: str, tmp_path: Path
) -> None:
    with start_dev_sigstore(
        tmp_path / "other", issuer_map={dev_issuer.url: GITHUB_ISSUER}
    ) as other:
        other_config = other.trust_config()
        (foreign,) = sign(other_config, github_token, wheel(tmp_path))
        verify(other_config, foreign, PUBLISHER._as_policy())  # good under its own root
    with pytest.raises(VerificationError, match="failed to build timestamp certificate chain"):
        verify(trust_config, foreign, PUBLISHER._as_policy())


def test_slsa_provenance_is_signed_and_verified(
    trust_config: ClientTrustConfig, github_token: str, tmp_path: Path
) -> None:
    dist = Distribution.from_file(wheel(tmp_path, content=b"slsa"))
    predicate = {
        "buildDefinition": {
            "buildType": "https://actions.github.io/buildtypes/workflow/v1",
            "externalParameters": {
                "workflow": {
                    "ref": RUN.ref,
                    "repository": "https://github.com/octo/pkg",
                    "path": ".github/workflows/release.yml",
                }
            },
            "internalParameters": {},
            "resolvedDependencies": [],
        },
        "runDetails": {"builder": {"id": f"https://github.com/{RUN.workflow_ref}"}, "metadata": {}},
    }
    statement = (
        StatementBuilder()
        .subjects([Subject(name=dist.name, digest=DigestSet(root={"sha256": dist.digest}))])
        .predicate_type("https://slsa.dev/provenance/v1")
        .predicate(predicate)
        .build()
    )
    context = SigningContext.from_trust_config(trust_config)
    with context.signer(IdentityToken(github_token)) as signer:
        attestation = Attestation.from_bundle(signer.sign_dsse(statement))
    verified = verify(trust_config, attestation, PUBLISHER._as_policy())
    assert verified["predicateType"] == "https://slsa.dev/provenance/v1"
    assert verified["predicate"] == predicate


def test_hashedrekord_artifact_signature_verifies(
    trust_config: ClientTrustConfig, github_token: str
) -> None:
    context = SigningContext.from_trust_config(trust_config)
    with context.signer(IdentityToken(github_token)) as signer:
        bundle = signer.sign_artifact(b"SHA256SUMS contents\n")
    verifier = Verifier(trusted_root=trust_config.trusted_root)
    verifier.verify_artifact(b"SHA256SUMS contents\n", bundle, PUBLISHER._as_policy())
    with pytest.raises(VerificationError, match="digest mismatch"):
        verifier.verify_artifact(b"other contents\n", bundle, PUBLISHER._as_policy())


@pytest.mark.slow
def test_gitlab_tokens_get_gitlabs_profile(tmp_path: Path) -> None:
    issuer = start_dev_issuer(tmp_path / "gitlab-issuer")
    try:
        with start_dev_sigstore(tmp_path / "ss", issuer_map={issuer.url: GITLAB_ISSUER}) as ss:
            job = GitLabJob(project="group/proj", ref="refs/tags/v2.0.0")
            token = issuer.mint(SIGSTORE_AUDIENCE, job.claims(issuer.url))
            config = ss.trust_config()
            (attestation,) = sign(config, token, wheel(tmp_path))
            good = GitLabPublisher(repository="group/proj", workflow_filepath=".gitlab-ci.yml")
            verify(config, attestation, good._as_policy())
            claims = attestation.certificate_claims
            assert claims["1.3.6.1.4.1.57264.1.18"] == (
                "https://gitlab.com/group/proj//.gitlab-ci.yml@refs/tags/v2.0.0"
            )
            assert claims["1.3.6.1.4.1.57264.1.21"] == "https://gitlab.com/group/proj/-/jobs/5001"
            wrong = GitLabPublisher(repository="group/proj", workflow_filepath="other.yml")
            with pytest.raises(VerificationError, match="Build Config URI"):
                verify(config, attestation, wrong._as_policy())
            with pytest.raises(VerificationError, match="OIDCIssuerV2"):
                verify(config, attestation, PUBLISHER._as_policy())
    finally:
        issuer.stop()
