"""An upload's ``attestations`` field: parsed, checked and verified in PyPI's order and words.
Follows PEP 740 and warehouse ``attestations/services.py`` / ``forklift/legacy.py``.

The field is a JSON list of PEP 740 Attestation objects (uv sends a dist's
``<dist>.*.attestation`` files as one array, twine the same array as a string). PyPI's rules, in
its order: only a Trusted Publishing upload may carry attestations; the publisher's kind must
have an attestation identity; the list must parse and must not be empty; at most two entries;
each one verifies against that identity and the uploaded file; one per predicate type. Every
refusal is "Invalid attestations supplied during upload: <reason>". Two limits of our own keep a
hostile field cheap to refuse: the field's size, and how many validation errors are spelled out.

The accepted attestations become the file's provenance in PyPI's shape,
``{"version": 1, "attestation_bundles": [{"publisher": ..., "attestations": [...]}]}``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from trustyard.attestations.identity import attestation_identity
from trustyard.attestations.trust import (
    SUPPORTED_PREDICATE_TYPES,
    AttestationError,
    verify_attestation,
)

if TYPE_CHECKING:
    from pydantic import ValidationError
    from pypi_attestations import Attestation, Publisher
    from sigstore.models import ClientTrustConfig

UPLOAD_REFUSED = "Invalid attestations supplied during upload: "
ONLY_TRUSTED_PUBLISHING = "Attestations are only supported when using Trusted Publishing"
# Two real attestations with their certificates and log entries take about 25 KB.
MAX_FIELD_BYTES = 256 * 1024
MAX_SPELLED_OUT_ERRORS = 10


def _refused(reason: str) -> AttestationError:
    return AttestationError(UPLOAD_REFUSED + reason)


def _describe(exc: ValidationError) -> str:
    """pydantic's own text (as PyPI shows it), or the first errors when there are very many."""
    count = exc.error_count()
    if count <= MAX_SPELLED_OUT_ERRORS:
        return str(exc)
    first = [
        f"{'.'.join(str(part) for part in error['loc']) or '(the list)'}: {error['msg']}"
        for error in exc.errors(include_url=False, include_input=False)[:MAX_SPELLED_OUT_ERRORS]
    ]
    return f"{count} validation errors for list[Attestation], the first: " + "; ".join(first)


def parse_attestations(values: Sequence[str]) -> list[Attestation]:
    """The field's attestations, or why they are malformed (empty, or more than two)."""
    from pydantic import TypeAdapter, ValidationError  # noqa: PLC0415 - slow imports
    from pypi_attestations import Attestation  # noqa: PLC0415

    if len(values) != 1:
        raise _refused(
            f"Malformed attestations: the field was sent {len(values)} times; send one JSON list"
        )
    size = len(values[0].encode("utf-8"))
    if size > MAX_FIELD_BYTES:
        raise _refused(
            f"Malformed attestations: the field is {size} bytes, more than the"
            f" {MAX_FIELD_BYTES} allowed"
        )
    try:
        attestations = TypeAdapter(list[Attestation]).validate_json(values[0])
    except ValidationError as exc:
        raise _refused(f"Malformed attestations: {_describe(exc)}") from exc
    if not attestations:
        raise _refused("Malformed attestations: an empty attestation set is not permitted")
    if len(attestations) > len(SUPPORTED_PREDICATE_TYPES):
        raise _refused(
            f"A maximum of {len(SUPPORTED_PREDICATE_TYPES)} attestations per file are supported"
        )
    return attestations


def verify_attestations(
    attestations: Sequence[Attestation],
    *,
    filename: str,
    sha256: str,
    publisher: Publisher,
    trust: ClientTrustConfig | None,
) -> None:
    """Each attestation verifies against the publisher and the file; one per predicate type."""
    seen: set[str] = set()
    for attestation in attestations:
        try:
            predicate_type = verify_attestation(
                attestation, filename=filename, sha256=sha256, publisher=publisher, trust=trust
            )
        except AttestationError as exc:
            raise _refused(exc.message) from exc
        if predicate_type in seen:
            raise _refused(
                "Multiple attestations for the same file with the same predicate type"
                f" ({predicate_type}) are not supported"
            )
        seen.add(predicate_type)


def provenance_document(
    publisher: Publisher, attestations: Sequence[Attestation]
) -> dict[str, Any]:
    """The PEP 740 provenance object PyPI stores and serves for the file."""
    from pypi_attestations import AttestationBundle, Provenance  # noqa: PLC0415 - slow import

    bundle = AttestationBundle(publisher=publisher, attestations=list(attestations))
    document: dict[str, Any] = Provenance(attestation_bundles=[bundle]).model_dump(mode="json")
    return document


def check_upload_attestations(
    values: Sequence[str],
    *,
    publisher_kind: str | None,
    publisher_identity: Mapping[str, Any] | None,
    filename: str,
    sha256: str,
    trust: ClientTrustConfig | None,
) -> dict[str, Any]:
    """The provenance of an upload whose form carried ``attestations`` (``values``).

    ``publisher_kind`` (PyPI's name for the publisher's kind) is None for an upload made with an
    API token rather than a token minted by Trusted Publishing; ``publisher_identity`` is the
    PEP 740 publisher object the kind derives, None for a kind without attestations. Raises
    :class:`AttestationError` with PyPI's upload message.
    """
    if publisher_kind is None:
        raise _refused(ONLY_TRUSTED_PUBLISHING)
    try:
        publisher = attestation_identity(publisher_kind, publisher_identity)
    except AttestationError as exc:
        raise _refused(exc.message) from exc
    attestations = parse_attestations(values)
    verify_attestations(
        attestations, filename=filename, sha256=sha256, publisher=publisher, trust=trust
    )
    return provenance_document(publisher, attestations)
