"""Limits on a request's head that uvicorn lacks: a size cap (431, RFC 6585 section 5) and a
time cap on the request line and headers (408, RFC 9110 15.5.9), against slowloris clients;
and a cap on the connections one client address holds at once (429, RFC 6585 section 4, then
closed; nginx's ``limit_conn`` for a server without a proxy in front). uvicorn's own
``limit_concurrency`` caps all connections of a process together (:mod:`.server`).

uvicorn's httptools protocol has no limit on header bytes and starts no timer until a first
response is sent, so a client that trickles its headers holds a connection for ever. This
subclass arms a timer when a connection opens and when each request's first byte arrives, and
stops it once the headers are complete; bodies are bounded by :mod:`trustyard.index.security`.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections import Counter
from typing import ClassVar

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from trustyard.index.access_log import TurnAccessLog
from trustyard.index.coalesce import CoalescingTransport
from trustyard.settings import Settings

LINGER_SECONDS = 2.0  # how long a refused connection is kept half-closed for its request


def _plain_response(status: bytes, message: str) -> bytes:
    body = message.encode("ascii")
    return (
        b"HTTP/1.1 " + status + b"\r\n"
        b"content-type: text/plain; charset=utf-8\r\n"
        b"content-length: " + str(len(body)).encode("ascii") + b"\r\n"
        b"x-content-type-options: nosniff\r\n"
        b"connection: close\r\n\r\n" + body
    )


class _Proxies:
    """The peers in ``forwarded_allow_ips`` (addresses, networks, or ``*``)."""

    def __init__(self, spec: str) -> None:
        entries = [entry.strip() for entry in spec.split(",") if entry.strip()]
        self.everyone = "*" in entries
        self.networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        self.names: set[str] = set()
        for entry in entries:
            try:
                self.networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                self.names.add(entry)

    def __contains__(self, address: str) -> bool:
        if self.everyone or address in self.names:
            return True
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.networks)


class LimitedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a header size limit and a header timeout, and a cap on
    connections per client address."""

    max_header_size = 64 * 1024
    header_timeout = 30.0
    max_connections_per_address = 0  # 0: no cap
    proxies = _Proxies("")
    # Open connections per peer address, in this process (the event loop's thread only).
    open_per_address: ClassVar[Counter[str]] = Counter()

    _head_timer: asyncio.TimerHandle | None = None
    _head_bytes = 0
    _refusal: bytes | None = None
    _counted_address: str | None = None
    _refused_connection = False

    @classmethod
    def configure(cls, settings: Settings) -> None:
        """Take the limits from the settings (once per process, before serving)."""
        cls.max_header_size = settings.max_header_size
        cls.header_timeout = float(settings.header_timeout)
        cls.max_connections_per_address = settings.max_connections_per_address
        cls.proxies = _Proxies(settings.forwarded_allow_ips)

    def _admit(self, transport: asyncio.Transport) -> bool:
        """Count the connection against its peer's cap; False when the cap is reached."""
        peer = transport.get_extra_info("peername")
        if not self.max_connections_per_address or not isinstance(peer, tuple) or not peer:
            return True
        address = str(peer[0])
        if address in self.proxies:
            return True
        if self.open_per_address[address] >= self.max_connections_per_address:
            return False
        self.open_per_address[address] += 1
        self._counted_address = address
        return True

    def _arm(self) -> None:
        self._disarm()
        self._head_timer = self.loop.call_later(self.header_timeout, self._head_too_slow)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_too_slow(self) -> None:
        self._head_timer = None
        if not self.transport.is_closing():
            self.logger.warning("request headers not received in time; closing the connection")
            self.transport.write(
                _plain_response(b"408 Request Timeout", "Request headers not received in time.")
            )
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """A new connection gets as long to send its first request's head as any request; one
        over its address's cap is answered 429 at once, before a byte is read, and closed.
        Responses leave through a :class:`CoalescingTransport`: head and body in one write,
        and their access log lines once per turn of the loop (:mod:`.access_log`)."""
        self.access_logger = TurnAccessLog.standing_in_for(self.access_logger, self.loop)  # type: ignore[assignment]
        super().connection_made(CoalescingTransport(transport, self.loop))  # type: ignore[arg-type]
        if not self._admit(transport):
            self.logger.warning("too many connections from one address; refusing one")
            self._refused_connection = True
            transport.write(
                _plain_response(b"429 Too Many Requests", "Too many connections from your address.")
            )
            # Half-close and linger briefly, discarding what the client sends, rather than
            # close at once: a request arriving on a closed socket makes the kernel reset the
            # connection, and the client would lose the answer (nginx's lingering close).
            if transport.can_write_eof():
                transport.write_eof()
            self._head_timer = self.loop.call_later(LINGER_SECONDS, transport.close)
            return
        self._arm()

    def data_received(self, data: bytes) -> None:
        """Bytes of a connection refused by the per-address cap are read and dropped."""
        if self._refused_connection:
            return
        super().data_received(data)

    def connection_lost(self, exc: Exception | None) -> None:
        """Forget the timer of a connection that is gone, and its place in its address's cap."""
        self._disarm()
        address, self._counted_address = self._counted_address, None
        if address is not None:
            self.open_per_address[address] -= 1
            if self.open_per_address[address] <= 0:
                del self.open_per_address[address]
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        """A request's first byte: its head must be complete within the timeout."""
        super().on_message_begin()
        self._head_bytes = 0
        self._arm()

    def _count(self, size: int) -> None:
        self._head_bytes += size
        if self._head_bytes > self.max_header_size:
            self._refusal = _plain_response(
                b"431 Request Header Fields Too Large",
                f"Request headers larger than {self.max_header_size} bytes.",
            )
            raise ValueError("request head too large")  # httptools stops parsing: see below

    def on_url(self, url: bytes) -> None:
        """Count the request target against the head's limit."""
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        """Count every header against the head's limit."""
        self._count(len(name) + len(value) + 4)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        """The head arrived in time and within size: the body has its own limits."""
        self._disarm()
        super().on_headers_complete()

    def send_400_response(self, msg: str) -> None:
        """A parser error; when it was our own size check, answer 431 instead of 400."""
        if self._refusal is None:
            super().send_400_response(msg)
            return
        self._disarm()
        self.transport.write(self._refusal)
        self.transport.close()
