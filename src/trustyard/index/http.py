"""How errors cross the HTTP boundary: one place that maps :class:`Error` to PyPI's shapes.

PyPI's upload API puts its message in the status line (``400 File already exists ...``,
warehouse ``forklift/utils.py`` ``_exc_with_message``) and in Pyramid's error body: plain text by
default, JSON ``{"message", "code", "title"}`` when the client asks for JSON. ASGI has no field
for a reason phrase, so responses carry it in a message key that :mod:`trustyard.index.server`
puts on the wire.
"""

from __future__ import annotations

import json
from http import HTTPStatus

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from trustyard.errors import Error

REASON_KEY = "trustyard.reason"

# Pyramid's explanations, which PyPI's error bodies begin with.
_EXPLANATIONS = {
    400: "The server could not comply with the request since it is either malformed or"
    " otherwise incorrect.",
    403: "Access was denied to this resource.",
    404: "The resource could not be found.",
    409: "There was a conflict when trying to complete your request.",
    410: "This resource is no longer available.  No forwarding address is given.",
    408: "The server timed out waiting for the request to complete.",
    413: "The body of your request was too large for this server.",
    429: "Too many requests.",
}


def reason_phrase(message: str) -> str:
    """A message made safe for a status line: one line of ISO-8859-1."""
    flat = " ".join(message.split())
    return flat.encode("iso-8859-1", "replace").decode("iso-8859-1")


class ReasonResponse(Response):
    """A response whose status line carries a custom reason phrase."""

    def __init__(self, content: bytes, status_code: int, reason: str, media_type: str) -> None:
        super().__init__(content, status_code=status_code, media_type=media_type)
        self.reason = reason_phrase(reason)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Send as Starlette does, with the reason phrase alongside the status."""
        await send(
            {
                "type": "http.response.start",
                "status": self.status_code,
                "headers": self.raw_headers,
                REASON_KEY: self.reason,
            }
        )
        await send({"type": "http.response.body", "body": self.body})


def _wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept.split(",")[0]


def error_response(request: Request, error: Error) -> Response:
    """PyPI's rendering of an error: message in the status line, Pyramid-style body."""
    status = error.status
    title = HTTPStatus(status).phrase
    detail = reason_phrase(error.message)
    explanation = _EXPLANATIONS.get(status, "")
    if _wants_json(request):
        body = json.dumps(
            {
                "message": f"{explanation}\n\n\n{detail}\n\n",
                "code": f"{status} {detail}",
                "title": title,
            }
        ).encode()
        return ReasonResponse(body, status, detail, "application/json")
    text = f"{status} {title}\n\n{explanation}\n\n{detail}\n\n"
    return ReasonResponse(text.encode("utf-8"), status, detail, "text/plain")


def json_error(status: int, message: str) -> Response:
    """A ``{"message": ...}`` error as PyPI's JSON APIs give it."""
    body = json.dumps({"message": message}).encode()
    return ReasonResponse(body, status, HTTPStatus(status).phrase, "application/json")


def oidc_error(error: Error) -> Response:
    """An error of a ``/_/oidc/*`` endpoint, in the shape of its refusals (warehouse views.py).

    ``code`` is the error's own when it has one (``rate-limited``, ``request-too-large``...).
    """
    code = getattr(error, "code", None) or "invalid-request"
    errors = [{"code": code, "description": error.message}]
    body = json.dumps({"message": "Token request failed", "errors": errors}).encode()
    return ReasonResponse(body, error.status, HTTPStatus(error.status).phrase, "application/json")


def render_error(request: Request, error: Error) -> Response:
    """The one mapping of an :class:`Error` to a response, by the family of the endpoint.

    JSON APIs (``/pypi/``, ``/integrity/``) answer ``{"message"}``, Trusted Publishing answers
    its ``errors`` list, everything else PyPI's upload-style error. A ``retry_after`` on the
    error (rate limits) becomes ``Retry-After``.
    """
    path = request.url.path
    if path.startswith(("/pypi/", "/integrity/")):
        response = json_error(error.status, error.message)
    elif path.startswith("/_/oidc/"):
        response = oidc_error(error)
    else:
        response = error_response(request, error)
    retry_after = getattr(error, "retry_after", None)
    if isinstance(retry_after, int):
        response.headers["Retry-After"] = str(retry_after)
    return response
