"""Verifying an OIDC ID token (RFC 7519 / OpenID Connect Core 3.1.3.7) as PyPI does.

warehouse ``oidc/services.py``: asymmetric algorithms only, a ``kid`` in the header,
``iss``/``iat``/``exp``/``aud`` required, ``aud`` a single string equal to our audience,
``nbf`` honoured, 30 s leeway. Headers that point at other keys (``jku``, ``x5u``, ``jwk``,
``x5c``) are refused outright: keys come only from the issuer's JWKS.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, NewType

import jwt
from jwt.exceptions import InvalidTokenError, PyJWTError

from trustyard.oidc.errors import TokenRejected

ALGORITHMS = ("RS256", "ES256")
LEEWAY = 30
MAX_TOKEN_LENGTH = 16 * 1024
_FOREIGN_KEY_HEADERS = ("jku", "x5u", "jwk", "x5c")

VerifiedClaims = NewType("VerifiedClaims", dict[str, Any])

KeyLookup = Callable[[str, str], dict[str, Any] | None]
"""``(issuer, kid) -> JWK`` or None: the caller's cached view of the issuer's JWKS."""


def _malformed() -> TokenRejected:
    return TokenRejected("invalid-payload", "malformed JWT")


def _invalid() -> TokenRejected:
    return TokenRejected("invalid-token", "malformed or invalid token")


def _check_compact(token: str) -> None:
    """A compact JWS is short ASCII (base64url and dots, RFC 7515 section 7.1).

    Checked before PyJWT encodes the text as UTF-8: a JSON body can carry a lone surrogate
    (``"\\ud800"``), which would raise ``UnicodeEncodeError`` there.
    """
    if len(token) > MAX_TOKEN_LENGTH:
        raise TokenRejected("invalid-payload", f"token longer than {MAX_TOKEN_LENGTH} characters")
    if not token.isascii():
        raise _malformed()


def unverified_issuer(token: str) -> str:
    """The ``iss`` of a token, read without checking anything (to choose the issuer)."""
    _check_compact(token)
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except InvalidTokenError as exc:
        raise _malformed() from exc
    issuer = claims.get("iss")
    if not isinstance(issuer, str) or not issuer:
        raise _malformed()
    return issuer


def verify_token(token: str, *, issuer: str, audience: str, keys: KeyLookup) -> VerifiedClaims:
    """Check signature and registered claims; return the claims or raise ``invalid-token``."""
    _check_compact(token)
    try:
        header = jwt.get_unverified_header(token)
    except InvalidTokenError as exc:
        raise _malformed() from exc
    algorithm = header.get("alg")
    kid = header.get("kid")
    if algorithm not in ALGORITHMS or not isinstance(kid, str) or not kid:
        raise _invalid()
    if any(name in header for name in _FOREIGN_KEY_HEADERS):
        raise _invalid()
    jwk = keys(issuer, kid)
    if jwk is None:
        raise _invalid()
    try:
        key = jwt.PyJWK(jwk, algorithm=algorithm)
        claims = jwt.decode(
            token,
            key=key.key,
            algorithms=[algorithm],
            audience=audience,
            issuer=issuer,
            leeway=LEEWAY,
            options={
                "require": ["iss", "iat", "exp", "aud"],
                "verify_signature": True,
                "verify_aud": True,
                "verify_iss": True,
                "verify_exp": True,
                "verify_iat": True,
                "verify_nbf": True,
                "strict_aud": True,
            },
        )
    # PyJWTError covers InvalidKeyError too: a JWK that is no key of this kind ("Not an RSA key").
    except (PyJWTError, ValueError, TypeError, json.JSONDecodeError) as exc:
        raise _invalid() from exc
    return VerifiedClaims(claims)
