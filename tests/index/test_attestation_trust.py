"""``serve --sigstore-trust-config``: an index that trusts a private Sigstore instance.

The private instance is the development Sigstore (a Fulcio CA, CT log and Rekor v1 log of our
own, ``tests/devsigstore``) certifying the development issuer as GitHub Actions. Attestations it
signs are accepted by an index configured with its ClientTrustConfig, and refused by one that
trusts the public instance; the real vectors are refused by the private one.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pypi_attestations import Attestation, Distribution
from sigstore.oidc import IdentityToken
from sigstore.sign import SigningContext

from tests.attestations.vectors import PUBLISH, REPOSITORY, SDIST, WORKFLOW
from tests.attestations.vectors import field as attestations_field
from tests.conftest import PYTHON, IndexServer, free_port, start_index
from tests.devsigstore import GITHUB_ISSUER, SIGSTORE_AUDIENCE, DevSigstore, start_dev_sigstore
from tests.dists.builders import build_wheel
from tests.index.conftest import request
from tests.index.test_attestations import add_github_publisher, mint, upload
from tests.oidc.conftest import DevIssuer, dev_issuer
from tests.services import Backend
from trustyard.oidc.devclaims import GitHubRun
from trustyard.settings import load_settings

__all__ = ["dev_issuer"]

OWN_REPOSITORY = "octo/pkg"
NOT_VERIFIED = (
    "Invalid attestations supplied during upload: Could not verify the uploaded artifact using"
    " the included attestation: Verification failed: "
)


@dataclass
class Private:
    issuer: DevIssuer
    sigstore: DevSigstore
    private: IndexServer  # --sigstore-trust-config of the development Sigstore
    public: IndexServer  # the default: the public instance's root
    tmp: Path


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory, dev_issuer: DevIssuer, backend: Backend
) -> Iterator[Private]:
    tmp = tmp_path_factory.mktemp("attest-private")
    sigstore = start_dev_sigstore(tmp / "sigstore", issuer_map={dev_issuer.url: GITHUB_ISSUER})
    private = start_index(
        tmp / "private",
        "--sigstore-trust-config",
        str(sigstore.trust_config_path),
        backend=backend,
    )
    public = start_index(tmp / "public", backend=backend)
    try:
        for index in (private, public):
            index.create_user("alice")
            for project, repository in [("pkg", OWN_REPOSITORY), ("pypi-attestations", REPOSITORY)]:
                index.cli("admin", "project", "create", project, "--owner", "alice")
                add_github_publisher(index, dev_issuer, project, repository, WORKFLOW)
        yield Private(dev_issuer, sigstore, private, public, tmp)
    finally:
        public.stop()
        private.stop()
        sigstore.stop()


def _signed_wheel(world: Private, version: str) -> tuple[Path, str]:
    """A wheel of ``pkg`` and its publish attestation, signed by the private instance."""
    wheel = build_wheel(world.tmp / f"pkg-{version}", "pkg", version)
    config = world.sigstore.trust_config()
    config.force_tlog_version = 1
    run = GitHubRun(repository=OWN_REPOSITORY, workflow=WORKFLOW, ref=f"refs/tags/v{version}")
    token = world.issuer.mint(SIGSTORE_AUDIENCE, run.claims())
    with SigningContext.from_trust_config(config).signer(IdentityToken(token)) as signer:
        attestation = Attestation.sign(signer, Distribution.from_file(wheel))
    return wheel, "[" + attestation.model_dump_json() + "]"


def test_the_private_instance_is_trusted_by_the_index_configured_for_it(world: Private) -> None:
    wheel, field = _signed_wheel(world, "1.0")
    token = mint(world.private, world.issuer, OWN_REPOSITORY)
    answer = upload(world.private, token, wheel, [field], name="pkg", version="1.0")
    assert answer.status == 200, answer.reason
    served = request(world.private, "GET", f"/integrity/pkg/1.0/{wheel.name}/provenance")
    assert served.status == 200
    [bundle] = json.loads(served.body)["attestation_bundles"]
    assert bundle["publisher"]["repository"] == OWN_REPOSITORY
    assert bundle["attestations"] == json.loads(field)


def test_the_public_root_refuses_the_private_instances_attestations(world: Private) -> None:
    wheel, field = _signed_wheel(world, "2.0")
    token = mint(world.public, world.issuer, OWN_REPOSITORY)
    answer = upload(world.public, token, wheel, [field], name="pkg", version="2.0")
    assert answer.status == 400
    assert answer.reason.startswith(NOT_VERIFIED)


def test_the_private_instance_refuses_the_public_vectors(world: Private) -> None:
    token = mint(world.private, world.issuer, REPOSITORY)
    answer = upload(world.private, token, SDIST, [attestations_field(PUBLISH)])
    assert answer.status == 400
    assert answer.reason.startswith(NOT_VERIFIED)
    assert "certificate chain" in answer.reason


@pytest.mark.slow
@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (None, "cannot read the Sigstore trust config"),
        ('{"mediaType": "text/plain"}', "is not a Sigstore ClientTrustConfig"),
    ],
    ids=["missing", "not-a-trust-config"],
)
def test_serve_refuses_to_start_with_an_unusable_trust_config(
    tmp_path: Path, content: str | None, reason: str
) -> None:
    path = tmp_path / "trust.json"
    if content is not None:
        path.write_text(content)
    result = subprocess.run(
        [
            PYTHON,
            "-m",
            "trustyard",
            "serve",
            "--data",
            str(tmp_path / "data"),
            "--port",
            str(free_port()),
            "--sigstore-trust-config",
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert reason in result.stderr
    assert str(path) in result.stderr


def test_the_setting_comes_from_the_environment_and_the_config_file(tmp_path: Path) -> None:
    assert load_settings(environ={}).sigstore_trust_config is None
    from_env = load_settings(environ={"TRUSTYARD_SIGSTORE_TRUST_CONFIG": "/etc/ts/trust.json"})
    assert from_env.sigstore_trust_config == Path("/etc/ts/trust.json")
    toml = tmp_path / "trustyard.toml"
    toml.write_text('sigstore-trust-config = "/srv/trust.json"\n')
    from_file = load_settings(environ={}, config_file=toml)
    assert from_file.sigstore_trust_config == Path("/srv/trust.json")
