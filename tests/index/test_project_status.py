"""``index/project_status.py``: PEP 792's vocabulary and its rendering, from values alone (so a
proxy renders an upstream's status exactly as a local project's)."""

from __future__ import annotations

import pytest

from trustyard.errors import InvalidInput
from trustyard.index.project_status import (
    ACTIVE,
    ProjectStatus,
    StatusMarker,
    checked_reason,
    checked_status,
    marker_of_page,
    status_json,
    status_meta,
)


def test_the_four_markers_and_what_they_allow() -> None:
    assert [s.value for s in ProjectStatus] == ["active", "archived", "quarantined", "deprecated"]
    allows = {
        s.value: (StatusMarker(s).allows_uploads, StatusMarker(s).offers_files)
        for s in ProjectStatus
    }
    assert allows == {
        "active": (True, True),
        "archived": (False, True),
        "quarantined": (False, False),
        "deprecated": (True, True),
    }
    assert StatusMarker(ProjectStatus.ACTIVE, "") == ACTIVE
    assert StatusMarker(ProjectStatus.ARCHIVED, "done").describe() == "archived (done)"


def test_rendering_follows_the_spec() -> None:
    assert status_json("active") == {"status": "active"}
    assert status_json("active", "ignored") == {"status": "active"}
    assert status_json("archived", "") == {"status": "archived"}
    assert status_json("quarantined", "haunted") == {"status": "quarantined", "reason": "haunted"}
    assert status_meta("active") == ['<meta name="pypi:project-status" content="active">']
    assert status_meta("quarantined", 'a "b" <c>') == [
        '<meta name="pypi:project-status" content="quarantined">',
        '<meta name="pypi:project-status-reason" content="a &quot;b&quot; &lt;c&gt;">',
    ]


def test_checks() -> None:
    assert checked_status("deprecated") is ProjectStatus.DEPRECATED
    with pytest.raises(InvalidInput, match="one of active, archived, quarantined, deprecated"):
        checked_status("Archived")
    assert checked_reason("  why  ") == "why"
    assert checked_reason("é ünïcode — fine") == "é ünïcode — fine"
    for bad in ("a\nb", "tab\there", "nul\x00", "c1\x85x", "del\x7fx"):
        with pytest.raises(InvalidInput, match="control characters"):
            checked_reason(bad)
    with pytest.raises(InvalidInput, match="longer than 500"):
        checked_reason("x" * 501)


def test_a_page_is_read_back_into_its_marker() -> None:
    """The inverse of :func:`status_json`, for pages of another index (the proxy)."""
    for marker in (
        ACTIVE,
        StatusMarker(ProjectStatus.ARCHIVED),
        StatusMarker(ProjectStatus.QUARANTINED, "haunted"),
        StatusMarker(ProjectStatus.DEPRECATED, "use other"),
    ):
        page = {"project-status": status_json(marker.status.value, marker.reason)}
        assert marker_of_page(page) == marker
    assert marker_of_page({"meta": {"api-version": "1.1"}}) == ACTIVE
    for bad in (
        {"project-status": "archived"},
        {"project-status": {"status": 1}},
        {"project-status": {"status": "frozen"}},
        {"project-status": {"status": "archived", "reason": ["x"]}},
        {"project-status": {"status": "archived", "reason": "a\nb"}},
    ):
        with pytest.raises(InvalidInput):
            marker_of_page(bad)
