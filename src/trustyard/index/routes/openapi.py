"""``GET /openapi.json``: the OpenAPI 3.1 description of the index's JSON endpoints
(OpenAPI Specification 3.1.0; the description itself is data in :mod:`trustyard.index.openapi`).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from trustyard.index.context import context_of
from trustyard.index.openapi import DESCRIPTION
from trustyard.index.origin import request_origin


async def openapi_description(request: Request) -> Response:
    """The description, with this index's public URL as its server."""
    base = request_origin(request, context_of(request).settings.base_url)
    document = {**DESCRIPTION, "servers": [{"url": base}]}
    return JSONResponse(document, headers={"Cache-Control": "max-age=600, public"})


routes = [Route("/openapi.json", openapi_description, methods=["GET", "HEAD"])]
