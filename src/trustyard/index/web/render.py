"""Pages as responses: the Jinja2 environment (autoescaping on) and the headers every page has.

The Content-Security-Policy allows nothing but our own stylesheet, script and images, so even a
sanitiser bug in a description could not run script or send a form elsewhere.
"""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from trustyard.oidc.publishers import KINDS

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}

_environment = Environment(
    loader=PackageLoader("trustyard.index.web", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def _filesize(size: int) -> str:
    value = float(size)
    for unit in ("bytes", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{int(value)} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} bytes"  # pragma: no cover - the loop always returns


_environment.filters["filesize"] = _filesize
# The publisher forms are made from the kinds' declared fields (_publisher_forms.html).
_environment.globals["publisher_kinds"] = KINDS.values()


def page(
    request: Request, template: str, context: dict[str, Any], status: int = 200
) -> HTMLResponse:
    """Render ``template`` with ``context`` (plus the request and who is signed in)."""
    html = _environment.get_template(template).render(
        request=request,
        user=getattr(request.state, "user", None),
        csrf_token=getattr(request.state, "csrf_token", ""),
        **context,
    )
    response = HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)
    # Pages show per-user data (and once, a token's secret): never keep them in a cache.
    response.headers["Cache-Control"] = "no-store"
    return response
