"""The index's public origin as a request names it, for the absolute URLs PyPI serves.

PyPI's simple pages link files and provenance (PEP 740) by absolute URL, and clients rely on it:
pypi-simple 1.8 validates ``provenance`` as an absolute http(s) URL. Without ``--base-url`` the
origin is the request's: its scheme (``X-Forwarded-Proto`` counts only from the proxies in
``forwarded_allow_ips``, through uvicorn's proxy headers) and its ``Host`` header, which every
HTTP/1.1 client sends (RFC 9112 3.2) and proxies pass on. A ``Host`` that is not a host name
and port is never echoed: the address the connection reached is used instead.
"""

from __future__ import annotations

import functools
import re

from starlette.requests import Request
from starlette.types import Scope

# A DNS name or IPv4 address, or a bracketed IPv6 literal, with an optional port (RFC 9110 7.2).
_HOST = re.compile(
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]{2,45}\])(?::[0-9]{1,5})?"
)


def _connection_host(scope: Scope) -> str:
    server = scope.get("server")
    if not server:
        return "localhost"
    host, port = str(server[0]), server[1]
    if ":" in host:
        host = f"[{host}]"
    return host if port is None else f"{host}:{port}"


def request_origin(request: Request, base_url: str | None) -> str:
    """``base_url`` when configured, else ``scheme://host[:port]`` of the request (no slash at
    the end). The result holds only URL-safe characters, so pages embed it unescaped."""
    return scope_origin(request.scope, request.headers.get("host"), base_url)


@functools.lru_cache(maxsize=64)
def _valid_host(host: str) -> bool:
    return _HOST.fullmatch(host) is not None


def scope_origin(scope: Scope, host: str | None, base_url: str | None) -> str:
    """:func:`request_origin` from an ASGI scope and its ``Host`` header (for the layer that
    answers cached pages before a :class:`Request` exists)."""
    if base_url:
        return base_url.rstrip("/")
    scheme = "https" if scope.get("scheme") == "https" else "http"
    if not host or not _valid_host(host):
        host = _connection_host(scope)
    return f"{scheme}://{host}"
