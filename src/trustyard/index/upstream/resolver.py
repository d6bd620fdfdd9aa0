"""One DNS lookup per upstream host, shared by every connection to it (issue 17's cold path).

A client such as uv asks for 30 project pages at once; each needs a new connection to the
upstream, and httpcore resolves the host anew for each one. Measured on the benchmark machine,
a burst of 30 concurrent ``getaddrinfo`` calls for pypi.org loses some queries and those calls
return only after the resolver's 5-second retry (``resolv.conf(5)``, ``timeout:5``): past the
connect timeout, so pages failed with 503 and uv retried them seconds later. Browsers, curl's
share interface and aiohttp (``ttl_dns_cache``) all keep resolved addresses for a while for
the same reason; this module does it for httpx, through httpcore's network-backend interface.

Addresses are kept ``ttl`` seconds; concurrent lookups of one host share one call; a failed
lookup is not kept, and while a host's addresses are being looked up again after they expired,
the previous ones are used if the new lookup fails (an upstream outage is about the upstream,
not its name). IP literals are connected to directly.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections.abc import Iterable
from typing import Any

import anyio
import httpcore
import httpx

TTL = 60.0  # seconds resolved addresses are reused
STALE_FOR = 600.0  # seconds expired addresses still stand in when a new lookup fails
FIRST_TRY = 1.0  # seconds for a TCP connect to one address before the next one is tried


class CachingResolverBackend(httpcore.AsyncNetworkBackend):
    """httpcore's AnyIO backend, with the host's addresses looked up once per ``ttl``."""

    def __init__(self, ttl: float = TTL) -> None:
        self._inner = httpcore.AnyIOBackend()
        self.ttl = ttl
        self._addresses: dict[tuple[str, int], tuple[float, list[str]]] = {}
        self._lookups: dict[tuple[str, int], asyncio.Future[list[str]]] = {}
        self.lookups = 0  # how many getaddrinfo calls were made (status, tests)

    async def resolve(self, host: str, port: int) -> list[str]:
        """The addresses of ``host``, from memory or one shared lookup."""
        key = (host, port)
        kept = self._addresses.get(key)
        if kept is not None and time.monotonic() - kept[0] < self.ttl:
            return kept[1]
        running = self._lookups.get(key)
        if running is None:
            running = asyncio.ensure_future(self._lookup(host, port))
            self._lookups[key] = running
            running.add_done_callback(lambda _: self._lookups.pop(key, None))
        try:
            return await asyncio.shield(running)
        except OSError:
            if kept is not None and time.monotonic() - kept[0] < STALE_FOR:
                return kept[1]
            raise

    async def _lookup(self, host: str, port: int) -> list[str]:
        self.lookups += 1
        found = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        addresses = list(dict.fromkeys(str(info[4][0]) for info in found))
        if not addresses:
            raise OSError(f"no address for {host}")
        self._addresses[(host, port)] = (time.monotonic(), addresses)
        return addresses

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Connect to the first of the host's addresses that answers; the TLS handshake that
        follows (httpcore's) still names the host (SNI, certificate check)."""
        if _is_ip(host):
            return await self._inner.connect_tcp(host, port, timeout, local_address, socket_options)
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            with anyio.fail_after(timeout):
                addresses = await self.resolve(host, port)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"looking up {host} timed out") from exc
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot look up {host}: {exc}") from exc
        error: Exception | None = None
        for position, address in enumerate(addresses):
            left = None if deadline is None else max(deadline - time.monotonic(), 0.0)
            last = position == len(addresses) - 1
            attempt = left if last or left is None else min(left, FIRST_TRY)
            try:
                return await self._inner.connect_tcp(
                    address, port, attempt, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        assert error is not None  # noqa: S101 - at least one address was tried
        raise error

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Unused by the proxy (no ``uds``); delegated."""
        return await self._inner.connect_unix_socket(path, timeout, socket_options)

    async def sleep(self, seconds: float) -> None:
        """httpcore's retry back-off."""
        await self._inner.sleep(seconds)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


class ResolvingTransport(httpx.AsyncHTTPTransport):
    """httpx's transport over :class:`CachingResolverBackend`. httpx has no parameter for a
    network backend, so its connection pool is rebuilt with the same settings and ours."""

    def __init__(
        self, *, limits: httpx.Limits, backend: CachingResolverBackend | None = None
    ) -> None:
        super().__init__(limits=limits)
        self.backend = backend or CachingResolverBackend()
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=self.backend,
        )
