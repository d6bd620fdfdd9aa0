"""Verifying an OIDC ID token (RFC 7519 / OpenID Connect Core 3.1.3.7) as PyPI does.

warehouse ``oidc/services.py``: asymmetric algorithms only, a ``kid`` in the header,
``iss``/``iat``/``exp``/``aud`` required, ``aud`` a single string equal to our audience,
``nbf`` honoured, 30 s leeway. Headers that point at other keys (``jku``, ``x5u``, ``jwk``,
``x5c``) are refused outright: keys come only from the issuer's JWKS. Beyond warehouse (issue 14,
finding 9): ``iat``, ``exp`` and ``nbf`` must be JSON numbers (RFC 7519 section 2, NumericDate),
and a token may live at most :data:`MAX_LIFETIME` from ``iat`` to ``exp``.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NewType

import jwt
from jwt.exceptions import PyJWTError

from trustyard.oidc.errors import TokenRejected

ALGORITHMS = ("RS256", "ES256")
LEEWAY = 30
MAX_TOKEN_LENGTH = 16 * 1024
_FOREIGN_KEY_HEADERS = ("jku", "x5u", "jwk", "x5c")
# The longest ``exp - iat`` accepted. Real CI tokens: GitHub Actions' live minutes (well under
# an hour); Google's ID tokens one hour; GitLab's ``id_tokens`` the job's timeout plus 5 minutes
# (GitLab ``lib/gitlab/ci/jwt.rb``: 1 hour by default, 3 hours at most on GitLab.com's shared
# runners). A day passes every job a CI allows in practice, and bounds how long a used ``jti``
# must be remembered; beyond it a token is refused, never stored with an absurd expiry.
MAX_LIFETIME = 24 * 3600
LAST_DATE = 253402300799  # 9999-12-31T23:59:59Z, the last second datetime can hold

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


_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")


def _segment(text: str) -> bytes:
    """One base64url segment of a compact JWS, decoded with PyJWT's own rules (RFC 7515
    section 2: no padding, though up to two ``=`` on a whole quantum are accepted as PyJWT
    does; the alphabet only; the canonical encoding only), in C rather than per character."""
    stripped = text.rstrip("=")
    padding = len(text) - len(stripped)
    if (
        padding > 2
        or (padding and len(text) % 4)
        or len(stripped) % 4 == 1
        or not _BASE64URL.fullmatch(stripped)
    ):
        raise _malformed()
    try:
        decoded = base64.urlsafe_b64decode(stripped + "=" * (-len(stripped) % 4))
    except binascii.Error as exc:  # pragma: no cover - the checks above leave none
        raise _malformed() from exc
    if base64.urlsafe_b64encode(decoded).rstrip(b"=") != stripped.encode():
        raise _malformed()
    return decoded


def _json_object(data: bytes) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise _malformed() from exc
    if not isinstance(value, dict):
        raise _malformed()
    return value


_SUPPORTED_CRIT = frozenset({"b64"})  # PyJWT's: RFC 7797 only


def _check_header(header: dict[str, Any]) -> None:
    """PyJWT's checks of a header read unverified (``kid`` a string; ``crit`` a non-empty list
    of extensions it supports, each present: RFC 7515 section 4.1.11), so that a token is
    malformed here exactly when PyJWT's unverified decode called it so before."""
    if "kid" in header and not isinstance(header["kid"], str):
        raise _malformed()
    if "crit" in header:
        crit = header["crit"]
        if not isinstance(crit, list) or not crit:
            raise _malformed()
        for extension in crit:
            if (
                not isinstance(extension, str)
                or extension not in _SUPPORTED_CRIT
                or extension not in header
            ):
                raise _malformed()


@dataclass(frozen=True)
class UnverifiedToken:
    """A compact JWS split and decoded once, nothing checked but its form: enough to choose
    the issuer and its key. :func:`verify_token` decides; these claims are never trusted."""

    raw: str
    header: dict[str, Any]
    claims: dict[str, Any]

    @property
    def issuer(self) -> str:
        issuer = self.claims.get("iss")
        if not isinstance(issuer, str) or not issuer:
            raise _malformed()
        return issuer


def parse_unverified(token: str) -> UnverifiedToken:
    """The header and claims of ``token``, read without checking the signature (one pass:
    PyJWT's ``get_unverified_header`` and unverified ``decode`` each decode every segment,
    the signature too, testing the alphabet character by character: issue 19)."""
    _check_compact(token)
    parts = token.split(".")
    if len(parts) != 3:
        raise _malformed()
    header = _json_object(_segment(parts[0]))
    if header.get("b64", True) is False:  # RFC 7797's detached payload: no claims to read
        raise _malformed()
    _check_header(header)
    claims = _json_object(_segment(parts[1]))
    _segment(parts[2])
    return UnverifiedToken(token, header, claims)


def unverified_issuer(token: str) -> str:
    """The ``iss`` of a token, read without checking anything (to choose the issuer)."""
    return parse_unverified(token).issuer


@functools.lru_cache(maxsize=256)
def _public_key(jwk_json: str, algorithm: str) -> Any:
    """The key object of a JWK (loading one checks it: tens of microseconds per token before;
    an issuer serves a handful of keys, so a small cache holds them all)."""
    return jwt.PyJWK(json.loads(jwk_json), algorithm=algorithm).key


def verify_token(
    token: str | UnverifiedToken, *, issuer: str, audience: str, keys: KeyLookup
) -> VerifiedClaims:
    """Check signature and registered claims; return the claims or raise ``invalid-token``.

    ``token`` may be given already parsed (:func:`parse_unverified`); PyJWT still decodes the
    text itself, once, and is what decides.
    """
    parsed = token if isinstance(token, UnverifiedToken) else parse_unverified(token)
    header = parsed.header
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
        key = _public_key(json.dumps(jwk, sort_keys=True), algorithm)
        claims = jwt.decode(
            parsed.raw,
            key=key,
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
    # OverflowError: an Infinity PyJWT's JSON decoder accepts, in a claim it converts to int.
    # RecursionError: a JWK nested too deep to serialise as the cache's key.
    except (PyJWTError, ValueError, TypeError, OverflowError, RecursionError) as exc:
        raise _invalid() from exc
    _check_times(claims)
    return VerifiedClaims(claims)


def _numeric_date(claims: dict[str, Any], name: str) -> float | None:
    """A NumericDate claim: a JSON number between 1970 and the year 9999 (PyJWT would also
    take ``"123"``, ``true`` or 10**400, which no date conversion survives)."""
    if name not in claims:
        return None
    value = claims[name]
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or (isinstance(value, float) and not math.isfinite(value))
        or not 0 <= value <= LAST_DATE
    ):
        raise TokenRejected("invalid-token", f"invalid token: {name} is not a NumericDate")
    return float(value)


def _check_times(claims: dict[str, Any]) -> None:
    """Refuse dates that are not numbers and lifetimes no issuer gives (a 422, not a 500)."""
    issued = _numeric_date(claims, "iat")
    expires = _numeric_date(claims, "exp")
    _numeric_date(claims, "nbf")
    if issued is None or expires is None:  # pragma: no cover - required by the decode above
        raise _invalid()
    if expires - issued > MAX_LIFETIME:
        raise TokenRejected(
            "invalid-token",
            f"invalid token: it lives {expires - issued:.0f} s from iat to exp, more than the"
            f" {MAX_LIFETIME} s this index accepts",
        )
