"""Security headers and request limits on every response (OWASP Secure Headers Project; HSTS:
RFC 6797; CSP: W3C Content Security Policy Level 3; 413/408: RFC 9110 15.5.14 and 15.5.9).

An ASGI layer outside every other one (error pages, 304s, redirects and files included) that:

- adds ``X-Content-Type-Options: nosniff``, ``X-Frame-Options: DENY``, ``Referrer-Policy``, a
  Content-Security-Policy (the web UI's policy on HTML, ``default-src 'none'`` on the rest) and,
  under TLS only, ``Strict-Transport-Security`` for a year (RFC 6797 8.1: never over plain HTTP);
- refuses a body whose ``Content-Length`` is over the endpoint's limit with 413 before reading
  it, and stops reading one that grows past the limit without announcing its length;
- answers 408 to a body that stalls, or that trickles in slower than the limits allow
  (slowloris), and closes the connection after either refusal, or after any answer given
  before the body was read to its end.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, MutableMapping
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from trustyard.errors import Error
from trustyard.index.web.render import CONTENT_SECURITY_POLICY
from trustyard.settings import MiB, Settings

HSTS = "max-age=31536000"  # one year: what hstspreload.org asks as a minimum
# Anything that is not a page: nothing may load, nothing may frame it.
NON_HTML_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"
COMMON_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
}
# An upload's form fields (description, attestations, digests) travel beside the file:
# upload_form allows 16 MiB of them; this leaves room for multipart framing as well.
UPLOAD_OVERHEAD = 32 * MiB
UPLOAD_PATHS = ("/legacy/", "/legacy")
# How much of an oversized small body is still read and dropped before answering 413.
DRAIN_LIMIT = 1 * MiB


class RequestTooLarge(Error):
    """A request body over the endpoint's limit (413)."""

    status = 413
    code = "request-too-large"


class RequestTimeout(Error):
    """A request body that stalled or trickled in too slowly (408)."""

    status = 408
    code = "request-timeout"


def _is_upload(scope: Scope) -> bool:
    return scope.get("method") == "POST" and scope.get("path") in UPLOAD_PATHS


def body_limit(settings: Settings, scope: Scope, file_limit: int) -> int:
    """The largest body the request's endpoint accepts (an upload: a file of ``file_limit``
    bytes, the largest any project accepts, and its form fields)."""
    if _is_upload(scope):
        return file_limit + UPLOAD_OVERHEAD
    return settings.max_request_size


def _too_large(settings: Settings, scope: Scope, limit: int, file_limit: int) -> RequestTooLarge:
    if _is_upload(scope):
        return RequestTooLarge(
            f"Request body too large: an upload may be at most {limit // MiB} MB"
            f" (files up to {file_limit // MiB} MB)."
        )
    return RequestTooLarge(f"Request body too large: the limit here is {limit} bytes.")


class _Body:
    """The request's ``receive``, counting bytes and enforcing the size and time limits."""

    def __init__(self, settings: Settings, scope: Scope, receive: Receive, file_limit: int) -> None:
        self.settings = settings
        self.scope = scope
        self.receive = receive
        self.file_limit = file_limit
        self.limit = body_limit(settings, scope, file_limit)
        self.upload = _is_upload(scope)
        self.started = time.monotonic()
        self.received = 0
        self.complete = False
        self.refused: Error | None = None
        declared = _declared_length(scope)
        self.expected = (declared is not None and declared > 0) or any(
            name == b"transfer-encoding" for name, _ in scope.get("headers", [])
        )

    def unfinished(self) -> bool:
        """Whether the client may still be sending a body the app did not read (or refused):
        the connection must then close after the response, or a client trickling that body
        would hold it open for ever (uvicorn drops unread bytes and keeps the connection)."""
        return self.refused is not None or (self.expected and not self.complete)

    def _deadline(self) -> float:
        """When the body must be complete, given what arrived so far."""
        grace = float(self.settings.body_timeout)
        if self.upload and self.settings.min_upload_rate > 0:
            grace += self.received / self.settings.min_upload_rate
        elif self.upload:
            grace = float("inf")
        return self.started + grace

    async def _next(self) -> Message:
        """The next message, within the time limits."""
        wait = min(float(self.settings.body_timeout), self._deadline() - time.monotonic())
        if wait <= 0:
            raise TimeoutError
        async with asyncio.timeout(wait):
            message = await self.receive()
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            self.complete = not message.get("more_body", False)
        return message

    async def _drain(self, message: Message) -> None:
        """Read (and drop) a little more of an oversized body, so that the client, still
        sending, reads our 413 instead of a reset connection (nginx's lingering close); for
        at most ``drain_timeout`` seconds in all, whatever the client's pace."""
        budget = self.limit + (0 if self.upload else DRAIN_LIMIT)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(float(self.settings.drain_timeout)):
                while message.get("more_body", False) and self.received <= budget:
                    message = await self._next()

    async def __call__(self) -> Message:
        if self.refused is not None:
            raise self.refused
        if self.complete:
            # The body is in: a later receive() waits for the client to go away (Starlette's
            # file and streaming responses listen so while they send), which takes no limit.
            return await self.receive()
        try:
            message = await self._next()
        except TimeoutError:
            self.refused = RequestTimeout(
                "Request body too slow: it stalled or arrived slower than the index allows."
            )
            raise self.refused from None
        if self.received > self.limit:
            await self._drain(message)
            self.refused = _too_large(self.settings, self.scope, self.limit, self.file_limit)
            raise self.refused
        return message


