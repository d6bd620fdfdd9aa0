"""Sigstore signing of a release: a DSSE bundle for the provenance and PEP 740 publish attestations.
Follows sigstore-python's ``Signer.sign_dsse`` and pypi-attestations' ``Attestation.sign`` (as
pypa/gh-action-pypi-publish's ``attestations.py`` uses it), with Rekor v1 entries.

Rekor v1 is forced because a PEP 740 attestation's ``transparency_entries`` are Rekor v1 entries
(pypi-attestations' own ``sign`` command does the same). The identity is an OIDC token for the
audience ``sigstore``; the instance is the public one unless a ``ClientTrustConfig`` names
another.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from pydantic import ValidationError
from pypi_attestations import Attestation, AttestationError, Distribution
from sigstore._internal.fulcio.client import FulcioClientError
from sigstore._internal.rekor import RekorClientError
from sigstore.dsse import Statement
from sigstore.errors import Error as SigstoreError
from sigstore.models import ClientTrustConfig
from sigstore.oidc import IdentityError, IdentityToken
from sigstore.sign import SigningContext

from trustyard.errors import Error

__all__ = [
    "SIGSTORE_AUDIENCE",
    "SignedRelease",
    "SigningFailed",
    "certified_identity_of",
    "sign_release",
    "signing_context",
]

SIGSTORE_AUDIENCE = "sigstore"
_ISSUER_V2 = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.8")  # Fulcio: OIDC issuer (v2)


class SigningFailed(Error):
    """Sigstore would not sign: a bad identity token, or Fulcio/Rekor refused or were down."""


@dataclass(frozen=True)
class SignedRelease:
    """The provenance's Sigstore bundle (one JSON line) and each distribution's attestation
    (``Attestation.model_dump_json()``), keyed by filename; ``identity`` is the token's."""

    provenance_bundle: str
    attestations: dict[str, str]
    identity: str
    issuer: str


def signing_context(trust_config: ClientTrustConfig | None) -> SigningContext:
    """A context for ``trust_config`` (a private instance) or the public-good instance."""
    try:
        config = trust_config if trust_config is not None else ClientTrustConfig.production()
        config.force_tlog_version = 1
        return SigningContext.from_trust_config(config)
    except (SigstoreError, ValueError, OSError) as exc:
        raise SigningFailed(f"cannot set up Sigstore signing: {exc}") from exc


def sign_release(
    token: str,
    statement: bytes,
    distributions: Sequence[Path],
    context: SigningContext,
) -> SignedRelease:
    """Sign ``statement`` (an in-toto statement's bytes, kept byte for byte) and a PEP 740
    publish attestation for each distribution, with one short-lived certificate."""
    try:
        identity = IdentityToken(token)
    except IdentityError as exc:
        raise SigningFailed(f"the ambient identity token is not usable by Sigstore: {exc}") from exc
    try:
        dsse_statement = Statement(statement)
    except SigstoreError as exc:
        raise SigningFailed(f"the provenance is not an in-toto statement: {exc}") from exc
    attestations: dict[str, str] = {}
    try:
        with context.signer(identity, cache=True) as signer:
            bundle = signer.sign_dsse(dsse_statement)
            for path in distributions:
                dist = Distribution.from_file(path)
                attestations[path.name] = Attestation.sign(signer, dist).model_dump_json()
    except ValidationError as exc:
        raise SigningFailed(f"not a distribution pypi-attestations accepts: {exc}") from exc
    except (AttestationError, SigstoreError, FulcioClientError, RekorClientError) as exc:
        raise SigningFailed(f"Sigstore signing failed: {exc}") from exc
    except OSError as exc:  # requests' connection errors derive from OSError
        raise SigningFailed(f"Sigstore signing failed: {exc}") from exc
    line = json.dumps(json.loads(bundle.to_json()), separators=(",", ":"))
    certified_identity, certified_issuer = certified_identity_of(bundle.signing_certificate)
    return SignedRelease(
        provenance_bundle=line,
        attestations=attestations,
        identity=certified_identity or identity.identity,
        issuer=certified_issuer or identity.federated_issuer or identity.issuer,
    )


def certified_identity_of(certificate: x509.Certificate) -> tuple[str, str]:
    """The identity (SAN URI or email) and OIDC issuer a Fulcio certificate vouches for: what
    a verifier will see, e.g. GitHub's workflow URI rather than the token's ``sub``."""
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = [
            *san.get_values_for_type(x509.UniformResourceIdentifier),
            *san.get_values_for_type(x509.RFC822Name),
        ]
    except x509.ExtensionNotFound:
        names = []
    issuer = ""
    for extension in certificate.extensions:
        if extension.oid == _ISSUER_V2 and isinstance(extension.value, x509.UnrecognizedExtension):
            issuer = _der_utf8(extension.value.value)
    return (names[0] if names else ""), issuer


def _der_utf8(der: bytes) -> str:
    """A DER UTF8String's text (Fulcio's v2 extensions are encoded so); "" if it is not one."""
    if len(der) < 2 or der[0] != 0x0C:
        return ""
    length, offset = der[1], 2
    if length & 0x80:
        count = length & 0x7F
        length, offset = int.from_bytes(der[2 : 2 + count], "big"), 2 + count
    return der[offset : offset + length].decode("utf-8", "replace")


def __dir__() -> list[str]:
    return __all__
