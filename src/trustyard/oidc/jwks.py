"""Fetching an issuer's signing keys: OpenID Connect Discovery 1.0 section 4, then its JWKS.

As warehouse does (``oidc/services.py``): ``{iss}/.well-known/openid-configuration`` gives
``jwks_uri``; keys are fetched with a short timeout and a size cap, and only over HTTPS (plain
HTTP only for a loopback issuer, such as the development issuer).
"""

from __future__ import annotations

import functools
import ipaddress
import json
import ssl
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

from trustyard.errors import Error

TIMEOUT = 5.0
MAX_DOCUMENT = 1024 * 1024


class KeyFetchError(Error):
    """The issuer's discovery document or key set could not be read."""


def is_loopback_url(url: str) -> bool:
    """Whether ``url`` points at this machine (where plain HTTP is acceptable)."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One verifying context for every fetch: loading the trust store costs milliseconds."""
    return ssl.create_default_context()


def _get_json(url: str) -> dict[str, Any]:
    scheme = urlsplit(url).scheme
    if scheme != "https" and not (scheme == "http" and is_loopback_url(url)):
        raise KeyFetchError(f"refusing to fetch keys over {scheme or 'no scheme'}: {url}")
    request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310
    try:
        with urllib.request.urlopen(  # noqa: S310 - scheme checked above
            request, timeout=TIMEOUT, context=_tls_context()
        ) as response:
            body = response.read(MAX_DOCUMENT + 1)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise KeyFetchError(f"cannot fetch {url}: {exc}") from exc
    if len(body) > MAX_DOCUMENT:
        raise KeyFetchError(f"{url} is larger than {MAX_DOCUMENT} bytes")
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise KeyFetchError(f"{url} is not JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise KeyFetchError(f"{url} is not a JSON object")
    return document


def fetch_jwks(issuer: str) -> dict[str, dict[str, Any]]:
    """The issuer's current signing keys, by ``kid``."""
    discovery = _get_json(issuer.rstrip("/") + "/.well-known/openid-configuration")
    if discovery.get("issuer") != issuer:
        raise KeyFetchError(
            f"discovery document names issuer {discovery.get('issuer')!r}, expected {issuer!r}"
        )
    jwks_uri = discovery.get("jwks_uri")
    if not isinstance(jwks_uri, str):
        raise KeyFetchError(f"discovery document of {issuer} has no jwks_uri")
    keys = _get_json(jwks_uri).get("keys")
    if not isinstance(keys, list) or not keys:
        raise KeyFetchError(f"{jwks_uri} has no keys")
    return {
        key["kid"]: key for key in keys if isinstance(key, dict) and isinstance(key.get("kid"), str)
    }
