"""Fetching an issuer's signing keys: OpenID Connect Discovery 1.0 section 4, then its JWKS.

As warehouse does (``oidc/services.py``): ``{iss}/.well-known/openid-configuration`` gives
``jwks_uri``; keys are fetched with a short timeout and a size cap, and only over HTTPS (plain
HTTP only for a loopback issuer, such as the development issuer). Beyond warehouse, whose
issuers are fixed in code, the rules that keep a fetch from being aimed elsewhere (issue 14,
finding 5; OWASP's SSRF prevention cheat sheet): no redirect is followed; ``jwks_uri`` must be
on the issuer's own origin; every address the host resolves to must be a public one unless the
issuer was allowed with private addresses, and the connection goes to an address so checked
(a second resolution cannot swap it for another).
"""

from __future__ import annotations

import functools
import http.client
import ipaddress
import json
import socket
import ssl
from typing import Any
from urllib.parse import urlsplit

from trustyard.errors import Error

TIMEOUT = 5.0
MAX_DOCUMENT = 1024 * 1024

# Issuers whose discovery document names keys on another origin, as their providers publish
# them: Google's ``https://accounts.google.com/.well-known/openid-configuration`` gives
# ``"jwks_uri": "https://www.googleapis.com/oauth2/v3/certs"``. Every other issuer's keys must
# be on its own origin (GitHub's and GitLab's are).
OTHER_KEY_ORIGINS = {"https://accounts.google.com": ("https", "www.googleapis.com", 443)}


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


def is_public_address(address: str) -> bool:
    """Whether ``address`` is on the public internet: not private, loopback, link-local
    (cloud metadata at 169.254.169.254), shared, multicast, reserved or unspecified."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_unspecified)


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One verifying context for every fetch: loading the trust store costs milliseconds."""
    return ssl.create_default_context()


def _origin(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of ``url``, the port filled in (RFC 6454 origin)."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError as exc:
        raise KeyFetchError(f"not a URL: {url} ({exc})") from None
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), port or (443 if scheme == "https" else 80)


def _addresses(host: str, port: int, *, allow_private: bool) -> list[str]:
    """Every address ``host`` resolves to; refused if any is not public (unless allowed)."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise KeyFetchError(f"cannot resolve {host}: {exc}") from exc
    addresses = list(dict.fromkeys(str(info[4][0]) for info in found))
    if not allow_private:
        for address in addresses:
            if not is_public_address(address):
                raise KeyFetchError(
                    f"{host} resolves to {address}, which is not a public address (allow it"
                    " with `trustyard admin issuer add ISSUER --allow-private-address`)"
                )
    if not addresses:
        raise KeyFetchError(f"cannot resolve {host}: no address")
    return addresses


class _PinnedHTTP(http.client.HTTPConnection):
    """An HTTP connection to a checked address, with the URL's host in the ``Host`` header."""

    def __init__(self, host: str, port: int, address: str) -> None:
        super().__init__(host, port, timeout=TIMEOUT)
        self.address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    """An HTTPS connection to a checked address, the certificate checked for the URL's host."""

    def __init__(self, host: str, port: int, address: str) -> None:
        super().__init__(host, port, timeout=TIMEOUT, context=_tls_context())
        self.address = address

    def connect(self) -> None:
        sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = _tls_context().wrap_socket(sock, server_hostname=self.host)


def _get(url: str, address: str) -> bytes:
    scheme, host, port = _origin(url)
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    connection: http.client.HTTPConnection = (
        _PinnedHTTPS(host, port, address) if scheme == "https" else _PinnedHTTP(host, port, address)
    )
    try:
        connection.request("GET", target, headers={"Accept": "application/json"})
        response = connection.getresponse()
        if 300 <= response.status < 400:
            location = response.getheader("Location", "")
            raise KeyFetchError(
                f"{url} redirects to {location[:200]!r}: redirects are not followed"
            )
        if response.status != 200:
            raise KeyFetchError(f"cannot fetch {url}: HTTP {response.status}")
        body: bytes = response.read(MAX_DOCUMENT + 1)
    finally:
        connection.close()
    return body


def _get_json(url: str, *, allow_private: bool) -> dict[str, Any]:
    scheme, host, port = _origin(url)
    if scheme != "https" and not (scheme == "http" and is_loopback_url(url)):
        raise KeyFetchError(f"refusing to fetch keys over {scheme or 'no scheme'}: {url}")
    if not host:
        raise KeyFetchError(f"no host in {url}")
    addresses = _addresses(host, port, allow_private=allow_private)
    problem: Exception | None = None
    for address in addresses:  # as create_connection tries them, but only checked ones
        try:
            body = _get(url, address)
            break
        except (OSError, http.client.HTTPException, ValueError) as exc:
            problem = exc
    else:
        raise KeyFetchError(f"cannot fetch {url}: {problem}") from problem
    if len(body) > MAX_DOCUMENT:
        raise KeyFetchError(f"{url} is larger than {MAX_DOCUMENT} bytes")
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise KeyFetchError(f"{url} is not JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise KeyFetchError(f"{url} is not a JSON object")
    return document


def fetch_jwks(issuer: str, *, allow_private_address: bool = False) -> dict[str, dict[str, Any]]:
    """The issuer's current signing keys, by ``kid``.

    ``allow_private_address``: the issuer may be reached on a private, loopback or link-local
    address (an admin said so for this issuer); otherwise such an address is refused before
    anything is sent to it.
    """
    discovery = _get_json(
        issuer.rstrip("/") + "/.well-known/openid-configuration",
        allow_private=allow_private_address,
    )
    if discovery.get("issuer") != issuer:
        raise KeyFetchError(
            f"discovery document names issuer {discovery.get('issuer')!r}, expected {issuer!r}"
        )
    jwks_uri = discovery.get("jwks_uri")
    if not isinstance(jwks_uri, str):
        raise KeyFetchError(f"discovery document of {issuer} has no jwks_uri")
    if _origin(jwks_uri) not in (_origin(issuer), OTHER_KEY_ORIGINS.get(issuer)):
        raise KeyFetchError(
            f"the jwks_uri of {issuer} is on another origin ({jwks_uri[:200]}): refused"
        )
    keys = _get_json(jwks_uri, allow_private=allow_private_address).get("keys")
    if not isinstance(keys, list) or not keys:
        raise KeyFetchError(f"{jwks_uri} has no keys")
    return {
        key["kid"]: key for key in keys if isinstance(key, dict) and isinstance(key.get("kid"), str)
    }
