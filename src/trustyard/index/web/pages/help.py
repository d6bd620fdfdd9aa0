"""Help pages: "Using this index" (issue 20), how pip, uv, poetry, twine and CI reach this
index, with its URLs as the reader's request names it (``web/install.py``)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from trustyard.index.web.handling import web_page
from trustyard.index.web.install import INDEX_NAME, credentials_needed, index_urls
from trustyard.index.web.render import page


@web_page
async def using(request: Request) -> Response:
    """Installing, credentials, uploading and Trusted Publishing, for this index's URLs."""
    urls = index_urls(request)
    return page(
        request,
        "help_using.html",
        {
            "urls": urls,
            "name": INDEX_NAME,
            "env_name": INDEX_NAME.upper().replace("-", "_").replace(".", "_"),
            "private": credentials_needed(request, None),
        },
    )
