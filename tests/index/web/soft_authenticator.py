"""A security key in software, for the fast tier: what a real authenticator sends (W3C WebAuthn
Level 2 §6.1 authenticator data, §6.5.4 the "none" attestation, §6.3.3 an ES256 assertion),
built from its own P-256 key with ``cryptography`` and ``cbor2``. It stands in for the device
only; the server side (py_webauthn behind our pages) is the real one. The browser test
(``test_browser_two_factor.py``) does the same with Chromium's virtual authenticator.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import os
import re
from dataclasses import dataclass, field
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

_OPTIONS = re.compile(r'data-options="([^"]*)"')


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def options_in(page: str) -> dict[str, Any]:
    """The WebAuthn options a page hands ``webauthn.js`` (its ``data-options``)."""
    found = _OPTIONS.search(page)
    assert found is not None, "the page offers no security-key prompt"
    options: dict[str, Any] = json.loads(html.unescape(found.group(1)))
    return options


@dataclass
class SoftAuthenticator:
    origin: str
    rp_id: str
    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    credential_id: bytes = field(default_factory=lambda: os.urandom(32))
    sign_count: int = 0

    def _client_data(self, kind: str, challenge: str, origin: str | None) -> bytes:
        return json.dumps(
            {
                "type": kind,
                "challenge": challenge,
                "origin": origin or self.origin,
                "crossOrigin": False,
            }
        ).encode()

    def _cose_key(self) -> bytes:
        numbers = self.key.public_key().public_numbers()
        return cbor2.dumps(
            {
                1: 2,
                3: -7,
                -1: 1,
                -2: numbers.x.to_bytes(32, "big"),
                -3: numbers.y.to_bytes(32, "big"),
            }
        )

    def register(self, options: dict[str, Any]) -> dict[str, str]:
        """The registration form fields ``webauthn.js`` would fill for ``options``."""
        client_data = self._client_data("webauthn.create", options["challenge"], None)
        auth_data = (
            hashlib.sha256(options["rp"]["id"].encode()).digest()
            + bytes([0x41])  # user present, attested credential data
            + self.sign_count.to_bytes(4, "big")
            + bytes(16)  # AAGUID: none
            + len(self.credential_id).to_bytes(2, "big")
            + self.credential_id
            + self._cose_key()
        )
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        return {
            "credential_id": b64url(self.credential_id),
            "client_data": b64url(client_data),
            "attestation": b64url(attestation),
            "transports": "usb",
        }

    def answer(
        self, options: dict[str, Any], *, origin: str | None = None, count: int | None = None
    ) -> dict[str, str]:
        """The sign-in form fields for ``options`` (from ``origin``: a phishing page's)."""
        self.sign_count = self.sign_count + 1 if count is None else count
        client_data = self._client_data("webauthn.get", options["challenge"], origin)
        auth_data = (
            hashlib.sha256(options["rpId"].encode()).digest()
            + bytes([0x01])  # user present
            + self.sign_count.to_bytes(4, "big")
        )
        signature = self.key.sign(
            auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256())
        )
        return {
            "method": "webauthn",
            "credential_id": b64url(self.credential_id),
            "client_data": b64url(client_data),
            "authenticator_data": b64url(auth_data),
            "signature": b64url(signature),
        }
