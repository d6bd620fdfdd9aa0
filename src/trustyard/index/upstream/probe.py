"""Can this upstream be used with a cooldown? Decided once, when ``serve`` starts.

A cooldown needs each file's upload time, which only PEP 691 JSON pages carry (PEP 700's
``upload-time``, from ``api-version`` 1.1); PEP 503 HTML has no place for it. So the rule is:
the upstream's root index, asked for JSON first, must answer ``application/vnd.pypi.simple.v1+json``
with ``meta.api-version`` 1.1 or later. An upstream that answers HTML (devpi's ``+simple``
pages, plain file servers, older Artifactory) or JSON 1.0 cannot give upload times at all:
``serve --min-release-age`` refuses to start rather than hide every file. A file that still
comes without a time at run time is refused (fail closed, :mod:`trustyard.index.policy.rules`).
"""

from __future__ import annotations

import re

from trustyard.dists.mediatypes import SIMPLE_V1_JSON
from trustyard.errors import ConfigurationError
from trustyard.index.upstream.client import UpstreamClient
from trustyard.index.upstream.errors import UpstreamBroken, UpstreamUnavailable

_API_VERSION = re.compile(rb'"api-version"\s*:\s*"(\d+)\.(\d+)"')


def upload_times_problem(media: str, head: bytes) -> str | None:
    """Why an index whose root answered ``media`` starting with ``head`` gives no upload
    times (None: it does, PEP 700)."""
    if media != SIMPLE_V1_JSON:
        return (
            f"it answers its index as {media or 'an unknown media type'}, not PEP 691 JSON, and"
            " only JSON pages carry upload times (PEP 700)"
        )
    found = _API_VERSION.search(head)
    if found is None:
        return "its JSON index names no meta.api-version"
    major, minor = int(found.group(1)), int(found.group(2))
    if (major, minor) < (1, 1):
        return f"it speaks api-version {major}.{minor}; upload times came with 1.1 (PEP 700)"
    return None


async def require_upload_times(client: UpstreamClient, min_age: str) -> None:
    """Raise :class:`ConfigurationError` unless the upstream gives upload times."""
    media, head = await client.index_head()
    problem = upload_times_problem(media, head)
    if problem is not None:
        raise ConfigurationError(
            f"min_release_age {min_age} needs upload times from the upstream"
            f" {client.base_url}, and it gives none: {problem}. Use an upstream that speaks"
            " PEP 691 JSON with PEP 700 upload times (pypi.org, trustyard, a recent"
            " Warehouse), or start with --min-release-age 0 (`trustyard policy"
            " min-release-age 0` for every instance)"
        )


def check_at_start(
    base_url: str, timeout: float, min_age: str, transport: object | None = None
) -> str | None:
    """``serve``'s check, run before the server starts (its own client and event loop, so
    nothing bound to this loop outlives it). An upstream that cannot be asked now does not
    stop the start (an outage must not take the index down; files without upload times are
    refused anyway): the warning to log is returned instead."""
    import anyio  # noqa: PLC0415 - only when a cooldown is set

    async def probe() -> str | None:
        client = UpstreamClient(base_url, timeout=timeout, transport=transport)  # type: ignore[arg-type]
        try:
            await require_upload_times(client, min_age)
        except (UpstreamUnavailable, UpstreamBroken) as exc:
            return (
                f"cannot check that the upstream gives upload times ({exc.message}); files"
                " without one are refused while the cooldown is on"
            )
        finally:
            await client.aclose()
        return None

    return anyio.run(probe)
