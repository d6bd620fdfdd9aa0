"""Verifying the OIDC identity token presented to the development Fulcio.
Fulcio's ``pkg/server`` rules: bearer token, issuer among the configured ones, audience "sigstore".

Signature, ``iss``/``aud``/``exp``/``iat``/``nbf`` are checked by trustyard's own verifier
(:func:`trustyard.oidc.verify.verify_token`) against the issuer's JWKS fetched through OpenID
discovery (:func:`trustyard.oidc.jwks.fetch_jwks`); keys are cached and fetched again once when
a token names an unknown ``kid`` (a rotated key).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jwt

from tests.devsigstore.errors import Unauthenticated
from trustyard.oidc.errors import TokenRejected
from trustyard.oidc.jwks import KeyFetchError, fetch_jwks
from trustyard.oidc.verify import LEEWAY, unverified_issuer, verify_token

__all__ = ["SIGSTORE_AUDIENCE", "IdentityVerifier", "VerifiedIdentity"]

SIGSTORE_AUDIENCE = "sigstore"


@dataclass(frozen=True)
class VerifiedIdentity:
    """A verified token: who issued it, under which issuer it is certified, and its claims."""

    token_issuer: str
    cert_issuer: str
    claims: Mapping[str, Any]


def _explain_refusal(token: str, audience: str) -> None:
    """Name the audience or expiry problem precisely (the verifier's own refusal is generic).

    Only better messages: these claims are read unverified, :func:`verify_token` decides.
    """
    claims = jwt.decode(token, options={"verify_signature": False})
    if claims.get("aud") != audience:
        raise Unauthenticated(
            f"invalid identity token: audience {claims.get('aud')!r} is not {audience!r}"
        )
    expiry = claims.get("exp")
    if isinstance(expiry, int) and expiry + LEEWAY < time.time():
        raise Unauthenticated("invalid identity token: it has expired")


class IdentityVerifier:
    """Checks tokens of the issuers in ``issuer_map`` (token ``iss`` -> issuer to certify)."""

    def __init__(self, issuer_map: Mapping[str, str], audience: str = SIGSTORE_AUDIENCE) -> None:
        self.issuer_map = dict(issuer_map)
        self.audience = audience
        self._keys: dict[str, dict[str, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def _key(self, issuer: str, kid: str) -> dict[str, Any] | None:
        with self._lock:
            known = self._keys.get(issuer, {})
            if kid not in known:
                try:
                    known = fetch_jwks(issuer, allow_private_address=True)  # loopback
                except KeyFetchError as exc:
                    raise Unauthenticated(f"cannot fetch the keys of {issuer}: {exc}") from exc
                self._keys[issuer] = known
            return known.get(kid)

    def verify(self, token: str) -> VerifiedIdentity:
        """The verified identity of ``token``, or :class:`Unauthenticated` saying why not."""
        try:
            issuer = unverified_issuer(token)
        except TokenRejected as exc:
            raise Unauthenticated(f"invalid identity token: {exc.message}") from exc
        cert_issuer = self.issuer_map.get(issuer)
        if cert_issuer is None:
            raise Unauthenticated(f"invalid identity token: unknown issuer {issuer!r}")
        _explain_refusal(token, self.audience)
        try:
            claims = verify_token(token, issuer=issuer, audience=self.audience, keys=self._key)
        except TokenRejected as exc:
            raise Unauthenticated(f"invalid identity token from {issuer}: {exc.message}") from exc
        if not isinstance(claims.get("sub"), str) or not claims["sub"]:
            raise Unauthenticated("invalid identity token: no 'sub' claim")
        return VerifiedIdentity(token_issuer=issuer, cert_issuer=cert_issuer, claims=claims)
