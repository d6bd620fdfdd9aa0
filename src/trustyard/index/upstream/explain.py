"""``trustyard policy explain NAME==VERSION``: would each file be served now, and why.

One function, :func:`explain`, gives every file of a release its verdict from the same
decision the listings and file URLs use (:func:`trustyard.index.upstream.listing.decision`),
so what it says is what clients get; later rules join there.
"""

from __future__ import annotations

from dataclasses import dataclass

from packaging.utils import canonicalize_version

from trustyard.errors import NotFound
from trustyard.index.policy.rules import Decision
from trustyard.index.project_status import ProjectStatus
from trustyard.index.upstream.listing import decision
from trustyard.index.upstream.pages import ListedFile
from trustyard.index.upstream.proxy import UpstreamProxy
from trustyard.index.upstream.urls import version_of


@dataclass(frozen=True)
class Verdict:
    """One file and the gate's decision for it now."""

    file: ListedFile
    decision: Decision


async def explain(proxy: UpstreamProxy, project: str, version: str) -> list[Verdict]:
    """The verdict for every upstream file of ``project`` ``version`` (normalized name)."""
    listing = await proxy.listing(project)
    if listing is None:
        raise NotFound(f"the upstream {proxy.upstream_url} has no project {project!r}")
    wanted = canonicalize_version(version)
    files = [
        f
        for f in listing.files
        if (found := version_of(f.filename)) is not None and canonicalize_version(found) == wanted
    ]
    if not files:
        raise NotFound(f"the upstream lists no files of {project} {version}")
    proxy.forget_policy()  # explain what holds now, not what this process read earlier
    state = await proxy.policy()
    now = proxy.clock()
    status = ProjectStatus(listing.status or ProjectStatus.ACTIVE.value)
    verdicts = []
    for f in files:
        verdict = decision(listing, f, state, now)
        if status is ProjectStatus.QUARANTINED:
            verdict = Decision(
                False,
                "quarantined",
                (
                    f"the upstream project is quarantined (PEP 792): no file is offered"
                    f" ({listing.status_reason or 'no reason given'})",
                    *verdict.reasons,
                ),
            )
        verdicts.append(Verdict(f, verdict))
    return verdicts
