"""Which upstream files clients see and may fetch: the one place a filter goes.

Issue 18's policy gate (young or held upstream files) filters here: :func:`visible_files` is
what every listing (simple pages, JSON API, web page) shows, and :func:`servable` is what the
file, metadata and provenance URLs serve; a file it refuses answers 404 (or, for a gate,
raise an :class:`~trustyard.errors.Error` with its own status from here). Held files
(``Listing.held``, publisher continuity) are hidden here and answer 403 with the reason.
"""

from __future__ import annotations

from trustyard.errors import Forbidden
from trustyard.index.project_status import ProjectStatus, StatusMarker
from trustyard.index.services.statuses import refuse_download
from trustyard.index.upstream.pages import ListedFile, Listing


def _marker(listing: Listing) -> StatusMarker:
    status = ProjectStatus(listing.status or ProjectStatus.ACTIVE.value)
    return StatusMarker(status, listing.status_reason or "")


def visible_files(listing: Listing) -> tuple[ListedFile, ...]:
    """The files of ``listing`` that clients are shown, in the upstream's order: none while
    the upstream project is quarantined (PEP 792: no distribution is offered), even when the
    upstream lists some."""
    if not _marker(listing).offers_files:
        return ()
    if listing.held:
        return tuple(f for f in listing.files if f.sha256 not in listing.held)
    return listing.files


def servable(listing: Listing, sha256: str, filename: str) -> ListedFile | None:
    """The listed file under this digest and name, if clients may fetch it; a quarantined
    project's files are refused (403 with its reason), as local ones are."""
    marker = _marker(listing)
    if not marker.offers_files:
        refuse_download(listing.name, marker)
    why = listing.held.get(sha256)
    if why is not None and listing.file(sha256, filename) is not None:
        raise Forbidden(f"{filename} is not served: {why}")
    for listed in visible_files(listing):
        if listed.sha256 == sha256 and listed.filename == filename:
            return listed
    return None


def by_filename(listing: Listing, filename: str) -> ListedFile | None:
    """The visible file called ``filename`` (the Integrity API names files so); a held one
    is refused with its reason (403), as its file URL is."""
    for listed in listing.files:
        if listed.filename == filename and listed.sha256 in listing.held:
            raise Forbidden(f"{filename} is not served: {listing.held[listed.sha256]}")
    for listed in visible_files(listing):
        if listed.filename == filename:
            return listed
    return None
