"""The policy admin page over HTTP (fast tier): admins only, CSRF-checked forms to allow,
revoke and set the cut-off, refusals that change nothing, every change journalled."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.index.conftest import LocalBrowser, LocalIndex
from trustyard.index.services import policy


@pytest.fixture
def index(local_index: LocalIndex) -> LocalIndex:
    local_index.create_user("root", admin=True)
    local_index.create_user("ann")
    return local_index


@pytest.fixture
def root(index: LocalIndex) -> Iterator[LocalBrowser]:
    browser = LocalBrowser(index)
    browser.sign_in("root")
    yield browser
    browser.close()


def _exceptions(index: LocalIndex) -> list[tuple[str, str | None, str, str | None]]:
    with index.db.read() as session:
        return [
            (r.project, r.version, r.created_by, r.revoked_by)
            for r in policy.exceptions(session, everything=True)
        ]


def test_an_admin_allows_revokes_and_cuts_off(index: LocalIndex, root: LocalBrowser) -> None:
    page = root.get("/admin/policy/")
    assert page.status_code == 200
    assert "No exception" in page.text
    answer = root.post(
        "/admin/policy/allow/",
        {"requirement": "Urllib3==2.6.3", "reason": "CVE fix", "expires": "30d"},
    )
    assert answer.status_code == 200
    assert 'data-exception="1" data-state="active"' in answer.text
    assert _exceptions(index) == [("urllib3", "2.6.3", "root", None)]
    root.get("/admin/policy/")
    root.post("/admin/policy/revoke/", {"id": "1"})
    assert _exceptions(index) == [("urllib3", "2.6.3", "root", "root")]
    root.get("/admin/policy/")
    cut = root.post(
        "/admin/policy/cutoff/", {"timestamp": "2026-03-24T10:39:00Z", "reason": "litellm"}
    )
    assert 'data-cutoff="2026-03-24T10:39:00Z"' in cut.text
    root.get("/admin/policy/")
    lifted = root.post("/admin/policy/cutoff/", {"timestamp": "none"})
    assert 'data-cutoff="none"' in lifted.text
    journal = root.get("/admin/journal/").text
    assert "policy exception #1 added for urllib3==2.6.3" in journal
    assert "policy exception #1 revoked" in journal
    assert "policy cutoff 2026-03-24T10:39:00Z: litellm" in journal


def test_refusals_change_nothing(index: LocalIndex, root: LocalBrowser) -> None:
    root.get("/admin/policy/")
    for fields, status, text in (
        ({"requirement": "pkg", "reason": " "}, 400, "needs a reason"),
        ({"requirement": "pkg==x!", "reason": "r"}, 400, "not a valid version"),
        ({"requirement": "pkg", "reason": "r", "expires": "soon"}, 400, "invalid duration"),
        ({"requirement": "pkg", "reason": "r", "extra": "1"}, 400, ""),
    ):
        refused = root.post("/admin/policy/allow/", fields)
        assert refused.status_code == status, fields
        assert text in refused.text
    assert root.post("/admin/policy/revoke/", {"id": "7"}).status_code == 404
    assert root.post("/admin/policy/cutoff/", {"timestamp": "yesterday"}).status_code == 400
    forged = root.post("/admin/policy/allow/", {"requirement": "pkg", "reason": "r"}, csrf=False)
    assert forged.status_code in (400, 403)
    assert _exceptions(index) == []
    with index.db.read() as session:
        assert policy.cutoff(session) is None


def test_only_admins_see_or_change_the_policy(index: LocalIndex) -> None:
    ann = LocalBrowser(index)
    try:
        ann.sign_in("ann")
        assert ann.get("/admin/policy/").status_code == 403
        ann.get("/account/")
        refused = ann.post("/admin/policy/allow/", {"requirement": "pkg", "reason": "r"})
        assert refused.status_code == 403
    finally:
        ann.close()
    assert _exceptions(index) == []
