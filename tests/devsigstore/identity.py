"""Verifying the OIDC identity token presented to the development Fulcio.
Fulcio's ``pkg/server`` rules: bearer token, issuer among the configured ones, audience "sigstore".

Signature, ``iss``/``aud``/``exp``/``iat``/``nbf`` are checked by trustyard's own verifier
(:func:`trustyard.oidc.verify.verify_token`) against the issuer's JWKS fetched through OpenID
discovery (:func:`trustyard.oidc.jwks.fetch_jwks`); keys are cached and fetched again once when
a token names an unknown ``kid`` (a rotated key).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tests.devsigstore.errors import Unauthenticated
from trustyard.oidc.errors import TokenRejected
from trustyard.oidc.jwks import KeyFetchError, fetch_jwks
from trustyard.oidc.verify import unverified_issuer, verify_token

__all__ = ["SIGSTORE_AUDIENCE", "IdentityVerifier", "VerifiedIdentity"]

SIGSTORE_AUDIENCE = "sigstore"


@dataclass(frozen=True)
class VerifiedIdentity:
    """A verified token: who issued it, under which issuer it is certified, and its claims."""

    token_issuer: str
    cert_issuer: str
    claims: Mapping[str, Any]


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
                    known = fetch_jwks(issuer)
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
        try:
            claims = verify_token(token, issuer=issuer, audience=self.audience, keys=self._key)
        except TokenRejected as exc:
            raise Unauthenticated(
                f"invalid identity token from {issuer}: {exc.message} "
                f"(signature, expiry and audience {self.audience!r} are checked)"
            ) from exc
        if not isinstance(claims.get("sub"), str) or not claims["sub"]:
            raise Unauthenticated("invalid identity token: no 'sub' claim")
        return VerifiedIdentity(token_issuer=issuer, cert_issuer=cert_issuer, claims=claims)
