"""Which names the upstream answers for: none that are local (services/locality.py)."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool

from trustyard.index.context import IndexContext
from trustyard.index.services.locality import is_local
from trustyard.index.upstream.proxy import UpstreamProxy


def _is_local(ctx: IndexContext, normalized_name: str) -> bool:
    with ctx.db.read() as session:
        return is_local(session, normalized_name)


async def upstream_for(ctx: IndexContext, normalized_name: str) -> UpstreamProxy | None:
    """The proxy when ``normalized_name`` is the upstream's to answer (an upstream is
    configured and the name is not local), else None: local wins wholly."""
    if ctx.upstream is None:
        return None
    if await run_in_threadpool(_is_local, ctx, normalized_name):
        return None
    return ctx.upstream
