"""Reading the web interface's forms: bounded ``application/x-www-form-urlencoded`` bodies and
CSRF tokens (OWASP's synchronizer token for sessions, a double-submit cookie before sign-in).
"""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import parse_qsl

from starlette.requests import Request

from trustyard.index.web.errors import BodyTooLarge, CsrfRefused, FormRefused, UnsupportedForm

MAX_FORM_BYTES = 16 * 1024
MAX_FIELDS = 20
MAX_FIELD_CHARS = 1000
CSRF_FIELD = "csrf_token"
PRE_SESSION_COOKIE = "trustyard_csrf"


async def read_form(request: Request) -> dict[str, str]:
    """The fields of a urlencoded POST body: at most 16 KiB, 20 fields, no repeated names."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/x-www-form-urlencoded":
        raise UnsupportedForm("forms must be sent as application/x-www-form-urlencoded")
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_FORM_BYTES):
        raise BodyTooLarge(f"the form is larger than {MAX_FORM_BYTES} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise BodyTooLarge(f"the form is larger than {MAX_FORM_BYTES} bytes")
    try:
        text = bytes(body).decode("ascii")
        pairs = parse_qsl(
            text,
            keep_blank_values=True,
            strict_parsing=bool(text),
            encoding="utf-8",
            errors="strict",
            max_num_fields=MAX_FIELDS,
        )
    except (UnicodeDecodeError, ValueError) as exc:
        raise FormRefused(f"the form is malformed: {exc}") from exc
    fields: dict[str, str] = {}
    for name, value in pairs:
        if name in fields:
            raise FormRefused(f"the field {name!r} is given more than once")
        if len(value) > MAX_FIELD_CHARS:
            raise FormRefused(
                f"the field {name[:40]!r} is longer than {MAX_FIELD_CHARS} characters"
            )
        if any(ord(c) < 32 and c not in "\t\r\n" for c in value):
            raise FormRefused(f"the field {name[:40]!r} contains control characters")
        fields[name] = value
    return fields


def new_csrf_token() -> str:
    """A fresh random token for a browser that has not signed in yet."""
    return secrets.token_urlsafe(32)


def check_csrf(fields: dict[str, str], expected: str | None) -> None:
    """Refuse (403) unless the form carries the token this browser was given."""
    given = fields.get(CSRF_FIELD, "")
    if not expected or not given or not hmac.compare_digest(given.encode(), expected.encode()):
        raise CsrfRefused("the form's CSRF token is missing or wrong: reload the page and retry")
