"""Publisher continuity for local projects (issue 18): a file arriving through an API token
for a project only ever published through Trusted Publishing is stored but held (202, not
listed, 403 on its URLs) until an owner (here: the host's admin) approves it."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select

from tests.dists.builders import build_wheel
from tests.index.conftest import LocalBrowser, LocalIndex, LocalIssuer
from trustyard.dists.mediatypes import SIMPLE_V1_JSON
from trustyard.index.db.models import File
from trustyard.index.routes.upload import HELD_HEADER
from trustyard.index.services import continuity, projects, publishers
from trustyard.index.services.projects import get_project
from trustyard.index.services.roles import HOST
from trustyard.oidc.devclaims import GitHubRun

NAME, REPOSITORY, WORKFLOW = "tp-only", "octo/tp-only", "release.yml"


def _tp_upload(index: LocalIndex, issuer: LocalIssuer, wheel: Path) -> None:
    run = GitHubRun(repository=REPOSITORY, workflow=WORKFLOW, ref="refs/tags/v1")
    jwt = issuer.mint(index.ctx.audience, run.claims())
    minted = index.post("/_/oidc/mint-token", content=json.dumps({"token": jwt}))
    assert minted.status_code == 200, minted.text
    answer = index.upload(minted.json()["token"], wheel)
    assert answer.status_code == 200, answer.text


def _setup(index: LocalIndex, issuer: LocalIssuer) -> None:
    index.create_user("alice")
    index.trust_issuer(issuer.url)
    with index.db.write() as session:
        projects.create_project(session, NAME, owner="alice")
        publishers.add_publisher(
            session,
            NAME,
            "github",
            {"repository": REPOSITORY, "workflow": WORKFLOW, "issuer": issuer.url},
            actor=HOST,
        )


def _listed(index: LocalIndex) -> set[str]:
    page = index.get(f"/simple/{NAME}/", headers={"Accept": SIMPLE_V1_JSON})
    return {f["filename"] for f in page.json()["files"]}


def test_a_token_upload_after_trusted_publishing_only_is_held_until_approved(
    local_index: LocalIndex,
    local_issuer: LocalIssuer,
    wheels: Callable[[str, str], Path],
    tmp_path: Path,
) -> None:
    _setup(local_index, local_issuer)
    first = wheels(NAME, "1.0")
    _tp_upload(local_index, local_issuer, first)
    token = local_index.create_token("alice", NAME)
    second = wheels(NAME, "1.1")
    answer = local_index.upload(token, second)
    assert answer.status_code == 202, answer.text
    assert answer.headers[HELD_HEADER] == "owner-approval"
    assert "held for an owner's approval" in answer.text
    assert local_index.upload(token, second).status_code == 202  # a retry hears it again
    assert _listed(local_index) == {first.name}
    with local_index.db.read() as session:
        (row,) = continuity.held_files(session)
        path = session.scalar(select(File.path).where(File.filename == second.name))
    assert row.origin == continuity.LOCAL
    assert row.filename == second.name
    refused = local_index.get(f"/files/{path}")
    assert refused.status_code == 403, refused.text
    assert "held for review" in refused.text
    # A held file's name is burnt like any other: other bytes under it are refused.
    other = build_wheel(tmp_path / "other", NAME, "1.1", files={"extra.txt": b"x"})
    assert other.name == second.name
    assert local_index.upload(token, other).status_code == 400
    with local_index.db.write() as session:
        continuity.decide(session, row.id, release=True, actor="alice", note="our hotfix")
    assert _listed(local_index) == {first.name, second.name}
    assert local_index.get(f"/files/{path}").status_code == 200
    # Released: the project has now been published with a token, so the next is not held.
    assert local_index.upload(token, wheels(NAME, "1.2")).status_code == 200


def test_the_rule_can_be_switched_off_and_is_off_without_a_publisher(
    local_index: LocalIndex, local_issuer: LocalIssuer, wheels: Callable[[str, str], Path]
) -> None:
    _setup(local_index, local_issuer)
    _tp_upload(local_index, local_issuer, wheels(NAME, "1.0"))
    with local_index.db.write() as session:
        project = get_project(session, NAME)
        assert continuity.hold_token_uploads(session, project)
        continuity.set_hold_token_uploads(session, project, on=False, actor="alice")
    token = local_index.create_token("alice", NAME)
    assert local_index.upload(token, wheels(NAME, "1.1")).status_code == 200
    with local_index.db.write() as session:
        projects.create_project(session, "plain", owner="alice")
        assert not continuity.hold_token_uploads(session, get_project(session, "plain"))


def test_owners_decide_on_the_projects_page_and_admins_see_the_evidence(
    local_index: LocalIndex, local_issuer: LocalIssuer, wheels: Callable[[str, str], Path]
) -> None:
    _setup(local_index, local_issuer)
    local_index.create_user("carol")
    local_index.create_user("root", admin=True)
    _tp_upload(local_index, local_issuer, wheels(NAME, "1.0"))
    held = wheels(NAME, "1.1")
    assert local_index.upload(local_index.create_token("alice", NAME), held).status_code == 202
    with local_index.db.read() as session:
        (row,) = continuity.held_files(session)
    page = f"/manage/project/{NAME}/continuity/"

    root = LocalBrowser(local_index)
    carol = LocalBrowser(local_index)
    alice = LocalBrowser(local_index)
    try:
        assert root.sign_in("root").status_code == 200
        admin_page = root.get("/admin/held/")
        assert admin_page.status_code == 200
        assert held.name in admin_page.text
        assert "API token" in admin_page.text
        assert carol.sign_in("carol").status_code == 200
        assert carol.get("/admin/held/").status_code == 403
        assert carol.get(page).status_code in (403, 404)
        decision = {"action": "decide", "id": str(row.id), "decision": "release", "reason": "x"}
        assert carol.post(page, decision).status_code in (403, 404)
        assert alice.sign_in("alice").status_code == 200
        shown = alice.get(page)
        assert shown.status_code == 200
        assert held.name in shown.text
        assert alice.post(page, {**decision, "id": str(row.id + 1000)}).status_code == 404
        assert alice.post(page, {**decision, "decision": "maybe"}).status_code == 400
        approved = alice.post(page, {**decision, "reason": "our hotfix"})
        assert approved.status_code == 200, approved.text
        assert held.name in _listed(local_index)
        switched = alice.post(page, {"action": "setting", "hold": "off"})
        assert switched.status_code == 200
        assert 'id="hold-state">off' in switched.text
    finally:
        for browser in (root, carol, alice):
            browser.close()
