"""A served PEP 740 provenance object checked offline, and the Trusted Publisher it names.

PEP 740 (and PyPI's Integrity API) serves a file's provenance as ``{"version": 1,
"attestation_bundles": [{"publisher": ..., "attestations": [...]}]}``. The publisher object is
PyPI's claim; the attestations are what proves it: each one must verify (offline, against the
shipped or configured Sigstore root, :func:`trustyard.attestations.trust.verify_attestation`)
for this file and under that publisher's identity. Issue 18's continuity rule compares the
identity a file verified under with the one a project is known by (:func:`same_publisher`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from trustyard.attestations.identity import attestation_identity
from trustyard.attestations.trust import AttestationError, verify_attestation

if TYPE_CHECKING:
    from sigstore.models import ClientTrustConfig

# The publisher fields that identify it (PEP 740 GitHub, GitLab and Google publishers);
# ``environment`` is compared only when the expected identity names one (see same_publisher).
_IDENTIFYING = ("kind", "repository", "workflow", "workflow_filepath", "email")


def verify_provenance(
    document: Any, *, filename: str, sha256: str, trust: ClientTrustConfig | None
) -> dict[str, Any]:
    """The publisher object (PEP 740) under which every attestation of ``document`` verifies
    for the file ``filename`` / ``sha256``; raises :class:`AttestationError` saying why not."""
    from pydantic import ValidationError  # noqa: PLC0415 - slow imports
    from pypi_attestations import Provenance  # noqa: PLC0415

    try:
        provenance = Provenance.model_validate(document)
    except ValidationError as exc:
        raise AttestationError(
            f"the provenance does not parse: {exc.error_count()} errors"
        ) from exc
    bundles = provenance.attestation_bundles
    if not bundles:
        raise AttestationError("the provenance holds no attestation bundle")
    found: dict[str, Any] | None = None
    for bundle in bundles:
        identity = bundle.publisher.model_dump(mode="json", exclude_none=True)
        identity.pop("claims", None)
        publisher = attestation_identity(str(identity.get("kind")), identity)
        if not bundle.attestations:
            raise AttestationError("an attestation bundle holds no attestation")
        for attestation in bundle.attestations:
            verify_attestation(
                attestation, filename=filename, sha256=sha256, publisher=publisher, trust=trust
            )
        if found is not None and not same_publisher(found, identity):
            raise AttestationError("the provenance's bundles name different publishers")
        found = identity
    if found is None:
        raise AttestationError("the provenance holds no attestation bundle")
    return found


def same_publisher(expected: Mapping[str, Any], found: Mapping[str, Any]) -> bool:
    """Whether ``found`` is the publisher ``expected`` describes: same kind, repository,
    workflow (GitHub and GitLab names compare case-insensitively, as their hosts do); the
    environment only when ``expected`` names one (a pin ``...@ENV``)."""
    for key in _IDENTIFYING:
        want, got = expected.get(key), found.get(key)
        if want is None and got is None:
            continue
        if not isinstance(want, str) or not isinstance(got, str) or want.lower() != got.lower():
            return False
    environment = expected.get("environment")
    return not environment or environment == found.get("environment")


def describe(identity: Mapping[str, Any] | None) -> str:
    """An identity as people write it: ``github:OWNER/REPO/WORKFLOW.yml[@ENV]``."""
    if not identity:
        return "(none)"
    kind = str(identity.get("kind", "?")).lower()
    if kind == "github":
        text = f"github:{identity.get('repository')}/{identity.get('workflow')}"
    elif kind == "gitlab":
        text = f"gitlab:{identity.get('repository')}/{identity.get('workflow_filepath')}"
    elif kind == "google":
        text = f"google:{identity.get('email')}"
    else:
        text = f"{kind}:{identity}"
    environment = identity.get("environment")
    return f"{text}@{environment}" if environment else text


def parse_pin(text: str) -> dict[str, Any]:
    """``github:OWNER/REPO/WORKFLOW.yml[@ENV]`` as the PEP 740 publisher object it pins."""
    kind, sep, rest = text.partition(":")
    if not sep or kind.lower() != "github":
        raise AttestationError(
            f"cannot pin {text!r}: write github:OWNER/REPO/WORKFLOW.yml[@ENVIRONMENT]"
        )
    path, _, environment = rest.partition("@")
    parts = path.split("/")
    if len(parts) != 3 or not all(parts) or not parts[2].endswith((".yml", ".yaml")):
        raise AttestationError(
            f"cannot pin {text!r}: write github:OWNER/REPO/WORKFLOW.yml[@ENVIRONMENT]"
        )
    identity: dict[str, Any] = {
        "kind": "GitHub",
        "repository": f"{parts[0]}/{parts[1]}",
        "workflow": parts[2],
    }
    if environment:
        identity["environment"] = environment
    return identity
