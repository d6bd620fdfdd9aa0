"""Trusted Publishing endpoints at the host root, as PyPI serves them (warehouse oidc/views.py).

``GET /_/oidc/audience``, ``POST /_/oidc/mint-token`` (and the older
``/_/oidc/github/mint-token``), ``POST /_/oidc/burn-token``. Bodies are raw JSON
``{"token": "..."}`` whatever the Content-Type; refusals are 422 with
``{"message": "Token request failed", "errors": [{"code", "description"}]}``.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from trustyard.index.context import context_of
from trustyard.index.services import trusted_publishing
from trustyard.oidc.errors import TokenRejected

MAX_BODY = 64 * 1024


def _refusal(error: TokenRejected) -> Response:
    return JSONResponse(
        {
            "message": "Token request failed",
            "errors": [{"code": error.code, "description": error.message}],
        },
        status_code=422,
    )


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
    """The audience CI tokens must be minted for."""
    settings = context_of(request).settings
    if not settings.trusted_publishing:
        return _disabled()
    return JSONResponse({"audience": settings.oidc_audience})


async def mint_token(request: Request) -> Response:
    """Exchange a CI system's OIDC token for a 15-minute upload token."""
    ctx = context_of(request)
    if not ctx.settings.trusted_publishing:
        return _refusal(
            TokenRejected("not-enabled", "trusted publishing functionality not enabled")
        )
    try:
        token = await _token_field(request)
    except TokenRejected as error:
        await run_in_threadpool(trusted_publishing.record_refusal, ctx.db, error, {})
        return _refusal(error)
    try:
        minted = await run_in_threadpool(
            trusted_publishing.mint_token, ctx.db, ctx.settings.oidc_audience, token, ctx.oidc_keys
        )
    except TokenRejected as error:  # already recorded by the service
        return _refusal(error)
    return JSONResponse({"success": True, "token": minted.token, "expires": minted.expires})


async def burn_token(request: Request) -> Response:
    """Revoke a minted token once the client is done with it."""
    ctx = context_of(request)
    try:
        token = await _token_field(request)
        await run_in_threadpool(trusted_publishing.burn_token, ctx.db, token)
    except TokenRejected as error:
        return _refusal(error)
    return JSONResponse({"success": True})


routes = [
    Route("/_/oidc/audience", audience, methods=["GET"]),
    Route("/_/oidc/mint-token", mint_token, methods=["POST"]),
    Route("/_/oidc/github/mint-token", mint_token, methods=["POST"]),
    Route("/_/oidc/burn-token", burn_token, methods=["POST"]),
]
