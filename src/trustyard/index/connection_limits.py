"""Limits on a request's head that uvicorn lacks: a size cap (431, RFC 6585 section 5) and a
time cap on the request line and headers (408, RFC 9110 15.5.9), against slowloris clients.

uvicorn's httptools protocol has no limit on header bytes and starts no timer until a first
response is sent, so a client that trickles its headers holds a connection for ever. This
subclass arms a timer when a connection opens and when each request's first byte arrives, and
stops it once the headers are complete; bodies are bounded by :mod:`trustyard.index.security`.
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from trustyard.settings import Settings


def _plain_response(status: bytes, message: str) -> bytes:
    body = message.encode("ascii")
    return (
        b"HTTP/1.1 " + status + b"\r\n"
        b"content-type: text/plain; charset=utf-8\r\n"
        b"content-length: " + str(len(body)).encode("ascii") + b"\r\n"
        b"x-content-type-options: nosniff\r\n"
        b"connection: close\r\n\r\n" + body
    )


class LimitedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a header size limit and a header timeout."""

    max_header_size = 64 * 1024
    header_timeout = 30.0

    _head_timer: asyncio.TimerHandle | None = None
    _head_bytes = 0
    _refusal: bytes | None = None

    @classmethod
    def configure(cls, settings: Settings) -> None:
        """Take the limits from the settings (once per process, before serving)."""
        cls.max_header_size = settings.max_header_size
        cls.header_timeout = float(settings.header_timeout)

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
        """A new connection gets as long to send its first request's head as any request."""
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        """Forget the timer of a connection that is gone."""
        self._disarm()
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
