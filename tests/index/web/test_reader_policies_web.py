"""Reader policies on a project's publishing settings page (Trusted Reading, issue 20): owners
add and remove them with the same per-kind forms as publishers; maintainers see them only."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.index.conftest import LocalBrowser, LocalIndex, LocalIssuer
from trustyard.index.services import collaborators, reader_policies
from trustyard.index.services.roles import HOST


def test_owners_manage_reader_policies_and_maintainers_see_them(
    shared_index: LocalIndex,
    local_issuer: LocalIssuer,
    wheels: Callable[[str, str], Path],
) -> None:
    index = shared_index
    index.trust_issuer(local_issuer.url)
    index.create_user("rp-owner")
    index.create_user("rp-maint")
    assert index.upload(index.create_token("rp-owner"), wheels("rp-web", "1.0")).status_code == 200
    with index.db.write() as session:
        collaborators.add_collaborator(session, "rp-web", "rp-maint", "maintainer", actor=HOST)
    owner = LocalBrowser(index)
    maint = LocalBrowser(index)
    try:
        owner.sign_in("rp-owner")
        page = owner.get("/manage/project/rp-web/")
        assert "Trusted Reading" in page.text
        assert 'id="reader-github"' in page.text
        assert 'id="add-github"' in page.text
        added = owner.post(
            "/manage/project/rp-web/readers/",
            {
                "kind": "github",
                "repository": "octo/tests",
                "workflow": "ci.yml",
                "environment": "",
                "issuer": local_issuer.url,
            },
        )
        assert added.status_code == 200, added.text
        assert "octo/tests" in added.text
        with index.db.read() as session:
            (view,) = reader_policies.list_reader_policies(session, "rp-web", actor="rp-owner")
        bad = owner.post(
            "/manage/project/rp-web/readers/",
            {"kind": "github", "repository": "nope", "workflow": "r.yml", "issuer": "x"},
        )
        assert bad.status_code == 400

        maint.sign_in("rp-maint")
        seen = maint.get("/manage/project/rp-web/")
        assert "octo/tests" in seen.text
        assert 'id="reader-github"' not in seen.text
        refused = maint.post(f"/manage/project/rp-web/readers/{view.id}/remove/")
        assert refused.status_code == 403

        removed = owner.post(f"/manage/project/rp-web/readers/{view.id}/remove/")
        assert removed.status_code == 200
        assert "No reader policies." in removed.text
    finally:
        owner.close()
        maint.close()
