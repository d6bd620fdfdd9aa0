"""Nobody shadows a public name by accident or on purpose (issue 17).

With an upstream configured, a name the upstream has and this index does not becomes local
only by an admin's decision (``trustyard admin project create``, the host's CLI, or a
reserved namespace): an upload through a user-wide token, or a pending publisher registered
on the web, for such a name is refused with a message naming the upstream project. When the
upstream cannot be asked and has never been, the answer is no as well (fail closed): a new
local project could otherwise hide a public one.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool

from trustyard.dists.names import is_valid_project_name, normalize_name
from trustyard.errors import Error
from trustyard.index.context import IndexContext
from trustyard.index.services import upstream as cache
from trustyard.index.upstream.errors import ShadowingRefused, UpstreamUnavailable
from trustyard.index.upstream.lookup import upstream_for


def _journal(ctx: IndexContext, action: str, normalized: str) -> None:
    with ctx.db.write() as session:
        cache.journal(session, action, project=normalized)


async def refuse_shadowing(ctx: IndexContext, name: str, *, by: str) -> None:
    """Raise unless ``name`` may become a new local project through ``by`` (what is asking:
    "upload", "pending publisher"). Local names and invalid ones pass (their own checks
    answer them)."""
    if ctx.upstream is None or not is_valid_project_name(name):
        return
    normalized = normalize_name(name)
    proxy = await upstream_for(ctx, normalized)
    if proxy is None:
        return
    try:
        listing = await proxy.listing(normalized)
    except Error as exc:
        if exc.status < 500:
            raise
        await run_in_threadpool(
            _journal, ctx, f"upstream shadowing refused ({by}): upstream unreachable", normalized
        )
        raise UpstreamUnavailable(
            f"cannot check whether {name!r} exists on the upstream index {proxy.upstream_url}"
            f" ({exc.message}): a new project of that name waits until it answers"
        ) from exc
    if listing is None:
        return
    await run_in_threadpool(
        _journal,
        ctx,
        f"upstream shadowing refused ({by}): {listing.name} exists upstream",
        normalized,
    )
    raise ShadowingRefused(
        f"The name {name!r} belongs to the upstream index's project {listing.name!r}"
        f" ({proxy.client.page_url(normalized)}): it is not created here by an {by}. An admin"
        f" may make it local with `trustyard admin project create {normalized} --owner NAME`."
    )
