"""Verifying one attestation: real vectors against the shipped production root, offline; a
private instance through a ClientTrustConfig; the same reasons as pypi-attestations gives."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from pypi_attestations import (
    Attestation,
    Distribution,
    GitHubPublisher,
    VerificationError,
)
from sigstore.dsse import DigestSet, StatementBuilder, Subject
from sigstore.models import ClientTrustConfig
from sigstore.oidc import IdentityToken
from sigstore.sign import SigningContext

from tests.attestations.vectors import (
    PUBLISH,
    PUBLISH_V1,
    REPOSITORY,
    SDIST,
    SLSA,
    SLSA_V1,
    WORKFLOW,
    sha256,
)
from tests.devsigstore import GITHUB_ISSUER, SIGSTORE_AUDIENCE, DevSigstore, start_dev_sigstore
from tests.oidc.conftest import DevIssuer, dev_issuer
from trustyard.attestations.trust import (
    AttestationError,
    TrustConfigError,
    load_trust_config,
    verify_attestation,
)
from trustyard.oidc.devclaims import GitHubRun

__all__ = ["dev_issuer"]

PUBLISHER = GitHubPublisher(repository=REPOSITORY, workflow=WORKFLOW)
FAILED = "Could not verify the uploaded artifact using the included attestation: "
STORE = "sigstore._store"


def attestation(path: Path) -> Attestation:
    return Attestation.model_validate_json(path.read_text())


def trust_file(tmp_path: Path, instance: str, name: str = "trust.json") -> Path:
    """A ClientTrustConfig made of the root and signing config sigstore ships for ``instance``."""
    folder = resources.files(STORE).joinpath(instance)
    config = {
        "mediaType": "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json",
        "trustedRoot": json.loads(folder.joinpath("trusted_root.json").read_text()),
        "signingConfig": json.loads(folder.joinpath("signing_config.v0.2.json").read_text()),
    }
    path = tmp_path / name
    path.write_text(json.dumps(config))
    return path


PRODUCTION = "https%3A%2F%2Ftuf-repo-cdn.sigstore.dev"
STAGING = "https%3A%2F%2Ftuf-repo-cdn.sigstage.dev"


def verify(
    path: Path = PUBLISH,
    *,
    filename: str = SDIST.name,
    digest: str | None = None,
    publisher: Any = PUBLISHER,
    trust: ClientTrustConfig | None = None,
) -> str:
    return verify_attestation(
        attestation(path),
        filename=filename,
        sha256=digest or sha256(SDIST),
        publisher=publisher,
        trust=trust,
    )


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to open a connection fails the test."""

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("verification tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.mark.usefixtures("no_network")
def test_real_vectors_verify_offline_against_the_shipped_root() -> None:
    assert verify(PUBLISH) == PUBLISH_V1
    assert verify(SLSA) == SLSA_V1


@pytest.mark.usefixtures("no_network")
def test_a_trust_config_of_the_production_root_verifies_them_too(tmp_path: Path) -> None:
    trust = load_trust_config(trust_file(tmp_path, PRODUCTION))
    assert trust is not None
    assert verify(PUBLISH, trust=trust) == PUBLISH_V1
    assert verify(SLSA, trust=trust) == SLSA_V1


def test_another_instances_root_refuses_them(tmp_path: Path) -> None:
    trust = load_trust_config(trust_file(tmp_path, STAGING))
    with pytest.raises(AttestationError) as caught:
        verify(PUBLISH, trust=trust)
    assert caught.value.message.startswith(FAILED + "Verification failed: ")
    assert "certificate chain" in caught.value.message


FAILURES: dict[str, dict[str, Any]] = {
    "other-repository": {"publisher": GitHubPublisher(repository="octo/other", workflow=WORKFLOW)},
    "other-workflow": {"publisher": GitHubPublisher(repository=REPOSITORY, workflow="ci.yml")},
    "other-digest": {"digest": "0" * 64},
    "other-file": {"filename": "pypi_attestations-0.0.20.tar.gz"},
    "same-file-other-spelling": {"filename": "PyPI_Attestations-0.0.19.tar.gz"},
    "a-wheel": {"filename": "pypi_attestations-0.0.19-py3-none-any.whl"},
}


@pytest.fixture
def private_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """pypi-attestations' own offline verify copies the root into the user's directories."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))


@pytest.mark.usefixtures("private_dirs")
@pytest.mark.parametrize("case", list(FAILURES), ids=list(FAILURES))
def test_reasons_are_pypi_attestations_own(case: str) -> None:
    """Our verifier refuses exactly when pypi-attestations does, with its words (as PyPI shows)."""
    options = FAILURES[case]
    publisher = options.get("publisher", PUBLISHER)
    filename = options.get("filename", SDIST.name)
    digest = options.get("digest", sha256(SDIST))
    try:
        attestation(PUBLISH).verify(
            publisher, Distribution(name=filename, digest=digest), offline=True
        )
        expected = None
    except VerificationError as exc:
        expected = FAILED + str(exc)
    try:
        verify(PUBLISH, filename=filename, digest=digest, publisher=publisher)
        ours = None
    except AttestationError as exc:
        ours = exc.message
    assert ours == expected
    if case == "same-file-other-spelling":
        assert ours is None  # the filename is parsed, not compared as text
    else:
        assert ours is not None


def test_a_broken_certificate_is_an_unknown_error() -> None:
    document = json.loads(PUBLISH.read_text())
    document["verification_material"]["certificate"] = "AAAA"
    with pytest.raises(AttestationError) as caught:
        verify_attestation(
            Attestation.model_validate(document),
            filename=SDIST.name,
            sha256=sha256(SDIST),
            publisher=PUBLISHER,
            trust=None,
        )
    assert caught.value.message == (
        "Unknown error while trying to verify included attestations: invalid X.509 certificate"
    )


def test_a_statement_signed_by_someone_else_is_refused() -> None:
    document = json.loads(PUBLISH.read_text())
    document["envelope"]["signature"] = json.loads(SLSA.read_text())["envelope"]["signature"]
    with pytest.raises(AttestationError) as caught:
        verify_attestation(
            Attestation.model_validate(document),
            filename=SDIST.name,
            sha256=sha256(SDIST),
            publisher=PUBLISHER,
            trust=None,
        )
    assert caught.value.message.startswith(FAILED + "Verification failed: ")


# -- trust configs -----------------------------------------------------------------------------


def test_no_file_means_the_production_instance() -> None:
    assert load_trust_config(None) is None


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (None, "cannot read the Sigstore trust config"),
        ("{nope", "is not JSON"),
        ("[]", "its mediaType is None"),
        ('{"mediaType": "application/json"}', "its mediaType is 'application/json'"),
        (
            '{"mediaType": "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json"}',
            "is not a usable Sigstore trust config",
        ),
    ],
    ids=["missing", "not-json", "not-an-object", "other-media-type", "no-root"],
)
def test_unusable_trust_configs_are_refused(
    tmp_path: Path, content: str | None, reason: str
) -> None:
    path = tmp_path / "trust.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(TrustConfigError) as caught:
        load_trust_config(path)
    assert reason in caught.value.message
    assert str(path) in caught.value.message


def test_a_root_without_logs_is_refused(tmp_path: Path) -> None:
    path = trust_file(tmp_path, PRODUCTION)
    config = json.loads(path.read_text())
    config["trustedRoot"]["tlogs"] = []
    path.write_text(json.dumps(config))
    with pytest.raises(TrustConfigError, match="no transparency log"):
        load_trust_config(path)


# -- a private instance (the development Sigstore) ---------------------------------------------

RUN = GitHubRun(repository="octo/pkg", workflow="release.yml", ref="refs/tags/v1.0.0")
PRIVATE_PUBLISHER = GitHubPublisher(repository="octo/pkg", workflow="release.yml")
WHEEL = "pkg-1.0.0-py3-none-any.whl"


@pytest.fixture(scope="module")
def private(
    tmp_path_factory: pytest.TempPathFactory, dev_issuer: DevIssuer
) -> Iterator[DevSigstore]:
    instance = start_dev_sigstore(
        tmp_path_factory.mktemp("private-sigstore"), issuer_map={dev_issuer.url: GITHUB_ISSUER}
    )
    yield instance
    instance.stop()


def signed(
    instance: DevSigstore,
    issuer: DevIssuer,
    subjects: list[tuple[str, str]],
    predicate_type: str = PUBLISH_V1,
) -> Attestation:
    """An attestation of ``subjects`` (name, sha256) signed by the private instance."""
    config = instance.trust_config()
    config.force_tlog_version = 1
    statement = (
        StatementBuilder()
        .subjects([Subject(name=n, digest=DigestSet(root={"sha256": d})) for n, d in subjects])
        .predicate_type(predicate_type)
        .build()
    )
    token = issuer.mint(SIGSTORE_AUDIENCE, RUN.claims())
    with SigningContext.from_trust_config(config).signer(IdentityToken(token)) as signer:
        return Attestation.from_bundle(signer.sign_dsse(statement))


def test_private_instance_attestations_verify_with_its_config(
    private: DevSigstore, dev_issuer: DevIssuer
) -> None:
    made = signed(private, dev_issuer, [(WHEEL, "a" * 64)])
    trust = load_trust_config(private.trust_config_path)
    assert (
        verify_attestation(
            made, filename=WHEEL, sha256="a" * 64, publisher=PRIVATE_PUBLISHER, trust=trust
        )
        == PUBLISH_V1
    )
    with pytest.raises(AttestationError, match="Verification failed: "):
        verify_attestation(
            made, filename=WHEEL, sha256="a" * 64, publisher=PRIVATE_PUBLISHER, trust=None
        )


@pytest.mark.parametrize(
    ("subjects", "predicate_type", "reason"),
    [
        ([(WHEEL, "a" * 64)], "https://example.com/unknown/v1", "unknown attestation type: "),
        (
            [(WHEEL, "a" * 64), ("pkg-1.0.0.tar.gz", "b" * 64)],
            PUBLISH_V1,
            "too many subjects in statement (must be exactly one)",
        ),
        ([("not-a-dist.txt", "a" * 64)], PUBLISH_V1, "invalid subject: "),
    ],
    ids=["unknown-predicate-type", "two-subjects", "subject-not-a-dist"],
)
def test_private_instance_statements_we_refuse(
    private: DevSigstore,
    dev_issuer: DevIssuer,
    subjects: list[tuple[str, str]],
    predicate_type: str,
    reason: str,
) -> None:
    made = signed(private, dev_issuer, subjects, predicate_type)
    with pytest.raises(AttestationError) as caught:
        verify_attestation(
            made,
            filename=WHEEL,
            sha256="a" * 64,
            publisher=PRIVATE_PUBLISHER,
            trust=load_trust_config(private.trust_config_path),
        )
    assert caught.value.message.startswith(FAILED + "Verification failed: " + reason)
