"""Fixtures for the development Sigstore's own tests: one issuer and one instance per module."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
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


def call(
    sigstore: DevSigstore,
    method: str,
    path: str,
    *,
    content: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """One HTTP request to the instance, never waiting more than ten seconds."""
    return httpx.request(
        method, sigstore.url + path, content=content, headers=headers or {}, timeout=10
    )


def raw_exchange(sigstore: DevSigstore, head: bytes) -> bytes:
    """Send ``head`` (request line and headers, no body) on a socket; the answer's bytes."""
    with socket.create_connection(
        ("127.0.0.1", int(sigstore.url.rsplit(":", 1)[1])), timeout=10
    ) as sock:
        sock.sendall(head)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)
