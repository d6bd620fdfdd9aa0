"""The identity an attestation must be signed by, from the Trusted Publisher that uploads it.
Follows warehouse ``oidc/models/*.py`` ``attestation_identity`` and pypi-attestations' models.

PyPI verifies an upload's attestations against ``publisher.attestation_identity``: GitHub,
GitLab and Google publishers have one, other kinds do not ("Attestations are not currently
supported with ActiveState publishers"). The identity says nothing about the OIDC issuer that
minted the upload token: pypi-attestations ties a GitHub identity to GitHub Actions' Sigstore
certificates and a GitLab one to gitlab.com's, so a publisher on another issuer (a
self-managed GitLab) is refused by the certificate check, with that check's reason.

Which kinds have an identity, and how their configuration becomes one, is the publisher kinds'
knowledge (``trustyard.oidc.publishers``): this layer receives the PEP 740 publisher object as
data and does not know the kinds.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from trustyard.attestations.trust import AttestationError

if TYPE_CHECKING:
    from pypi_attestations import Publisher


class AttestationsUnsupported(AttestationError):
    """The publisher's kind has no attestation identity."""


def attestation_identity(kind_name: str, identity: Mapping[str, Any] | None) -> Publisher:
    """The pypi-attestations publisher that a Trusted Publisher's attestations must name.

    ``identity`` is the PEP 740 publisher object (``{"kind": "GitHub", "repository": ...}``)
    that the publisher's kind derives from its stored configuration, None when the kind has
    none; ``kind_name`` is PyPI's name for the kind, for that refusal. The environment is
    recorded, not checked (PyPI does the same: Sigstore certificates do not carry it).
    """
    if identity is None:
        raise AttestationsUnsupported(
            f"Attestations are not currently supported with {kind_name} publishers"
        )
    from pydantic import TypeAdapter  # noqa: PLC0415 - slow imports
    from pypi_attestations import Publisher  # noqa: PLC0415

    publisher: Publisher = TypeAdapter(Publisher).validate_python(dict(identity))
    return publisher
