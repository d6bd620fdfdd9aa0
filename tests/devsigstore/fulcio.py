"""The development Fulcio: a CA that turns a verified OIDC identity into a short-lived leaf.
Copies Fulcio's ``POST /api/v2/signingCert`` (CSR flow) as sigstore-python 4.5 calls it.

Request: ``{"certificateSigningRequest": base64(PEM CSR)}`` with ``Authorization: Bearer <jwt>``
(or ``credentials.oidcIdentityToken`` in the body). The CSR's signature is the proof of
possession of the key. Response: ``{"signedCertificateEmbeddedSct": {"chain": {"certificates":
[leaf PEM, CA PEM]}}}``. The leaf follows Fulcio's profile: empty subject, critical SAN,
digitalSignature, codeSigning, the claim extensions, an embedded SCT, ten minutes of validity.
"""

from __future__ import annotations

import base64
import binascii
import datetime
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.devsigstore.claims import CertificateIdentity, certificate_identity
from tests.devsigstore.ctlog import SCT_EXTENSION_OID, CTLog, key_id
from tests.devsigstore.errors import DevSigstoreError, Unauthenticated
from tests.devsigstore.identity import IdentityVerifier

__all__ = ["LEAF_LIFETIME", "FulcioCA", "read_signing_request"]

LEAF_LIFETIME = datetime.timedelta(minutes=10)
CA_LIFETIME = datetime.timedelta(days=3650)
# The CA predates its first use a little, for clocks that lag.
BACKDATE = datetime.timedelta(minutes=5)
MAX_CSR_PEM = 16 * 1024
_CURVES = (ec.SECP256R1, ec.SECP384R1, ec.SECP521R1)


def _signing_request_from(body: dict[str, Any]) -> x509.CertificateSigningRequest:
    if "publicKeyRequest" in body and "certificateSigningRequest" not in body:
        raise DevSigstoreError(
            "publicKeyRequest is not supported here; send certificateSigningRequest"
        )
    encoded = body.get("certificateSigningRequest")
    if not isinstance(encoded, str) or not encoded:
        raise DevSigstoreError("certificateSigningRequest (base64 of a PEM CSR) is required")
    if len(encoded) > MAX_CSR_PEM * 4 // 3 + 4:
        raise DevSigstoreError(f"certificateSigningRequest is larger than {MAX_CSR_PEM} bytes")
    try:
        pem = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise DevSigstoreError("certificateSigningRequest is not base64") from exc
    try:
        return x509.load_pem_x509_csr(pem)
    except ValueError as exc:
        raise DevSigstoreError(
            "certificateSigningRequest is not a PEM certificate signing request"
        ) from exc


def read_signing_request(body: Any) -> x509.CertificateSigningRequest:
    """The CSR of a signingCert request, checked: parseable, a supported key, self-signed."""
    if not isinstance(body, dict):
        raise DevSigstoreError("the request body must be a JSON object")
    csr = _signing_request_from(body)
    try:
        key = csr.public_key()
    except ValueError as exc:
        raise DevSigstoreError(f"the CSR's public key cannot be read: {exc}") from exc
    if isinstance(key, ec.EllipticCurvePublicKey):
        if not isinstance(key.curve, _CURVES):
            raise DevSigstoreError(f"unsupported elliptic curve {key.curve.name}")
    elif isinstance(key, rsa.RSAPublicKey):
        if not 2048 <= key.key_size <= 4096:
            raise DevSigstoreError(f"RSA keys must have 2048 to 4096 bits, not {key.key_size}")
    else:
        raise DevSigstoreError("unsupported key type: use ECDSA (P-256/384/521) or RSA")
    if not csr.is_signature_valid:
        raise DevSigstoreError(
            "the CSR's signature does not verify: no proof of possession of the private key"
        )
    return csr


def token_from(authorization: str | None, body: Any) -> str:
    """The identity token: ``Authorization: Bearer``, else ``credentials.oidcIdentityToken``."""
    scheme, _, credential = (authorization or "").strip().partition(" ")
    if scheme.lower() == "bearer" and credential.strip():
        return credential.strip()
    credentials = body.get("credentials") if isinstance(body, dict) else None
    token = credentials.get("oidcIdentityToken") if isinstance(credentials, dict) else None
    if isinstance(token, str) and token:
        return token
    raise Unauthenticated("an OIDC identity token is required (Authorization: Bearer <token>)")


class FulcioCA:
    """A self-signed ECDSA P-384 CA issuing Fulcio-profile leaves with an SCT from ``ctlog``."""

    def __init__(self, ctlog: CTLog, verifier: IdentityVerifier, *, name: str) -> None:
        self.ctlog = ctlog
        self.verifier = verifier
        self.key = ec.generate_private_key(ec.SECP384R1())
        now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "trustyard devsigstore"),
                x509.NameAttribute(NameOID.COMMON_NAME, name),
            ]
        )
        public = self.key.public_key()
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - BACKDATE)
            .not_valid_after(now + CA_LIFETIME)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
            .sign(self.key, hashes.SHA384())
        )

    @property
    def not_before(self) -> datetime.datetime:
        """When the CA (and the trust root's validity periods) start."""
        return self.cert.not_valid_before_utc

    def pem(self) -> str:
        """The CA certificate in PEM."""
        return self.cert.public_bytes(serialization.Encoding.PEM).decode()

    def signing_cert(self, authorization: str | None, body: Any) -> dict[str, Any]:
        """Answer ``POST /api/v2/signingCert``: verify the token and CSR, issue the chain."""
        verified = self.verifier.verify(token_from(authorization, body))
        csr = read_signing_request(body)
        identity = certificate_identity(
            verified.claims, token_issuer=verified.token_issuer, cert_issuer=verified.cert_issuer
        )
        leaf = self.issue(csr.public_key(), identity)
        chain = [leaf.public_bytes(serialization.Encoding.PEM).decode(), self.pem()]
        return {"signedCertificateEmbeddedSct": {"chain": {"certificates": chain}}}

    def issue(
        self,
        public_key: Any,
        identity: CertificateIdentity,
        *,
        lifetime: datetime.timedelta = LEAF_LIFETIME,
    ) -> x509.Certificate:
        """A leaf for ``public_key``: the precertificate's TBS gets an SCT, then the final one."""
        now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
        ca_public = self.key.public_key()
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([]))
            .issuer_name(self.cert.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(now + lifetime)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_public), critical=False
            )
            .add_extension(x509.SubjectAlternativeName([identity.san]), critical=True)
        )
        for oid, value in identity.extensions:
            builder = builder.add_extension(x509.UnrecognizedExtension(oid, value), critical=False)
        precertificate = builder.sign(self.key, hashes.SHA384())
        sct = self.ctlog.extension_value(
            precertificate.tbs_certificate_bytes, key_id(ca_public), int(now.timestamp()) * 1000
        )
        leaf = builder.add_extension(
            x509.UnrecognizedExtension(SCT_EXTENSION_OID, sct), critical=False
        ).sign(self.key, hashes.SHA384())
        if leaf.tbs_precertificate_bytes != precertificate.tbs_certificate_bytes:
            raise RuntimeError("the SCT was computed over a TBSCertificate that differs")
        return leaf
