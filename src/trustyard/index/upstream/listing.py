"""Which upstream files clients see and may fetch: the one place a filter goes.

:func:`gate` applies PEP 792's quarantine and issue 18's policy (cooldown, cut-off,
exceptions: :mod:`trustyard.index.policy.rules`) to a listing: :func:`visible_files` is what
every listing (simple pages, JSON API, web page) shows, and :func:`servable` /
:func:`by_filename` what the file, metadata and provenance URLs serve. A file the policy
refuses answers 403 with the reason (:class:`HeldBack`), never a silent 404, so a lockfile's
pinned URL learns why and when. Files held by publisher continuity (``Listing.held``,
:mod:`trustyard.index.upstream.continuity`) are hidden and refused the same way, whatever the
cooldown says.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from packaging.utils import canonicalize_name

from trustyard.index.policy.rules import Decision, PolicyState, decide
from trustyard.index.project_status import ProjectStatus, StatusMarker
from trustyard.index.services.statuses import refuse_download
from trustyard.index.upstream.errors import HeldBack
from trustyard.index.upstream.pages import ListedFile, Listing
from trustyard.index.upstream.urls import version_of


@dataclass(frozen=True)
class Gated:
    """A listing through the gate: the files shown, the versions that disappear (all their
    files refused), and when this changes by the clock alone (None: not by the clock)."""

    files: tuple[ListedFile, ...]
    hidden_versions: frozenset[str]
    changes_at: datetime | None


def _marker(listing: Listing) -> StatusMarker:
    status = ProjectStatus(listing.status or ProjectStatus.ACTIVE.value)
    return StatusMarker(status, listing.status_reason or "")


def decision(listing: Listing, listed: ListedFile, state: PolicyState, now: datetime) -> Decision:
    """The policy's decision for one file of ``listing`` (``policy explain`` shows it)."""
    return decide(
        canonicalize_name(listing.name),
        listed.filename,
        version=version_of(listed.filename),
        upload_time=listed.upload_time,
        state=state,
        now=now,
    )


def gate(listing: Listing, state: PolicyState, now: datetime) -> Gated:
    """The files of ``listing`` that clients are shown, in the upstream's order: none while
    the upstream project is quarantined (PEP 792: no distribution is offered), even when the
    upstream lists some; none that the policy refuses."""
    if not _marker(listing).offers_files:
        return Gated((), frozenset(), None)
    if state.inert and not listing.held:
        return Gated(listing.files, frozenset(), None)
    shown: list[ListedFile] = []
    changes: list[datetime] = []
    offered: set[str] = set()
    kept: set[str] = set()
    for listed in listing.files:
        version = version_of(listed.filename)
        if version is not None:
            offered.add(version)
        if listed.sha256 in listing.held:
            continue  # a version whose every file is held disappears like a refused one
        if not state.inert:
            verdict = decision(listing, listed, state, now)
            if verdict.changes_at is not None:
                changes.append(verdict.changes_at)
            if not verdict.served:
                continue
        shown.append(listed)
        if version is not None:
            kept.add(version)
    return Gated(tuple(shown), frozenset(offered - kept), min(changes) if changes else None)


def visible_files(listing: Listing, state: PolicyState, now: datetime) -> tuple[ListedFile, ...]:
    """The files clients are shown (see :func:`gate`)."""
    return gate(listing, state, now).files


def _allowed(listing: Listing, listed: ListedFile, state: PolicyState, now: datetime) -> None:
    held = listing.held.get(listed.sha256)
    if held is not None:
        raise HeldBack(f"{listed.filename} is not served: {held}")
    verdict = decision(listing, listed, state, now)
    if not verdict.served:
        raise HeldBack(verdict.message)


def servable(
    listing: Listing, sha256: str, filename: str, state: PolicyState, now: datetime
) -> ListedFile | None:
    """The listed file under this digest and name, if clients may fetch it; a quarantined
    project's files are refused (403 with its reason), as local ones are, and so is a file
    the policy holds back (403 with the rule and when it would be served)."""
    marker = _marker(listing)
    if not marker.offers_files:
        refuse_download(listing.name, marker)
    listed = listing.file(sha256, filename)
    if listed is not None:
        _allowed(listing, listed, state, now)
    return listed


def by_filename(
    listing: Listing, filename: str, state: PolicyState, now: datetime
) -> ListedFile | None:
    """The file called ``filename`` (the Integrity API names files so), if clients may see
    it; a refused one answers 403 as its file URL does."""
    marker = _marker(listing)
    if not marker.offers_files:
        refuse_download(listing.name, marker)
    for listed in listing.files:
        if listed.filename == filename:
            _allowed(listing, listed, state, now)
            return listed
    return None
