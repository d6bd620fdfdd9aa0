"""The reserved-namespaces admin page over HTTP (fast tier): admins only, CSRF-checked forms to
reserve, release and change owners, refusals that change nothing, every change journalled."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.index.conftest import LocalBrowser, LocalIndex
from trustyard.index.services import namespaces


@pytest.fixture
def index(local_index: LocalIndex) -> LocalIndex:
    local_index.create_user("root", admin=True)
    local_index.create_user("ann")
    local_index.create_user("ben")
    return local_index


@pytest.fixture
def root(index: LocalIndex) -> Iterator[LocalBrowser]:
    browser = LocalBrowser(index)
    browser.sign_in("root")
    yield browser
    browser.close()


def _listed(index: LocalIndex) -> list[tuple[str, tuple[str, ...]]]:
    with index.db.read() as session:
        return [(view.prefix, view.owners) for view in namespaces.list_namespaces(session)]


def test_an_admin_reserves_changes_and_releases_a_namespace(
    index: LocalIndex, root: LocalBrowser
) -> None:
    page = root.get("/admin/namespaces/")
    assert page.status_code == 200
    assert "No namespace is reserved" in page.text
    answer = root.post("/admin/namespaces/add/", {"prefix": "Acme.Tools", "owners": "ann, ben"})
    assert answer.status_code == 200
    assert 'data-namespace="acme-tools"' in answer.text
    assert _listed(index) == [("Acme.Tools", ("ann", "ben"))]

    root.get("/admin/namespaces/")
    root.post("/admin/namespaces/owners/remove/", {"prefix": "acme-tools", "user": "ben"})
    assert _listed(index) == [("Acme.Tools", ("ann",))]
    refused = root.post("/admin/namespaces/owners/remove/", {"prefix": "acme-tools", "user": "ann"})
    assert refused.status_code == 409
    assert "last owner" in refused.text
    root.get("/admin/namespaces/")
    root.post("/admin/namespaces/owners/add/", {"prefix": "acme-tools", "user": "ben"})
    assert _listed(index) == [("Acme.Tools", ("ann", "ben"))]
    root.get("/admin/namespaces/")
    root.post("/admin/namespaces/remove/", {"prefix": "Acme.Tools"})
    assert _listed(index) == []
    journal = root.get("/admin/journal/").text
    assert "reserve namespace Acme.Tools (owners: ann, ben)" in journal
    assert "release namespace Acme.Tools" in journal


def test_refusals_change_nothing(index: LocalIndex, root: LocalBrowser) -> None:
    root.get("/admin/namespaces/")
    assert root.post("/admin/namespaces/add/", {"prefix": "x", "owners": " , "}).status_code == 400
    bad = root.post("/admin/namespaces/add/", {"prefix": "bad.", "owners": "ann"})
    assert bad.status_code == 400
    assert "not a valid namespace" in bad.text
    unknown = root.post("/admin/namespaces/add/", {"prefix": "acme", "owners": "ann, nobody"})
    assert unknown.status_code == 404
    extra = root.post("/admin/namespaces/add/", {"prefix": "acme", "owners": "ann", "x": "1"})
    assert extra.status_code == 400
    forged = root.post("/admin/namespaces/add/", {"prefix": "acme", "owners": "ann"}, csrf=False)
    assert forged.status_code in (400, 403)
    assert _listed(index) == []


def test_only_admins_see_or_change_namespaces(index: LocalIndex) -> None:
    ann = LocalBrowser(index)
    try:
        ann.sign_in("ann")
        assert ann.get("/admin/namespaces/").status_code == 403
        answer = ann.post("/admin/namespaces/add/", {"prefix": "acme", "owners": "ann"})
        assert answer.status_code == 403
        assert _listed(index) == []
    finally:
        ann.close()
