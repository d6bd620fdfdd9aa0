"""Sigstore signing against the development Sigstore, with tokens from the development issuer
playing GitHub Actions: the provenance bundle verifies with sigstore, each publish attestation
with pypi-attestations' policy for the matching GitHub publisher, and failures say why."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from pypi_attestations import Attestation, GitHubPublisher
from sigstore.models import Bundle, ClientTrustConfig
from sigstore.verify import Verifier

from tests.devsigstore import GITHUB_ISSUER, DevSigstore, start_dev_sigstore
from tests.dists.builders import build_sdist, build_wheel
from tests.oidc.conftest import DevIssuer, start_dev_issuer
from trustyard.attestations.sign import (
    SIGSTORE_AUDIENCE,
    SigningFailed,
    sign_release,
    signing_context,
)
from trustyard.attestations.statements import (
    BuildEnvironment,
    SourceRevision,
    Subject,
    build_provenance,
    detect_builder,
    serialize_statement,
)
from trustyard.attestations.trust import (
    PUBLISH_V1,
    AttestationError,
    load_trust_config,
    verify_attestation,
)
from trustyard.release.build import sha256_of

pytestmark = pytest.mark.slow

REPOSITORY = "octo/ty-sample"
REF = "refs/tags/v1.0.0"
COMMIT = "c" * 40


@pytest.fixture(scope="module")
def issuer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevIssuer]:
    running = start_dev_issuer(tmp_path_factory.mktemp("sign-issuer") / "data")
    yield running
    running.stop()


@pytest.fixture(scope="module")
def sigstore(tmp_path_factory: pytest.TempPathFactory, issuer: DevIssuer) -> Iterator[DevSigstore]:
    with start_dev_sigstore(
        tmp_path_factory.mktemp("sigstore"), issuer_map={issuer.url: GITHUB_ISSUER}
    ) as running:
        yield running


@pytest.fixture(scope="module")
def trust(sigstore: DevSigstore) -> ClientTrustConfig:
    config = load_trust_config(sigstore.trust_config_path)
    assert config is not None
    return config


def github_token(issuer: DevIssuer, repository: str = REPOSITORY) -> str:
    return issuer.token(
        SIGSTORE_AUDIENCE, "--repository", repository, "--workflow", "release.yml", "--ref", REF
    )


def statement_for(paths: list[Path]) -> bytes:
    environment = BuildEnvironment(
        backend={"name": "b", "version": "1", "entry_point": "b"},
        build_requires=("b",),
        dependencies=(),
        python={"version": "3.11.9", "implementation": "CPython"},
        platform="linux-x86_64",
        record_sha256="d" * 64,
    )
    return serialize_statement(
        build_provenance(
            [Subject(p.name, sha256_of(p)) for p in paths],
            SourceRevision(f"https://github.com/{REPOSITORY}", COMMIT, REF),
            environment,
            detect_builder({}),
        )
    )


@pytest.fixture(scope="module")
def dists(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    out = tmp_path_factory.mktemp("dists")
    return [build_sdist(out, "ty-sample", "1.0.0"), build_wheel(out, "ty-sample", "1.0.0")]


def test_signed_release_verifies_for_the_matching_publisher_only(
    issuer: DevIssuer, trust: ClientTrustConfig, dists: list[Path]
) -> None:
    statement = statement_for(dists)
    signed = sign_release(github_token(issuer), statement, dists, signing_context(trust))
    # what the certificate vouches for, as verifiers see it (not the dev issuer's token claims)
    assert signed.issuer == GITHUB_ISSUER
    assert signed.identity == f"https://github.com/{REPOSITORY}/.github/workflows/release.yml@{REF}"
    publisher = GitHubPublisher(repository=REPOSITORY, workflow="release.yml")
    verifier = Verifier(trusted_root=trust.trusted_root)

    # the provenance: a Sigstore bundle, one JSON line, carrying the statement byte for byte
    assert "\n" not in signed.provenance_bundle
    bundle = Bundle.from_json(signed.provenance_bundle)
    payload_type, payload = verifier.verify_dsse(bundle, publisher._as_policy())
    assert payload_type == "application/vnd.in-toto+json"
    assert payload == statement
    entry = json.loads(signed.provenance_bundle)["verificationMaterial"]["tlogEntries"][0]
    assert entry["kindVersion"] == {"kind": "dsse", "version": "0.0.1"}  # Rekor v1

    # one PEP 740 publish attestation per distribution, for exactly that file
    assert sorted(signed.attestations) == sorted(p.name for p in dists)
    for path in dists:
        attestation = Attestation.model_validate_json(signed.attestations[path.name])
        assert attestation.statement["predicateType"] == PUBLISH_V1
        assert attestation.statement["subject"] == [
            {"name": path.name, "digest": {"sha256": sha256_of(path)}}
        ]
        assert (
            verify_attestation(
                attestation,
                filename=path.name,
                sha256=sha256_of(path),
                publisher=publisher,
                trust=trust,
            )
            == PUBLISH_V1
        )
        # pypi-attestations' own policy check through sigstore, as the index does it
        verifier.verify_dsse(attestation.to_bundle(), publisher._as_policy())
        for other in (
            GitHubPublisher(repository="octo/other", workflow="release.yml"),
            GitHubPublisher(repository=REPOSITORY, workflow="ci.yml"),
        ):
            with pytest.raises(AttestationError, match="Verification failed"):
                verify_attestation(
                    attestation,
                    filename=path.name,
                    sha256=sha256_of(path),
                    publisher=other,
                    trust=trust,
                )
    # another file's bytes are not covered by this attestation
    wheel = dists[1]
    with pytest.raises(AttestationError, match="subject does not match distribution digest"):
        verify_attestation(
            Attestation.model_validate_json(signed.attestations[wheel.name]),
            filename=wheel.name,
            sha256="0" * 64,
            publisher=publisher,
            trust=trust,
        )


def test_production_root_rejects_dev_signatures(
    issuer: DevIssuer, trust: ClientTrustConfig, dists: list[Path]
) -> None:
    signed = sign_release(
        github_token(issuer), statement_for(dists), dists[:1], signing_context(trust)
    )
    attestation = Attestation.model_validate_json(signed.attestations[dists[0].name])
    with pytest.raises(AttestationError):
        verify_attestation(
            attestation,
            filename=dists[0].name,
            sha256=sha256_of(dists[0]),
            publisher=GitHubPublisher(repository=REPOSITORY, workflow="release.yml"),
            trust=None,
        )


def test_unusable_tokens_and_statements(
    issuer: DevIssuer, trust: ClientTrustConfig, dists: list[Path]
) -> None:
    context = signing_context(trust)
    statement = statement_for(dists)
    cases = [
        ("not.a.jwt", statement, "the ambient identity token is not usable by Sigstore"),
        (issuer.token("pypi", "--repository", REPOSITORY), statement, "not usable by Sigstore"),
        (github_token(issuer), b'{"_type": "nope"}', "the provenance is not an in-toto statement"),
    ]
    for token, data, message in cases:
        with pytest.raises(SigningFailed, match=message):
            sign_release(token, data, dists, context)


def test_fulcio_refusal_and_unreachable_instance(
    issuer: DevIssuer, sigstore: DevSigstore, tmp_path: Path, dists: list[Path]
) -> None:
    # a token from an issuer this Fulcio does not accept
    stranger = start_dev_issuer(tmp_path / "stranger")
    try:
        token = stranger.token(SIGSTORE_AUDIENCE, "--repository", REPOSITORY)
    finally:
        stranger.stop()
    config = load_trust_config(sigstore.trust_config_path)
    with pytest.raises(SigningFailed, match="Sigstore signing failed"):
        sign_release(token, statement_for(dists), dists, signing_context(config))
    # an instance that is down
    document = json.loads(sigstore.trust_config_path.read_text())
    text = json.dumps(document).replace(sigstore.url, "http://127.0.0.1:9")
    dead = tmp_path / "dead.json"
    dead.write_text(text)
    with pytest.raises(SigningFailed, match="Sigstore signing failed"):
        sign_release(
            github_token(issuer),
            statement_for(dists),
            dists,
            signing_context(load_trust_config(dead)),
        )
