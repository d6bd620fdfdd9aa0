"""``trustyard upstream status|refresh|purge``: the operator's view of the pull-through cache
(issue 17)."""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from trustyard.cli.options import add_index_options, settings_from
from trustyard.dists.names import is_valid_project_name, normalize_name
from trustyard.errors import ConfigurationError, InvalidInput

T = TypeVar("T")


def register(commands: Any) -> None:
    """Add the ``upstream`` command family."""
    parser: argparse.ArgumentParser = commands.add_parser(
        "upstream",
        help="the pull-through cache of the upstream index",
        description="Inspect, refresh or purge the cache of the upstream index (--upstream).",
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    def action(name: str, help_text: str) -> argparse.ArgumentParser:
        sub: argparse.ArgumentParser = actions.add_parser(name, help=help_text)
        add_index_options(sub)
        sub.add_argument(
            "--upstream", default=None, metavar="URL", help="the upstream (default: the setting)"
        )
        return sub

    status = action("status", "reachability, cache size and hit ratio")
    status.add_argument("--json", action="store_true", help="print JSON")
    status.set_defaults(run=run_status)
    refresh = action("refresh", "fetch one project's page again now")
    refresh.add_argument("name", help="the project name")
    refresh.set_defaults(run=run_refresh)
    purge = action("purge", "forget every cached upstream page and file (never a local file)")
    purge.set_defaults(run=run_purge)


def _open(args: argparse.Namespace) -> Any:
    from trustyard.index.context import open_index  # noqa: PLC0415 - heavy import

    settings = settings_from(args, upstream=args.upstream)
    if not settings.upstream:
        raise ConfigurationError("no upstream is configured: give --upstream URL or set upstream")
    return open_index(settings, migrate=False)


def _run(ctx: Any, work: Callable[[], Awaitable[T]]) -> T:
    async def main() -> T:
        try:
            return await work()
        finally:
            await ctx.upstream.client.aclose()

    return asyncio.run(main())


def _ratio(hits: int, misses: int) -> str:
    return f"{100 * hits / (hits + misses):.1f}%" if hits + misses else "n/a"


def run_status(args: argparse.Namespace) -> int:
    """Print whether the upstream answers, what the cache holds, and its hit ratio."""
    from trustyard.index.policy.rules import format_age  # noqa: PLC0415
    from trustyard.index.services import continuity, policy  # noqa: PLC0415
    from trustyard.index.services import upstream as cache  # noqa: PLC0415

    ctx = _open(args)
    reachability = _run(ctx, ctx.upstream.client.reachable)
    with ctx.db.read() as session:
        found = cache.summary(session)
        checked = continuity.summary(session)
        gate = policy.load_state(session)
    counters = found.counters
    page_hits, page_misses = counters.get("page_hits", 0), counters.get("page_fetches", 0)
    file_hits, file_misses = counters.get("file_hits", 0), counters.get("file_fetches", 0)
    report = {
        "upstream": ctx.upstream.upstream_url,
        "reachability": reachability,
        "cached_pages": found.pages,
        "absent_names": found.absent,
        "cached_files": found.files,
        "cached_metadata_files": found.metadata_files,
        "cached_bytes": found.stored_bytes,
        "page_hit_ratio": _ratio(page_hits, page_misses),
        "file_hit_ratio": _ratio(file_hits, file_misses),
        "counters": counters,
        "continuity": {
            "checked_projects": checked.tracked,
            "inert_projects": max(found.pages - checked.tracked, 0),
            "pinned_projects": checked.pinned,
            "held_files": checked.held,
        },
        # Issue 18's gate as every instance applies it (kept in the database).
        "policy": {
            "min_release_age": format_age(gate.min_age) if gate.min_age else "0",
            "cutoff": f"{gate.cutoff:%Y-%m-%dT%H:%M:%S}Z" if gate.cutoff else None,
            "exceptions_in_force": len(gate.allowances),
        },
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"upstream: {report['upstream']} ({reachability})")
    print(f"cached pages: {found.pages} (and {found.absent} names the upstream does not have)")
    print(
        f"cached files: {found.files} ({found.stored_bytes} bytes),"
        f" core metadata files: {found.metadata_files}"
    )
    print(
        f"pages: {page_hits} from cache, {page_misses} from the upstream,"
        f" {counters.get('page_stale', 0)} stale during outages;"
        f" hit ratio {report['page_hit_ratio']}"
    )
    print(
        f"files: {file_hits} from cache, {file_misses} from the upstream,"
        f" {counters.get('file_refused', 0)} refused (sha256 mismatch);"
        f" hit ratio {report['file_hit_ratio']}"
    )
    print(_continuity_line(found.pages, checked))
    gated = report["policy"]
    print(
        f"policy: min-release-age {gated['min_release_age']}"
        + (" (off)" if not gate.min_age else "")
        + f", cutoff {gated['cutoff'] or 'none'},"
        f" {gated['exceptions_in_force']} exceptions in force (trustyard policy list)"
    )
    return 0


def _continuity_line(pages: int, checked: Any) -> str:
    """Publisher continuity's reach: it is inert for a project whose files carry no PEP 740
    provenance (an upstream that serves none, devpi say, makes it inert everywhere)."""
    if pages and not checked.tracked:
        return (
            "publisher continuity: inert (the upstream served no PEP 740 provenance for any"
            f" of the {pages} cached projects)"
        )
    inert = max(pages - checked.tracked, 0)
    return (
        f"publisher continuity: {checked.tracked} projects checked ({checked.pinned} pinned),"
        f" {checked.held} files held; inert for {inert} projects without provenance"
    )


def run_refresh(args: argparse.Namespace) -> int:
    """Fetch a project's page from the upstream now, whatever its age in the cache."""
    from trustyard.index.services.locality import local_reason  # noqa: PLC0415

    if not is_valid_project_name(args.name):
        raise InvalidInput(f"{args.name!r} is not a valid project name")
    ctx = _open(args)
    normalized = normalize_name(args.name)
    with ctx.db.read() as session:
        reason = local_reason(session, normalized)
    if reason is not None:
        raise InvalidInput(f"{normalized} is local ({reason}): the upstream is never asked for it")

    async def refresh() -> Any:
        listing = await ctx.upstream.refresh(normalized)
        await asyncio.to_thread(ctx.upstream.flush)
        return listing

    listing = _run(ctx, refresh)
    if listing is None:
        print(f"{normalized}: the upstream has no such project")
    else:
        print(f"{normalized}: {len(listing.files)} files from {ctx.upstream.upstream_url}")
    return 0


def run_purge(args: argparse.Namespace) -> int:
    """Forget every cached page, file row and counter; delete the cached bytes."""
    from trustyard.index.services import upstream as cache  # noqa: PLC0415
    from trustyard.index.services.roles import HOST, actor_name  # noqa: PLC0415

    ctx = _open(args)
    with ctx.db.write() as session:
        keys = cache.purge(session, actor=actor_name(HOST))
    for key in keys:
        ctx.storage.delete(key)
    asyncio.run(ctx.upstream.client.aclose())
    print(f"purged the upstream cache: {len(keys)} stored files removed")
    return 0
