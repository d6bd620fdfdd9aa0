"""The ClientTrustConfig of a development Sigstore instance: its trusted root and signing config.
Sigstore protobuf-specs ``ClientTrustConfig`` v0.1, ``TrustedRoot`` v0.1, ``SigningConfig`` v0.2.

The trusted root names the Fulcio CA, the CT log key and the Rekor key, valid from the CA's
start; the signing config points at one Fulcio and one Rekor v1 (PEP 740 transparency entries
are Rekor v1 entries) and no timestamp authority (Rekor v1's integrated time is the signed time).
"""

from __future__ import annotations

import base64
import datetime
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.devsigstore.ctlog import key_id

__all__ = ["CLIENT_TRUST_CONFIG", "SIGNING_CONFIG", "TRUSTED_ROOT", "client_trust_config"]

CLIENT_TRUST_CONFIG = "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json"
TRUSTED_ROOT = "application/vnd.dev.sigstore.trustedroot+json;version=0.1"
SIGNING_CONFIG = "application/vnd.dev.sigstore.signingconfig.v0.2+json"
OPERATOR = "devsigstore.trustyard.test"


def _time(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _log(url: str, key: ec.EllipticCurvePublicKey, start: str) -> dict[str, Any]:
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return {
        "baseUrl": url,
        "hashAlgorithm": "SHA2_256",
        "publicKey": {
            "rawBytes": _b64(der),
            "keyDetails": "PKIX_ECDSA_P256_SHA_256",
            "validFor": {"start": start},
        },
        "logId": {"keyId": _b64(key_id(key))},
    }


def _service(url: str, start: str) -> dict[str, Any]:
    return {"url": url, "majorApiVersion": 1, "validFor": {"start": start}, "operator": OPERATOR}


def client_trust_config(
    *,
    url: str,
    ca_chain_der: list[bytes],
    ca_subject: tuple[str, str],
    ct_key: ec.EllipticCurvePublicKey,
    rekor_key: ec.EllipticCurvePublicKey,
    start: datetime.datetime,
) -> dict[str, Any]:
    """The ClientTrustConfig document for an instance serving Fulcio and Rekor at ``url``."""
    begin = _time(start)
    organization, common_name = ca_subject
    return {
        "mediaType": CLIENT_TRUST_CONFIG,
        "trustedRoot": {
            "mediaType": TRUSTED_ROOT,
            "tlogs": [_log(url, rekor_key, begin)],
            "certificateAuthorities": [
                {
                    "subject": {"organization": organization, "commonName": common_name},
                    "uri": url,
                    "certChain": {"certificates": [{"rawBytes": _b64(d)} for d in ca_chain_der]},
                    "validFor": {"start": begin},
                }
            ],
            "ctlogs": [_log(url, ct_key, begin)],
            "timestampAuthorities": [],
        },
        "signingConfig": {
            "mediaType": SIGNING_CONFIG,
            "caUrls": [_service(url, begin)],
            "oidcUrls": [],
            "rekorTlogUrls": [_service(url, begin)],
            "tsaUrls": [],
            "rekorTlogConfig": {"selector": "ANY"},
            "tsaConfig": {"selector": "ANY"},
        },
    }
