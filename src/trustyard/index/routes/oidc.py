"""Trusted Publishing endpoints at the host root, as PyPI serves them (warehouse oidc/views.py).

``GET /_/oidc/audience``, ``POST /_/oidc/mint-token`` (and the older
``/_/oidc/github/mint-token``), ``POST /_/oidc/burn-token``. Trusted Reading (issue 20, our
own extension: PyPI has no private projects) has its own audience and mint endpoint beside
them, ``GET /_/oidc/read-audience`` and ``POST /_/oidc/mint-read-token``, and ``POST
/_/oidc/burn-read-token`` to end a read token early, answering in the same shapes. Bodies
are raw JSON ``{"token": "..."}`` whatever the Content-Type; refusals are 422 with
``{"message": "Token request failed", "errors": [{"code", "description"}]}``, the mount's
error shape (:func:`trustyard.index.http.oidc_error`).
"""

from __future__ import annotations

import functools
import json
import logging
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from trustyard.index import metrics
from trustyard.index.context import context_of
from trustyard.index.services import ratelimits, trusted_publishing, trusted_reading
from trustyard.index.services.audience import read_audience
from trustyard.index.services.ratelimits import RateLimited
from trustyard.oidc.errors import TokenRejected

MAX_BODY = 64 * 1024
log = logging.getLogger("trustyard")


def _disabled() -> Response:
    return JSONResponse({"message": "Trusted publishing functionality not enabled"}, 403)


async def _token_field(request: Request) -> Any:
    """The ``token`` of a ``{"token": str}`` body (pydantic-style messages, as PyPI's)."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise TokenRejected("invalid-payload", f"request body larger than {MAX_BODY} bytes")
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise TokenRejected("invalid-payload", f"Invalid JSON: {exc}") from exc
    if not isinstance(payload, dict) or "token" not in payload:
        raise TokenRejected("invalid-payload", "token: Field required")
    if not isinstance(payload["token"], str):
        raise TokenRejected("invalid-payload", "token: Input should be a valid string")
    return payload["token"]


async def audience(request: Request) -> Response:
    """The audience CI tokens must be minted for (this index's own: issue 14, finding 4)."""
    ctx = context_of(request)
    if not ctx.settings.trusted_publishing:
        return _disabled()
    return JSONResponse({"audience": ctx.audience})


async def read_audience_of_index(request: Request) -> Response:
    """The audience CI tokens for Trusted Reading must be minted for: not the publishing one."""
    ctx = context_of(request)
    if not ctx.settings.trusted_publishing:
        return _disabled()
    return JSONResponse({"audience": read_audience(ctx.audience)})


async def _counted_token_field(request: Request, what: str) -> Any:
    """The body's token, after the request was counted against its address's limit."""
    ctx = context_of(request)
    address = request.client.host if request.client else "unknown"
    rules = ratelimits.mint_address_rules(ctx.settings, address)
    try:
        if ratelimits.active(rules):  # off: no thread hop for nothing (issue 19)
            await run_in_threadpool(
                ratelimits.hit, ctx.db, rules, "token requests from this address"
            )
    except RateLimited as limited:  # a flood: logged, not journalled row by row
        metrics.mint_refused(limited.code)
        log.warning("mint-token from %s refused: %s", address, limited.message)
        raise
    try:
        token = await _token_field(request)
    except TokenRejected as error:
        await run_in_threadpool(
            functools.partial(trusted_publishing.record_refusal, what=what), ctx.db, error, {}
        )
        raise
    return token


async def mint_token(request: Request) -> Response:
    """Exchange a CI system's OIDC token for a 15-minute upload token.

    Refusals (:class:`TokenRejected`, 422) and rate limits (429) are answered by the mount's
    error mapping, in the ``errors`` shape of warehouse's refusals.
    """
    ctx = context_of(request)
    if not ctx.settings.trusted_publishing:
        raise TokenRejected("not-enabled", "trusted publishing functionality not enabled")
    token = await _counted_token_field(request, "trusted publishing")
    # The service records its own refusals (TokenRejected, RateLimited).
    minted = await run_in_threadpool(
        trusted_publishing.mint_token,
        ctx.db,
        ctx.audience,
        token,
        ctx.oidc_keys,
        functools.partial(ratelimits.mint_publisher_rules, ctx.settings),
    )
    return JSONResponse({"success": True, "token": minted.token, "expires": minted.expires})


async def mint_read_token(request: Request) -> Response:
    """Exchange a CI system's OIDC token, minted for the read audience, for a 15-minute
    read-only token that reads the projects whose publishers or reader policies it matches."""
    ctx = context_of(request)
    if not ctx.settings.trusted_publishing:
        raise TokenRejected("not-enabled", "trusted publishing functionality not enabled")
    token = await _counted_token_field(request, trusted_reading.WHAT)
    minted = await run_in_threadpool(
        trusted_reading.mint_read_token,
        ctx.db,
        read_audience(ctx.audience),
        token,
        ctx.oidc_keys,
        functools.partial(ratelimits.read_mint_rules, ctx.settings),
    )
    return JSONResponse({"success": True, "token": minted.token, "expires": minted.expires})


async def burn_token(request: Request) -> Response:
    """Revoke a minted token once the client is done with it."""
    ctx = context_of(request)
    token = await _token_field(request)
    await run_in_threadpool(trusted_publishing.burn_token, ctx.db, token)
    return JSONResponse({"success": True})


async def burn_read_token(request: Request) -> Response:
    """Revoke a minted read token once the job is done with it (the token authenticates
    itself); from the next request on it reads nothing."""
    ctx = context_of(request)
    token = await _token_field(request)
    await run_in_threadpool(trusted_reading.burn_read_token, ctx.db, token)
    return JSONResponse({"success": True})


# Under the ``/_/oidc`` mount.
routes = [
    Route("/audience", audience, methods=["GET"]),
    Route("/mint-token", mint_token, methods=["POST"]),
    Route("/github/mint-token", mint_token, methods=["POST"]),
    Route("/burn-token", burn_token, methods=["POST"]),
    Route("/read-audience", read_audience_of_index, methods=["GET"]),
    Route("/mint-read-token", mint_read_token, methods=["POST"]),
    Route("/burn-read-token", burn_read_token, methods=["POST"]),
]
