"""Rekor v1 entry kinds ``hashedrekord`` and ``dsse`` (0.0.1): check a proposed entry, canonicalize it.
Copies Rekor's ``pkg/types/{hashedrekord,dsse}/v0.0.1`` as sigstore-python 4.5 submits and checks them.

A proposed entry is accepted only when its signatures verify against the key material it
carries (a certificate or public key, base64 of PEM), as Rekor does; the stored body is the
canonical JSON (RFC 8785: sorted keys, no spaces) of what sigstore-python re-derives on
verification: for ``dsse`` the envelope and payload SHA-256 and the signature/verifier pairs.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Callable
from typing import Any, TypeAlias

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

from tests.devsigstore.errors import DevSigstoreError

__all__ = ["API_VERSION", "KINDS", "canonical_json", "canonicalize"]

API_VERSION = "0.0.1"

_PublicKey: TypeAlias = ec.EllipticCurvePublicKey | rsa.RSAPublicKey
_HASHES: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}
_CURVE_HASH: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    "secp256r1": hashes.SHA256,
    "secp384r1": hashes.SHA384,
    "secp521r1": hashes.SHA512,
}


class MalformedEntry(DevSigstoreError):
    """A proposed entry that is not a well-formed, correctly signed entry of a supported kind."""


def canonical_json(value: Any) -> bytes:
    """RFC 8785 for the values used here (ASCII strings, integers, objects, arrays)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _field(document: Any, path: str, problems: list[str]) -> Any:
    value = document
    for name in path.split("."):
        if not isinstance(value, dict) or name not in value:
            problems.append(f"'{path}' is required")
            return None
        value = value[name]
    return value


def _text(document: Any, path: str, problems: list[str]) -> str:
    value = _field(document, path, problems)
    if value is None:
        return ""
    if not isinstance(value, str) or not value:
        problems.append(f"'{path}' must be a non-empty string")
        return ""
    return value


def _b64(value: str, what: str) -> bytes:
    """Standard base64, or URL-safe base64 as DSSE also allows; padding optional."""
    padded = value + "=" * (-len(value) % 4)
    for altchars in (None, b"-_"):
        try:
            return base64.b64decode(padded, altchars=altchars, validate=True)
        except (binascii.Error, ValueError):
            continue
    raise MalformedEntry(f"{what} is not base64")


def _verification_key(encoded: str, what: str) -> tuple[_PublicKey, bytes]:
    """The public key in base64(PEM certificate or PEM public key), and the PEM itself."""
    pem = _b64(encoded, what)
    key: object
    try:
        key = x509.load_pem_x509_certificate(pem).public_key()
    except ValueError:
        try:
            key = serialization.load_pem_public_key(pem)
        except (ValueError, UnsupportedAlgorithm) as exc:
            raise MalformedEntry(
                f"{what} is neither a PEM certificate nor a PEM public key"
            ) from exc
    if not isinstance(key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
        raise MalformedEntry(f"{what}: only ECDSA and RSA keys are supported")
    return key, pem


def _verify(
    key: _PublicKey,
    signature: bytes,
    data: bytes,
    algorithm: hashes.HashAlgorithm | utils.Prehashed,
) -> bool:
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, data, ec.ECDSA(algorithm))
        else:
            key.verify(signature, data, padding.PKCS1v15(), algorithm)
    except InvalidSignature:
        return False
    return True


def _hashedrekord(spec: Any) -> dict[str, Any]:
    problems: list[str] = []
    signature = _text(spec, "signature.content", problems)
    verifier = _text(spec, "signature.publicKey.content", problems)
    algorithm = _text(spec, "data.hash.algorithm", problems)
    digest_hex = _text(spec, "data.hash.value", problems)
    if algorithm and algorithm not in _HASHES:
        problems.append(f"unsupported hash algorithm {algorithm!r} (sha256, sha384, sha512)")
    if problems:
        raise MalformedEntry("invalid hashedrekord entry: " + "; ".join(problems))
    hash_algorithm = _HASHES[algorithm]()
    try:
        digest = bytes.fromhex(digest_hex)
    except ValueError as exc:
        raise MalformedEntry("'data.hash.value' is not hexadecimal") from exc
    if len(digest) != hash_algorithm.digest_size:
        raise MalformedEntry(f"'data.hash.value' is not a {algorithm} digest")
    key, pem = _verification_key(verifier, "'signature.publicKey.content'")
    raw_signature = _b64(signature, "'signature.content'")
    if not _verify(key, raw_signature, digest, utils.Prehashed(hash_algorithm)):
        raise MalformedEntry("the signature does not verify against the digest and public key")
    return {
        "data": {"hash": {"algorithm": algorithm, "value": digest.hex()}},
        "signature": {
            "content": base64.b64encode(raw_signature).decode(),
            "publicKey": {"content": base64.b64encode(pem).decode()},
        },
    }


