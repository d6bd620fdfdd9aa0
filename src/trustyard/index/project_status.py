"""PEP 792 project status markers: the four statuses, what each lets the index do, and how the
simple API shows them (packaging.python.org, "Project Status Markers" and "Simple repository
API", version 1.4).

One home for the vocabulary, whoever holds the status: a local project's row
(:mod:`trustyard.index.services.statuses`) or an upstream index's page passed through by a
proxy. Rendering takes the values, never a row, so both render it the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from html import escape
from typing import Any

from trustyard.errors import InvalidInput

MAX_REASON = 500  # characters; PyPI's yank reasons are bounded alike


class ProjectStatus(StrEnum):
    """PEP 792's markers; a project always has exactly one, ``active`` by default."""

    ACTIVE = "active"
    ARCHIVED = "archived"  # no uploads; existing files still offered
    QUARANTINED = "quarantined"  # no uploads; no file offered at all
    DEPRECATED = "deprecated"  # the semantics of active; installers may warn


def checked_status(value: str) -> ProjectStatus:
    """``value`` as a :class:`ProjectStatus`; 400 naming the four otherwise."""
    try:
        return ProjectStatus(value)
    except ValueError:
        known = ", ".join(s.value for s in ProjectStatus)
        raise InvalidInput(f"the status must be one of {known}, not {value[:40]!r}") from None


def checked_reason(reason: str) -> str:
    """A status reason, stripped: at most :data:`MAX_REASON` characters and no control
    characters (it travels in HTML attributes, JSON and the reason phrase of an upload's
    refusal, where a line break would end the status line)."""
    cleaned = reason.strip()
    if len(cleaned) > MAX_REASON:
        raise InvalidInput(f"the reason is longer than {MAX_REASON} characters")
    if any(ord(c) < 32 or 127 <= ord(c) < 160 for c in cleaned):
        raise InvalidInput("the reason must be one line of text without control characters")
    return cleaned


@dataclass(frozen=True)
class StatusMarker:
    """A project's PEP 792 status and its free-form reason ("" when none is given)."""

    status: ProjectStatus = ProjectStatus.ACTIVE
    reason: str = ""

    @property
    def allows_uploads(self) -> bool:
        """PEP 792: archived and quarantined projects MUST NOT accept new distributions."""
        return self.status not in (ProjectStatus.ARCHIVED, ProjectStatus.QUARANTINED)

    @property
    def offers_files(self) -> bool:
        """PEP 792: a quarantined project's index MUST NOT offer any of its distributions."""
        return self.status is not ProjectStatus.QUARANTINED

    def describe(self) -> str:
        """``archived (reason)``: how refusals and the CLI name the status."""
        return f"{self.status.value} ({self.reason})" if self.reason else self.status.value


ACTIVE = StatusMarker()


def status_json(status: str, reason: str = "") -> dict[str, Any]:
    """The PEP 691 ``project-status`` object: ``status``, and ``reason`` when one is given and
    the project is not active (the spec lets an index omit it then)."""
    document: dict[str, Any] = {"status": status}
    if reason and status != ProjectStatus.ACTIVE.value:
        document["reason"] = reason
    return document


def status_meta(status: str, reason: str = "") -> list[str]:
    """The PEP 503 page's ``pypi:project-status`` meta tag, and ``pypi:project-status-reason``
    under the same rule as :func:`status_json`. PyPI always sends the status, active too."""
    tags = [f'<meta name="pypi:project-status" content="{escape(status)}">']
    if reason and status != ProjectStatus.ACTIVE.value:
        tags.append(f'<meta name="pypi:project-status-reason" content="{escape(reason)}">')
    return tags


def marker_of_page(document: Mapping[str, Any]) -> StatusMarker:
    """The status a PEP 691 project page declares (an upstream index's, for a proxy): no
    ``project-status`` (an index before API 1.4, or one that omits ``active``) is ``active``;
    a malformed object or a status this index does not know is refused (400), so a caller
    decides how to fail rather than serving a quarantined project as active."""
    found = document.get("project-status")
    if found is None:
        return ACTIVE
    if not isinstance(found, Mapping) or not isinstance(found.get("status"), str):
        raise InvalidInput("the page's project-status is not an object with a status string")
    reason = found.get("reason", "")
    if not isinstance(reason, str):
        raise InvalidInput("the page's project-status reason is not a string")
    return StatusMarker(checked_status(found["status"]), checked_reason(reason))
