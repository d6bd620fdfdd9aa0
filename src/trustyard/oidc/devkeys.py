"""Signing keys of the development issuer, and a JWS signer that can also forge tokens.
Implements RFC 7515 compact JWS, RFC 7517 JWK and RFC 7638 thumbprints (used as ``kid``).

Development and tests only: :func:`sign` signs whatever it is given, with whatever header, so
that tests can build the malformed and malicious tokens a verifier must refuse.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import hmac
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeAlias

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from trustyard.atomicfiles import write_atomic
from trustyard.errors import Error

__all__ = [
    "DevKeyError",
    "SigningKey",
    "b64url",
    "generate_key_file",
    "load_or_create_signing_key",
    "load_signing_key",
    "sign",
]

PrivateKey: TypeAlias = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
KeyKind: TypeAlias = Literal["RS256", "ES256"]

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "256": hashes.SHA256,
    "384": hashes.SHA384,
    "512": hashes.SHA512,
}


class DevKeyError(Error):
    """A key file of the development issuer is missing, damaged or of the wrong kind."""


@dataclass(frozen=True)
class SigningKey:
    """A private key, its public JWK and its RFC 7638 thumbprint (the ``kid``)."""

    private: PrivateKey
    kid: str

    @property
    def algorithm(self) -> KeyKind:
        """The JWS algorithm this key signs with by default."""
        return "RS256" if isinstance(self.private, rsa.RSAPrivateKey) else "ES256"

    def public_jwk(self) -> dict[str, str]:
        """The public key as a JWK, with ``kid``, ``alg`` and ``use: sig`` (as GitHub serves it)."""
        return {**_jwk_members(self.private), "kid": self.kid, "alg": self.algorithm, "use": "sig"}

    def public_pem(self) -> bytes:
        """The public key as a PEM SubjectPublicKeyInfo."""
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


def b64url(data: bytes) -> str:
    """Base64url without padding (RFC 7515 section 2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def generate_key_file(path: Path, kind: KeyKind = "RS256") -> SigningKey:
    """Write a new private key (RSA 2048 or P-256) to ``path`` with mode 0600, replacing any."""
    key: PrivateKey = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if kind == "RS256"
        else ec.generate_private_key(ec.SECP256R1())
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    write_atomic(path, pem, mode=0o600)
    return SigningKey(private=key, kid=_thumbprint(key))


def load_signing_key(path: Path) -> SigningKey:
    """Read an unencrypted PEM private key (RSA or EC P-256)."""
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except FileNotFoundError as exc:
        raise DevKeyError(f"signing key {path} does not exist") from exc
    except (OSError, ValueError, TypeError) as exc:
        raise DevKeyError(f"cannot load signing key {path}: {exc}") from exc
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise DevKeyError(f"signing key {path} is neither RSA nor EC")
    return SigningKey(private=key, kid=_thumbprint(key))


def load_or_create_signing_key(path: Path) -> SigningKey:
    """The RSA key at ``path``, generated (once, even with concurrent callers) if missing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with _locked(path.with_name(path.name + ".lock")):
        if not path.exists():
            return generate_key_file(path, "RS256")
    return load_signing_key(path)


def sign(
    claims: Mapping[str, Any],
    key_path: Path,
    *,
    headers: Mapping[str, Any] | None = None,
    algorithm: str | None = None,
) -> str:
    """A compact JWS of ``claims`` signed with the key at ``key_path``.

    The header is ``{"alg", "typ": "JWT", "kid": <thumbprint>}`` updated with ``headers``; a
    header whose value is ``None`` is removed (so ``headers={"kid": None}`` drops the kid, and
    ``headers={"alg": "RS256"}`` with ``algorithm="none"`` lies about the algorithm).
    ``algorithm`` picks how the signature is made: ``RS256/384/512`` and ``PS256/384/512`` with
    an RSA key, ``ES256`` with an EC key, ``HS256/384/512`` with the *public key PEM* as the
    HMAC secret (the classic key-confusion forgery), ``none`` for an empty signature.
    """
    key = load_signing_key(key_path)
    alg = algorithm or key.algorithm
    header: dict[str, Any] = {"alg": alg, "typ": "JWT", "kid": key.kid}
    for name, value in (headers or {}).items():
        if value is None:
            header.pop(name, None)
        else:
            header[name] = value
    signing_input = f"{b64url(_json(header))}.{b64url(_json(claims))}".encode("ascii")
    signature = _signature(alg, key, signing_input)
    return f"{signing_input.decode('ascii')}.{b64url(signature)}"


def _signature(alg: str, key: SigningKey, data: bytes) -> bytes:
    family, bits = alg[:2], alg[2:]
    if alg == "none":
        return b""
    if bits not in _HASHES:
        raise DevKeyError(f"unsupported algorithm {alg!r}")
    digest = _HASHES[bits]()
    if family == "HS":
        return hmac.new(key.public_pem(), data, digest.name).digest()
    if family in {"RS", "PS"} and isinstance(key.private, rsa.RSAPrivateKey):
        pad: padding.AsymmetricPadding = (
            padding.PKCS1v15()
            if family == "RS"
            else padding.PSS(mgf=padding.MGF1(digest), salt_length=digest.digest_size)
        )
        return key.private.sign(data, pad, digest)
    if family == "ES" and isinstance(key.private, ec.EllipticCurvePrivateKey):
        r, s = decode_dss_signature(key.private.sign(data, ec.ECDSA(digest)))
        size = (key.private.curve.key_size + 7) // 8
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")
    raise DevKeyError(f"algorithm {alg!r} does not fit the key ({key.algorithm})")


def _json(value: Mapping[str, Any]) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode("utf-8")


def _int_b64(number: int) -> str:
    return b64url(number.to_bytes((number.bit_length() + 7) // 8 or 1, "big"))


def _jwk_members(key: PrivateKey) -> dict[str, str]:
    """The required public members of the JWK, as RFC 7638 lists them."""
    if isinstance(key, rsa.RSAPrivateKey):
        numbers = key.public_key().public_numbers()
        return {"e": _int_b64(numbers.e), "kty": "RSA", "n": _int_b64(numbers.n)}
    point = key.public_key().public_numbers()
    size = (key.curve.key_size + 7) // 8
    return {
        "crv": "P-256",
        "kty": "EC",
        "x": b64url(point.x.to_bytes(size, "big")),
        "y": b64url(point.y.to_bytes(size, "big")),
    }


def _thumbprint(key: PrivateKey) -> str:
    """RFC 7638: SHA-256 over the required members, sorted, without whitespace."""
    canonical = json.dumps(_jwk_members(key), sort_keys=True, separators=(",", ":"))
    return b64url(hashlib.sha256(canonical.encode("utf-8")).digest())


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
