"""PEP 807 (Draft, "Index support for Trusted Publishing"): the discovery document at
``/.well-known/pytp/<key>``, ``key`` the SHA-256 (hex) of the upload URL's path component.

PEP 807 is a draft (https://peps.python.org/pep-0807/, discussion
https://discuss.python.org/t/pre-pep-trusted-publishing-token-exchange/103067); what is served
here follows its text of September 2025 and may have to follow it as it changes. A client given
``https://host/legacy/`` asks ``https://host/.well-known/pytp/sha256("/legacy/")`` and learns
where the audience and mint endpoints are (``audience-endpoint``, ``mint-token-endpoint``),
instead of assuming PyPI's paths. Every URL names the host the client asked (or ``--base-url``),
as the PEP requires. A path we do not upload at is 404 with no body (the PEP's SHOULD).

The draft's text and its worked example disagree: the text hashes the path component, the
example's key (``af030c06...``, from its footnote's ``shasum -a 256 <<< '/legacy/'``, a
here-string that appends a line break) is the hash of ``/legacy/`` and a newline. A client may
follow either, so both keys find the document (:func:`discovery_keys`).

Trusted Reading (issue 20) has no place in the draft: its audience, mint and burn endpoints are
given as extension fields, prefixed ``trustyard-`` so that a field the PEP adds later cannot
collide with them. A client that knows only the PEP ignores them.
"""

from __future__ import annotations

import hashlib
import json
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from trustyard.dists.mediatypes import PYTP_V1_JSON
from trustyard.errors import Error
from trustyard.index.context import context_of
from trustyard.index.negotiation import acceptable_offers
from trustyard.index.origin import request_origin

UPLOAD_PATHS = ("/legacy/", "/legacy")  # where uploads are accepted (``/legacy`` redirects, 308)
READ_AUDIENCE_FIELD = "trustyard-read-audience-endpoint"
MINT_READ_FIELD = "trustyard-mint-read-token-endpoint"
BURN_READ_FIELD = "trustyard-burn-read-token-endpoint"


class NotAcceptable(Error):
    """An Accept header that excludes the PEP's media type (the PEP's SHOULD: 406)."""

    status = 406
    code = "not-acceptable"


def discovery_key(path: str) -> str:
    """The PEP's discovery key of an upload URL's path component (as its text says)."""
    return hashlib.sha256(path.encode("utf-8")).hexdigest()


def discovery_keys(paths: tuple[str, ...]) -> frozenset[str]:
    """The keys that find the document for ``paths``: the text's, and its example's (with the
    line break ``<<<`` adds)."""
    return frozenset(discovery_key(p) for path in paths for p in (path, path + "\n"))


async def discovery(request: Request) -> Response:
    """The discovery document for the upload URL whose path hashes to ``key``."""
    accept = request.headers.get("accept")
    if accept is not None and not acceptable_offers(accept, [PYTP_V1_JSON]):
        raise NotAcceptable(f"this document is served as {PYTP_V1_JSON} only")
    ctx = context_of(request)
    origin = request_origin(request, ctx.settings.base_url)
    prefix = urlsplit(origin).path.rstrip("/")
    keys = discovery_keys(tuple(prefix + path for path in UPLOAD_PATHS))
    if not ctx.settings.trusted_publishing or request.path_params["key"] not in keys:
        return Response(status_code=404)
    document = {
        "audience-endpoint": f"{origin}/_/oidc/audience",
        "mint-token-endpoint": f"{origin}/_/oidc/mint-token",
        READ_AUDIENCE_FIELD: f"{origin}/_/oidc/read-audience",
        MINT_READ_FIELD: f"{origin}/_/oidc/mint-read-token",
        BURN_READ_FIELD: f"{origin}/_/oidc/burn-read-token",
    }
    return Response(json.dumps(document).encode(), media_type=PYTP_V1_JSON)


# Under the ``/.well-known/pytp`` mount.
routes = [Route("/{key}", discovery, methods=["GET"])]
