"""The identity an attestation must be signed by, from the Trusted Publisher that uploads it.
Follows warehouse ``oidc/models/*.py`` ``attestation_identity`` and pypi-attestations' models.

PyPI verifies an upload's attestations against ``publisher.attestation_identity``: GitHub,
GitLab and Google publishers have one, other kinds do not ("Attestations are not currently
supported with ActiveState publishers"). The identity says nothing about the OIDC issuer that
minted the upload token: pypi-attestations ties a GitHub identity to GitHub Actions' Sigstore
certificates and a GitLab one to gitlab.com's, so a publisher on another issuer (a
self-managed GitLab) is refused by the certificate check, with that check's reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from trustyard.attestations.trust import AttestationError

if TYPE_CHECKING:
    from pypi_attestations import Publisher

# How PyPI names a publisher kind in its messages (warehouse ``publisher_name``).
KIND_NAMES = {"github": "GitHub", "gitlab": "GitLab", "google": "Google", "oidc": "OIDC"}


class AttestationsUnsupported(AttestationError):
    """The publisher's kind has no attestation identity."""


def attestation_identity(kind: str, config: Mapping[str, str]) -> Publisher:
    """The pypi-attestations publisher that a Trusted Publisher's attestations must name.

    ``kind`` and ``config`` are a stored publisher's (``trustyard publisher add``): GitHub
    ``repository``/``workflow``/``environment``, GitLab ``project``/``workflow_path``/
    ``environment``, Google ``email``. The environment is recorded, not checked (PyPI does the
    same: Sigstore certificates do not carry it).
    """
    from pypi_attestations import (  # noqa: PLC0415 - slow import
        GitHubPublisher,
        GitLabPublisher,
        GooglePublisher,
    )

    environment = config.get("environment") or None
    if kind == "github":
        return GitHubPublisher(
            repository=config["repository"], workflow=config["workflow"], environment=environment
        )
    if kind == "gitlab":
        return GitLabPublisher(
            repository=config["project"],
            workflow_filepath=config["workflow_path"],
            environment=environment,
        )
    if kind == "google":
        return GooglePublisher(email=config["email"])
    raise AttestationsUnsupported(
        f"Attestations are not currently supported with {KIND_NAMES.get(kind, kind)} publishers"
    )