def _pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %b %d %b" % (len(kind), kind, len(payload), payload)


def _dsse(spec: Any) -> dict[str, Any]:
    problems: list[str] = []
    envelope_text = _text(spec, "proposedContent.envelope", problems)
    verifiers = _field(spec, "proposedContent.verifiers", problems)
    if verifiers is not None and (
        not isinstance(verifiers, list)
        or not verifiers
        or not all(isinstance(v, str) and v for v in verifiers)
    ):
        problems.append("'proposedContent.verifiers' must be a non-empty list of strings")
    if problems:
        raise MalformedEntry("invalid dsse entry: " + "; ".join(problems))
    try:
        envelope = json.loads(envelope_text)
    except ValueError as exc:
        raise MalformedEntry("'proposedContent.envelope' is not JSON") from exc
    payload_type = _text(envelope, "payloadType", problems)
    payload_b64 = _text(envelope, "payload", problems)
    signatures = _field(envelope, "signatures", problems)
    if signatures is not None and (not isinstance(signatures, list) or not signatures):
        problems.append("'signatures' must be a non-empty list")
    if problems:
        raise MalformedEntry("invalid DSSE envelope: " + "; ".join(problems))
    payload = _b64(payload_b64, "the envelope's payload")
    keys = [_verification_key(v, f"verifier {i}") for i, v in enumerate(verifiers)]
    message = _pae(payload_type, payload)
    recorded = []
    for i, item in enumerate(signatures):
        sig_b64 = _text(item, "sig", problems)
        if problems:
            raise MalformedEntry(f"invalid DSSE signature {i}: " + "; ".join(problems))
        raw = _b64(sig_b64, f"signature {i}")
        for key, pem in keys:
            algorithm = (
                _CURVE_HASH.get(key.curve.name, hashes.SHA256)()
                if isinstance(key, ec.EllipticCurvePublicKey)
                else hashes.SHA256()
            )
            if _verify(key, raw, message, algorithm):
                recorded.append(
                    {
                        "signature": base64.b64encode(raw).decode(),
                        "verifier": base64.b64encode(pem).decode(),
                    }
                )
                break
        else:
            raise MalformedEntry(f"DSSE signature {i} verifies against none of the verifiers")
    return {
        "envelopeHash": {
            "algorithm": "sha256",
            "value": hashlib.sha256(envelope_text.encode()).hexdigest(),
        },
        "payloadHash": {"algorithm": "sha256", "value": hashlib.sha256(payload).hexdigest()},
        "signatures": sorted(recorded, key=lambda s: s["signature"]),
    }


KINDS: dict[str, Callable[[Any], dict[str, Any]]] = {"dsse": _dsse, "hashedrekord": _hashedrekord}


def canonicalize(proposed: Any) -> bytes:
    """The canonical body of a proposed entry, after checking it and its signatures."""
    if not isinstance(proposed, dict):
        raise MalformedEntry("the proposed entry must be a JSON object")
    problems: list[str] = []
    kind, version = proposed.get("kind"), proposed.get("apiVersion")
    if kind not in KINDS:
        problems.append(f"unsupported kind {kind!r}: this log accepts {', '.join(sorted(KINDS))}")
    if version != API_VERSION:
        problems.append(f"unsupported apiVersion {version!r}: this log accepts {API_VERSION}")
    if not isinstance(proposed.get("spec"), dict):
        problems.append("'spec' must be an object")
    if problems:
        raise MalformedEntry("; ".join(problems))
    spec = KINDS[str(kind)](proposed["spec"])
    return canonical_json({"apiVersion": API_VERSION, "kind": kind, "spec": spec})
