"""Fixtures for the development Sigstore's own tests: one issuer and one instance per module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sigstore.models import ClientTrustConfig

from tests.devsigstore import GITHUB_ISSUER, SIGSTORE_AUDIENCE, DevSigstore, start_dev_sigstore
from tests.oidc.conftest import DevIssuer, dev_issuer
from trustyard.oidc.devclaims import GitHubRun

__all__ = ["dev_issuer"]

RUN = GitHubRun(repository="octo/pkg", workflow="release.yml", ref="refs/tags/v1.0.0")


@pytest.fixture(scope="module")
def sigstore(
    tmp_path_factory: pytest.TempPathFactory, dev_issuer: DevIssuer
) -> Iterator[DevSigstore]:
    """A development Sigstore certifying the module's issuer as GitHub Actions."""
    instance = start_dev_sigstore(
        tmp_path_factory.mktemp("devsigstore"), issuer_map={dev_issuer.url: GITHUB_ISSUER}
    )
    yield instance
    instance.stop()


@pytest.fixture
def trust_config(sigstore: DevSigstore) -> ClientTrustConfig:
    """The instance's ClientTrustConfig, Rekor v1 forced as PEP 740 needs."""
    config = sigstore.trust_config()
    config.force_tlog_version = 1
    return config


@pytest.fixture
def github_token(dev_issuer: DevIssuer) -> str:
    """A fresh GitHub-shaped ID token for ``RUN`` with audience ``sigstore``."""
    return dev_issuer.mint(SIGSTORE_AUDIENCE, RUN.claims())


def wheel(directory: Path, name: str = "pkg-1.0.0-py3-none-any.whl", content: bytes = b"") -> Path:
    """A small file with a valid wheel name (the attestation only hashes it)."""
    path = directory / name
    path.write_bytes(b"PK\x05\x06" + bytes(18) + content)
    return path
