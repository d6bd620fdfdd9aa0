"""A certificate transparency log that only signs: embedded SCTs for the development Fulcio.
RFC 6962 sections 3.2-3.3 (precertificate SCT v1) as sigstore-python's ``_internal/sct.py`` checks.

Real Fulcio submits a precertificate to its CT log and embeds the returned SCT; here the log is a
key that signs the ``digitally-signed`` struct directly. Nothing is logged: sigstore-python only
checks the SCT signature against the trusted root's ``ctlogs`` keys.
"""

from __future__ import annotations

import hashlib
import struct

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtensionOID

from tests.devsigstore.der import octet_string

__all__ = ["SCT_EXTENSION_OID", "CTLog", "key_id"]

SCT_EXTENSION_OID = ExtensionOID.PRECERT_SIGNED_CERTIFICATE_TIMESTAMPS

_SCT_V1 = 0
_CERTIFICATE_TIMESTAMP = 0  # SignatureType
_PRECERT_ENTRY = 1  # LogEntryType
_SHA256 = 4  # TLS HashAlgorithm
_ECDSA = 3  # TLS SignatureAlgorithm


def key_id(public_key: ec.EllipticCurvePublicKey) -> bytes:
    """RFC 6962 3.2 LogID / Sigstore key id: SHA-256 of the DER SubjectPublicKeyInfo."""
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).digest()


def _u24(size: int) -> bytes:
    if size >= 1 << 24:
        raise ValueError(f"{size} bytes do not fit an RFC 6962 opaque<1..2^24-1>")
    return size.to_bytes(3, "big")


class CTLog:
    """An ECDSA P-256 CT log key that issues precertificate SCTs."""

    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.log_id = key_id(self.key.public_key())

    def signed_timestamp(self, tbs_precertificate: bytes, issuer_key_hash: bytes, ms: int) -> bytes:
        """One serialized SCT (RFC 6962 3.2) over a precertificate's TBSCertificate."""
        signed = (
            struct.pack("!BBQH", _SCT_V1, _CERTIFICATE_TIMESTAMP, ms, _PRECERT_ENTRY)
            + issuer_key_hash
            + _u24(len(tbs_precertificate))
            + tbs_precertificate
            + struct.pack("!H", 0)  # no CtExtensions
        )
        signature = self.key.sign(signed, ec.ECDSA(hashes.SHA256()))
        return (
            struct.pack("!B32sQH", _SCT_V1, self.log_id, ms, 0)
            + struct.pack("!BBH", _SHA256, _ECDSA, len(signature))
            + signature
        )

    def extension_value(self, tbs_precertificate: bytes, issuer_key_hash: bytes, ms: int) -> bytes:
        """The extnValue of the SCT list extension: an OCTET STRING of a one-SCT TLS list."""
        sct = self.signed_timestamp(tbs_precertificate, issuer_key_hash, ms)
        entry = struct.pack("!H", len(sct)) + sct
        return octet_string(struct.pack("!H", len(entry)) + entry)
