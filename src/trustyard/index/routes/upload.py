"""The legacy upload API, ``POST /legacy/``, as twine and ``uv publish`` speak it.

Authentication is PyPI's: HTTP Basic with the username ``__token__`` and an API token as the
password, or ``Authorization: token <t>`` / ``bearer <t>`` (warehouse macaroons
security_policy). It is checked before the body is read, so nobody unauthenticated can fill the
spool.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import functools
from collections.abc import AsyncIterator

from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from trustyard.dists.zipstream import ZipFollower
from trustyard.errors import Error, Unauthenticated
from trustyard.index import metrics
from trustyard.index.context import IndexContext, context_of
from trustyard.index.services import token_use, upload_limits, uploads
from trustyard.index.services.accounts import (
    Identity,
    authenticate_token,
    require_upload_token,
)
from trustyard.index.upload_form import read_upload_form
from trustyard.index.upstream.guard import refuse_shadowing

NO_AUTH = (
    "Invalid or non-existent authentication information. See"
    " https://pypi.org/help/#invalid-auth for more information."
)
NO_PASSWORDS = (
    "Username/Password authentication is no longer supported. Migrate to API Tokens or"
    " Trusted Publishers instead. See https://pypi.org/help/#apitoken and"
    " https://pypi.org/help/#trusted-publishers"
)
MAX_DRAIN = 64 * 1024 * 1024


def presented_token(authorization: str | None) -> str:
    """The API token in an Authorization header, by PyPI's rules."""
    if not authorization:
        raise Unauthenticated(NO_AUTH)
    scheme, _, value = authorization.partition(" ")
    scheme = scheme.lower()
    value = value.strip()
    if scheme in {"token", "bearer"} and value:
        return value
    if scheme != "basic":
        raise Unauthenticated(NO_AUTH)
    try:
        decoded = base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise Unauthenticated(NO_AUTH) from exc
    username, sep, password = decoded.partition(":")
    if not sep:
        raise Unauthenticated(NO_AUTH)
    if username != "__token__":
        raise Unauthenticated(NO_PASSWORDS)
    if not password:
        raise Unauthenticated(NO_AUTH)
    return password


def _authenticate(
    ctx: IndexContext, authorization: str | None
) -> tuple[Identity, upload_limits.StreamLimits]:
    """The uploader, and the file limits its body is read under."""
    token = presented_token(authorization)
    with ctx.db.read() as session:
        identity = authenticate_token(session, token)
        require_upload_token(identity)  # before the body: a read token never fills the spool
        limits = upload_limits.stream_limits(session, ctx.settings)
    return identity, limits


class _Body:
    """The request body as chunks, remembering whether its last chunk has arrived."""

    def __init__(self, request: Request) -> None:
        self.request = request
        self.finished = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while not self.finished:
            message = await self.request.receive()
            if message["type"] == "http.disconnect":
                raise ClientDisconnect
            self.finished = not message.get("more_body", False)
            yield message.get("body", b"")

    async def drain(self, seconds: float) -> None:
        """Read what is left of a refused body so the client sees our answer: up to a size
        and, whatever the client's pace, for at most ``seconds`` (else an unauthenticated
        client trickling at the minimum rate would hold the connection for hours). The
        response then closes the connection (:mod:`trustyard.index.security`)."""
        remaining = MAX_DRAIN
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                async for chunk in self:
                    remaining -= len(chunk)
                    if remaining <= 0:
                        return


async def upload(request: Request) -> Response:
    """Accept one distribution file: 200 with an empty body, or PyPI's error (counted in
    the metrics by outcome, or by the refusal's status)."""
    try:
        return await _upload(request)
    except Error as error:
        metrics.upload_refused(error.status)
        raise


async def _upload(request: Request) -> Response:
    ctx = context_of(request)
    settings = ctx.settings
    body = _Body(request)
    try:
        identity, limits = await run_in_threadpool(
            _authenticate, ctx, request.headers.get("authorization")
        )
        form = await read_upload_form(
            aiter(body),
            request.headers.get("content-type"),
            open_spool=ctx.storage.spool_file,
            max_file_size=limits.ceiling,
            limit_message=limits.too_large_message,
            durable_spool=ctx.storage.spool_is_stored,
            follow_zip=functools.partial(
                ZipFollower,
                max_ratio=settings.max_compression_ratio,
                ratio_threshold=settings.compression_ratio_threshold,
            ),
        )
    except Error:
        await body.drain(settings.drain_timeout)
        raise
    if form.first(":action") is None:
        form.discard()
        return upload_page(request)
    try:
        await refuse_shadowing(ctx, form.first("name") or "", by="upload")
    except Error:
        form.discard()
        raise
    outcome = await run_in_threadpool(
        functools.partial(
            uploads.accept_upload, trust=ctx.attestation_trust, descriptions=ctx.descriptions
        ),
        ctx.db,
        ctx.storage,
        settings,
        identity,
        form,
    )
    metrics.upload_accepted(outcome.value, form.file.digests.size if form.file else 0)
    # The token's use is noted once the upload is taken: a refused upload changes nothing.
    await run_in_threadpool(token_use.note_use, ctx.db, identity)
    if outcome is uploads.UploadOutcome.HELD:
        # Stored but not served (issue 18): 202 Accepted (RFC 9110 15.3.3), a 2xx that twine
        # and uv accept, with the reason in the body and a header trustyard's client reads.
        return Response(
            HELD_MESSAGE.encode(),
            status_code=202,
            media_type="text/plain",
            headers={HELD_HEADER: "owner-approval"},
        )
    return Response(b"", status_code=200)


HELD_HEADER = "X-Trustyard-Held"
HELD_MESSAGE = (
    "Stored but held for an owner's approval: this project has only ever been published"
    " through Trusted Publishing and this file came with an API token (publisher continuity)."
    " It is not served until an owner approves it on the project's settings page or an admin"
    " runs `trustyard policy release`.\n"
)


def upload_page(_request: Request) -> Response:
    """What a person sees at ``/legacy/``: where to point twine or uv."""
    return HTMLResponse(
        "<!DOCTYPE html><html><head><title>Upload</title></head><body>"
        "<h1>Legacy upload API</h1><p>POST distribution files here with twine or"
        " <code>uv publish</code>, authenticating as <code>__token__</code>.</p></body></html>"
    )


def legacy_no_slash(_request: Request) -> Response:
    """PyPI answers ``/legacy`` with a permanent redirect that keeps the method (308)."""
    return RedirectResponse("/legacy/", status_code=308)


# Under the ``/legacy`` mount; ``no_slash`` beside it, as a mount never matches its own prefix.
routes = [
    Route("/", upload, methods=["POST"]),
    Route("/", upload_page, methods=["GET"]),
]
no_slash = Route("/legacy", legacy_no_slash, methods=["GET", "POST"])