def security_headers(content_type: bytes, *, tls: bool) -> dict[str, str]:
    """The headers this layer gives a response of ``content_type`` that has none of them: one
    home for the layer and for answers made outside it (:mod:`trustyard.index.simple_fast_path`
    sends them precomputed)."""
    wanted = dict(COMMON_HEADERS)
    html = content_type.split(b";")[0].strip().lower() == b"text/html"
    wanted["content-security-policy"] = CONTENT_SECURITY_POLICY if html else NON_HTML_POLICY
    if tls:
        wanted["strict-transport-security"] = HSTS
    return wanted


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() else None
    return None


class SecurityMiddleware:
    """Outermost layer of the index's app: headers on every response, limits on every body."""

    def __init__(
        self,
        app: ASGIApp,
        settings: Settings,
        refuse: Callable[[Request, Error], Response],
        upload_ceiling: Callable[[], int] | None = None,
    ) -> None:
        """``refuse`` answers a refused body in the shape of the surface it was sent to;
        ``upload_ceiling`` gives the largest file any project accepts (projects may have
        larger limits than ``settings.max_upload_size``); it is called for each upload."""
        self.app = app
        self.settings = settings
        self.refuse = refuse
        self.upload_ceiling = upload_ceiling
        self.hsts = settings.base_url is not None and settings.base_url.startswith("https://")

    def under_tls(self, scope: Scope) -> bool:
        """Whether HSTS belongs on this request's answer: an ``https://`` base URL (TLS at a
        proxy in front), or a request that came over TLS."""
        return self.hsts or scope.get("scheme") == "https"

    def _headers(self, scope: Scope, message: MutableMapping[str, Any], close: bool) -> None:
        headers: list[tuple[bytes, bytes]] = list(message.get("headers", []))
        present = {name.lower() for name, _ in headers}
        content_type = next((v for n, v in headers if n.lower() == b"content-type"), b"")
        wanted = security_headers(content_type, tls=self.under_tls(scope))
        for name, value in wanted.items():
            if name.encode() not in present:
                headers.append((name.encode(), value.encode()))
        if close and b"connection" not in present:
            headers.append((b"connection", b"close"))
        message["headers"] = headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse an announced oversized body at once; otherwise run the app under the limits."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        file_limit = self.settings.max_upload_size
        if self.upload_ceiling is not None and _is_upload(scope):
            file_limit = await run_in_threadpool(self.upload_ceiling)
        body = _Body(self.settings, scope, receive, file_limit)
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                self._headers(scope, message, close=body.unfinished())
            await send(message)

        declared = _declared_length(scope)
        if declared is not None and declared > body.limit:
            # Not a byte of the body is read: uvicorn sends no "100 Continue" either.
            body.refused = _too_large(self.settings, scope, body.limit, file_limit)
            await self.refuse(Request(scope), body.refused)(scope, receive, send_with_headers)
            return
        try:
            await self.app(scope, body, send_with_headers)
        except Error as error:
            # A limit hit where no handler of the app could answer (e.g. a middleware's read).
            if started or error is not body.refused:
                raise
            await self.refuse(Request(scope), error)(scope, receive, send_with_headers)
