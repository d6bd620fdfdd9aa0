"""Ambient CI identity: the OIDC token a CI job can obtain for an audience, found as uv finds it.
Copies ambient-id (uv) and `id` (twine, the publish action) for GitHub Actions and GitLab CI.

GitHub Actions: ``GITHUB_ACTIONS`` is exactly ``"true"``; ``GET $ACTIONS_ID_TOKEN_REQUEST_URL``
with ``audience=<aud>`` added to its query and ``Authorization: Bearer
$ACTIONS_ID_TOKEN_REQUEST_TOKEN`` answers ``{"value": "<jwt>"}``. GitLab CI: ``GITLAB_CI`` is
``"true"`` and the job declared an ``id_tokens`` entry named ``<AUD>_ID_TOKEN`` (the audience
upper-cased, every non-alphanumeric turned into ``_``); no network call is made. As ``id`` >= 1.6.1
does, the token must be a three-part JWT whose ``aud`` is the requested audience.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from trustyard.errors import Error

__all__ = [
    "AmbientIdentityError",
    "AmbientToken",
    "detect_ambient_token",
    "gitlab_token_variable",
    "unverified_claims",
]

Provider = Literal["github", "gitlab"]


class AmbientIdentityError(Error):
    """A CI was detected but it would not give us a token for the audience."""


@dataclass(frozen=True)
class AmbientToken:
    """An OIDC ID token obtained from the CI the process runs in (not verified here)."""

    provider: Provider
    token: str

    def __repr__(self) -> str:
        return f"AmbientToken(provider={self.provider!r}, token=<redacted>)"


def gitlab_token_variable(audience: str) -> str:
    """The variable GitLab CI puts the ``audience`` token in (``pypi`` -> ``PYPI_ID_TOKEN``)."""
    return re.sub(r"[^A-Za-z0-9]", "_", audience).upper() + "_ID_TOKEN"


def detect_ambient_token(
    audience: str, environ: Mapping[str, str] | None = None, *, timeout: float = 10
) -> AmbientToken | None:
    """Return the CI's ID token for ``audience``; ``None`` when no supported CI is detected.

    Raises :class:`AmbientIdentityError` when a CI is detected but the token cannot be had
    (missing ``id-token: write`` permission, an unreachable token service, a wrong audience).
    """
    env = os.environ if environ is None else environ
    if not audience:
        raise AmbientIdentityError("an OIDC audience is required")
    if env.get("GITHUB_ACTIONS") == "true":
        token = _github_token(audience, env, timeout)
        return AmbientToken("github", _checked(token, audience, "GitHub Actions"))
    if env.get("GITLAB_CI") == "true":
        variable = gitlab_token_variable(audience)
        token = env.get(variable, "")
        if not token:
            raise AmbientIdentityError(
                f"GitLab CI detected, but no ID token for audience {audience!r}: declare "
                f"`id_tokens: {variable}: aud: {audience}` in the job"
            )
        return AmbientToken("gitlab", _checked(token, audience, "GitLab CI"))
    return None


def _github_token(audience: str, env: Mapping[str, str], timeout: float) -> str:
    url = env.get("ACTIONS_ID_TOKEN_REQUEST_URL", "")
    bearer = env.get("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "")
    if not url or not bearer:
        raise AmbientIdentityError(
            "GitHub Actions detected, but the job has insufficient permissions to request an "
            "OIDC token (ACTIONS_ID_TOKEN_REQUEST_URL/TOKEN are unset): add "
            "`permissions: id-token: write` to the job"
        )
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise AmbientIdentityError(f"ACTIONS_ID_TOKEN_REQUEST_URL is not an http(s) URL: {url!r}")
    query = [*parse_qsl(parts.query, keep_blank_values=True), ("audience", audience)]
    full = urlunsplit(parts._replace(query=urlencode(query)))
    request = urllib.request.Request(full, headers={"Authorization": f"Bearer {bearer}"})  # noqa: S310 - scheme checked above
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            body: Any = json.loads(response.read(1 << 20))
    except urllib.error.HTTPError as exc:
        detail = exc.read(4096).decode("utf-8", "replace")
        raise AmbientIdentityError(
            f"GitHub Actions refused the OIDC token request ({exc.code}): {detail}"
        ) from exc
    except (urllib.error.URLError, OSError) as exc:
        raise AmbientIdentityError(f"cannot reach GitHub Actions' token service: {exc}") from exc
    except ValueError as exc:
        raise AmbientIdentityError("GitHub Actions' token service did not answer JSON") from exc
    value = body.get("value") if isinstance(body, dict) else None
    if not isinstance(value, str) or not value:
        raise AmbientIdentityError("GitHub Actions' token service answered without a 'value'")
    return value


def _checked(token: str, audience: str, where: str) -> str:
    """Refuse a token that is not a JWT for ``audience`` (as ``id`` >= 1.6.1 does)."""
    try:
        claims = unverified_claims(token)
    except AmbientIdentityError as exc:
        raise AmbientIdentityError(f"{where} gave a malformed ID token: {exc.message}") from exc
    aud = claims.get("aud")
    audiences = aud if isinstance(aud, list) else [aud]
    if audience not in audiences:
        raise AmbientIdentityError(
            f"{where} gave an ID token for audience {aud!r}, not {audience!r}"
        )
    return token


def unverified_claims(token: str) -> dict[str, Any]:
    """Decode a JWT's claims WITHOUT checking its signature: for messages and routing only."""
    parts = token.split(".")
    if len(parts) != 3:
        raise AmbientIdentityError("not a JWT (expected three dot-separated parts)")
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload.encode("ascii")))
    except (binascii.Error, ValueError, UnicodeError) as exc:
        raise AmbientIdentityError("the JWT's claims are not base64url JSON") from exc
    if not isinstance(claims, dict):
        raise AmbientIdentityError("the JWT's claims are not a JSON object")
    return claims
