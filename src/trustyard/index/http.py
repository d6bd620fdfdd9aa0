"""How errors cross the HTTP boundary: PyPI's error shapes, one :data:`ErrorMapping` each.

Each mount of the app (:mod:`trustyard.index.surfaces`) chooses one of these (the web pages
have their own, :func:`trustyard.index.web.handling.page_error`); nothing here looks at the
URL. PyPI's upload API puts its message in the status line (``400 File already exists ...``,
warehouse ``forklift/utils.py`` ``_exc_with_message``) and in Pyramid's error body: plain text by
default, JSON ``{"message", "code", "title"}`` when the client asks for JSON. ASGI has no field
for a reason phrase, so responses carry it in a message key that :mod:`trustyard.index.server`
puts on the wire.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from http import HTTPStatus

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from trustyard.errors import Error

REASON_KEY = "trustyard.reason"

# How one surface turns an error that ended a request into its response.
ErrorMapping = Callable[[Request, Error], Response]

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
    """PyPI's rendering of an error: message in the status line, Pyramid-style body (the simple
    and upload APIs, files, and anything outside a mount)."""
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


def json_api_error(_request: Request, error: Error) -> Response:
    """An error of the JSON and Integrity APIs (``/pypi/``, ``/integrity/``): ``{"message"}``."""
    return json_error(error.status, error.message)


def oidc_error(_request: Request, error: Error) -> Response:
    """An error of a ``/_/oidc/*`` endpoint, in the shape of its refusals (warehouse views.py):
    ``{"message": "Token request failed", "errors": [{"code", "description"}]}``.

    ``code`` is the error's own when it has one (``invalid-token``, ``rate-limited``...).
    """
    errors = [{"code": error.code or "invalid-request", "description": error.message}]
    body = json.dumps(
        {"message": "Token request failed", "errors": errors},
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode("utf-8")
    return ReasonResponse(body, error.status, HTTPStatus(error.status).phrase, "application/json")
