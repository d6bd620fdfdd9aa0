"""PEP 792 project statuses (issue 18) on the real app, in-process, on each backend: what
archived, quarantined and deprecated refuse and show, who may set which, and the journal.

The SQLite run is in the fast tier; the PostgreSQL run starts a real server (``backends``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from anyio.from_thread import BlockingPortal

from tests.dists.builders import build_sdist, build_wheel
from tests.index.conftest import LocalBrowser, LocalIndex, LocalIssuer
from trustyard.cli.main import main
from trustyard.errors import Conflict, Forbidden, InvalidInput
from trustyard.index.db.models import ProjectStatusRecord
from trustyard.index.services import journal, publishers, statuses
from trustyard.index.services.roles import HOST, IndexAdmin
from trustyard.oidc.devclaims import GitHubRun

JSON = "application/vnd.pypi.simple.v1+json"
LINK = re.compile(r"<a href=")


@pytest.fixture
def idx(
    database_url_of_each_backend: str, tmp_path: Path, portal: BlockingPortal
) -> Iterator[LocalIndex]:
    """An index of this test's own on each backend, with ``olga`` owning ``demo`` 1.0 (a
    wheel) and ``mia`` its maintainer."""
    local = LocalIndex(tmp_path / "data", portal, database=database_url_of_each_backend)
    local.create_user("olga")
    local.create_user("mia")
    token = local.create_token("olga")
    assert local.upload(token, build_wheel(tmp_path / "d1", "demo", "1.0")).status_code == 200
    main(["admin", "project", "role", "demo", "mia", "maintainer", *_where(local)])
    yield local
    local.close()


def _where(idx: LocalIndex) -> list[str]:
    return ["--data", str(idx.data), "--database", idx.settings.database_url]


def _set(idx: LocalIndex, status: str, reason: str = "", actor: str | IndexAdmin = HOST) -> None:
    with idx.db.write() as session:
        statuses.set_status(idx.db, session, "demo", status, reason=reason, actor=actor)


def _upload(idx: LocalIndex, tmp: Path, version: str, user: str = "olga") -> tuple[int, str]:
    token = idx.create_token(user)
    answer = idx.upload(token, build_sdist(tmp / f"u{version}", "demo", version))
    return answer.status_code, answer.text


def _simple(idx: LocalIndex) -> tuple[dict[str, object], str]:
    document = idx.get("/simple/demo/", headers={"Accept": JSON}).json()
    html = idx.get("/simple/demo/", headers={"Accept": "text/html"}).text
    return document, html


def _file_url(idx: LocalIndex) -> str:
    with idx.db.read() as session:
        from trustyard.index.services.catalogue import project_detail  # noqa: PLC0415

        view = project_detail(session, "demo")
    assert view is not None
    return "/files/" + view.releases[0].files[0].path if view.releases[0].files else ""


def test_active_by_default(idx: LocalIndex) -> None:
    document, html = _simple(idx)
    assert document["project-status"] == {"status": "active"}
    assert '<meta name="pypi:project-status" content="active">' in html
    assert "project-status-reason" not in html
    assert idx.get("/pypi/demo/json").json()["project-status"] == {"status": "active"}


def test_archived_refuses_uploads_and_keeps_serving_files(idx: LocalIndex, tmp_path: Path) -> None:
    url = _file_url(idx)
    _set(idx, "archived", "superseded by demo2", actor="olga")  # an owner may archive
    status, text = _upload(idx, tmp_path, "1.1")
    assert status == 403
    assert "Project 'demo' is archived (reason: superseded by demo2)" in text
    assert "accepts no new uploads" in text
    status, text = _upload(idx, tmp_path, "1.2", user="mia")  # a maintainer's token too
    assert status == 403
    document, html = _simple(idx)
    assert document["project-status"] == {"status": "archived", "reason": "superseded by demo2"}
    assert document["versions"] == ["1.0"]
    assert len(document["files"]) == 1  # type: ignore[arg-type]
    assert '<meta name="pypi:project-status" content="archived">' in html
    assert '<meta name="pypi:project-status-reason" content="superseded by demo2">' in html
    assert len(LINK.findall(html)) == 1
    assert idx.get(url).status_code == 200
    api = idx.get("/pypi/demo/json").json()
    assert api["project-status"] == {"status": "archived", "reason": "superseded by demo2"}
    assert len(api["urls"]) == 1
    # the owner unarchives, and uploads work again
    _set(idx, "active", actor="olga")
    assert _upload(idx, tmp_path, "1.3")[0] == 200
    assert _simple(idx)[0]["project-status"] == {"status": "active"}


def test_quarantined_lists_no_file_and_refuses_its_urls(idx: LocalIndex, tmp_path: Path) -> None:
    url = _file_url(idx)
    assert idx.get(url + ".metadata").status_code == 200
    _set(idx, "quarantined", "reported as malware <script>")
    document, html = _simple(idx)
    assert document["project-status"] == {
        "status": "quarantined",
        "reason": "reported as malware <script>",
    }
    assert document["files"] == []
    assert document["versions"] == ["1.0"]  # as PEP 792's example page: versions, no files
    assert not LINK.findall(html)
    assert (
        '<meta name="pypi:project-status-reason" content="reported as malware &lt;script&gt;">'
        in html
    )
    for path in (url, url + ".metadata"):
        refused = idx.get(path)
        assert refused.status_code == 403, path
        assert "Project 'demo' is quarantined (reason: reported as malware" in refused.text
    assert idx.request("HEAD", url).status_code == 403
    api = idx.get("/pypi/demo/json").json()
    assert api["project-status"]["status"] == "quarantined"
    assert api["urls"] == []
    assert api["releases"] == {"1.0": []}
    assert idx.get("/pypi/demo/1.0/json").json()["urls"] == []
    provenance = idx.get("/integrity/demo/1.0/demo-1.0-py3-none-any.whl/provenance")
    assert provenance.status_code == 403
    assert "Project 'demo' is quarantined" in provenance.json()["message"]
    page = idx.get("/project/demo/")
    assert page.status_code == 200
    assert 'data-status="quarantined"' in page.text
    assert "This project is quarantined." in page.text
    assert "pip install demo" not in page.text
    assert url not in page.text
    status, text = _upload(idx, tmp_path, "1.1")
    assert status == 403
    assert "Project 'demo' is quarantined" in text
    # only an admin lifts it; then the file is served again, byte for byte the same URL
    with pytest.raises(Forbidden, match="only an admin of the index can change its status"):
        _set(idx, "active", actor="olga")
    with pytest.raises(Forbidden, match="only an admin"):
        _set(idx, "archived", "hide it", actor="olga")
    _set(idx, "active", "false positive")
    assert idx.get(url).status_code == 200
    assert len(_simple(idx)[0]["files"]) == 1  # type: ignore[arg-type]


def test_deprecated_only_says_so(idx: LocalIndex, tmp_path: Path) -> None:
    _set(idx, "deprecated", "use demo2", actor="olga")
    assert _upload(idx, tmp_path, "1.1")[0] == 200
    document, html = _simple(idx)
    assert document["project-status"] == {"status": "deprecated", "reason": "use demo2"}
    assert len(document["files"]) == 2  # type: ignore[arg-type]
    assert '<meta name="pypi:project-status" content="deprecated">' in html
    shown = idx.get("/project/demo/").text
    assert "This project is deprecated." in shown
    assert re.search(r"pip install --index-url \S+/simple/ demo==1\.1", shown)


def test_who_may_set_which(idx: LocalIndex) -> None:
    with pytest.raises(Forbidden, match="only an admin of the index can quarantine demo"):
        _set(idx, "quarantined", "mine", actor="olga")
    with pytest.raises(Forbidden, match="only an owner of demo can change its status"):
        _set(idx, "archived", "no", actor="mia")
    with pytest.raises(Forbidden):
        _set(idx, "archived", "no", actor="nobody")
    with pytest.raises(InvalidInput, match="give a reason"):
        _set(idx, "archived", "   ")
    with pytest.raises(InvalidInput, match="must be one of active, archived"):
        _set(idx, "frozen", "x")
    with pytest.raises(InvalidInput, match="control characters"):
        _set(idx, "archived", "two\r\nlines")
    with pytest.raises(InvalidInput, match="longer than 500"):
        _set(idx, "archived", "x" * 501)
    with pytest.raises(Conflict, match="already active"):
        _set(idx, "active")
    with idx.db.read() as session:
        assert session.query(ProjectStatusRecord).count() == 0
        assert not [e for e in journal.project_history(session, "demo") if "status" in e.action]


def test_journal_records_who_and_why(idx: LocalIndex) -> None:
    _set(idx, "archived", "done", actor="olga")
    _set(idx, "archived", "done, see demo2", actor="olga")  # a new reason, same status
    _set(idx, "quarantined", "stolen token")
    _set(idx, "active", "cleared", actor=IndexAdmin("root"))
    with idx.db.read() as session:
        entries = [
            (e.actor, e.action)
            for e in journal.project_history(session, "demo")
            if e.action.startswith("set status")
        ]
        assert session.query(ProjectStatusRecord).count() == 0  # active: no row
    assert entries == [
        ("root", "set status active (cleared)"),
        ("admin", "set status quarantined (stolen token)"),
        ("olga", "set status archived (done, see demo2)"),
        ("olga", "set status archived (done)"),
    ]


def test_admin_cli(idx: LocalIndex, capsys: pytest.CaptureFixture[str]) -> None:
    where = _where(idx)
    assert main(["admin", "project", "status", "demo", *where]) == 0
    assert json.loads(capsys.readouterr().out) == {"status": "active"}
    assert main(["admin", "project", "status", "demo", "quarantined", *where]) == 1
    assert "give a reason for making a project quarantined" in capsys.readouterr().err
    assert (
        main(["admin", "project", "status", "demo", "quarantined", "--reason", "malware", *where])
        == 0
    )
    assert "demo: active -> quarantined (malware)" in capsys.readouterr().err
    assert main(["admin", "project", "status", "Demo", *where]) == 0
    assert json.loads(capsys.readouterr().out) == {"status": "quarantined", "reason": "malware"}
    assert main(["admin", "project", "status", "nothere", "archived", "--reason", "x", *where]) == 1
    assert "no project named 'nothere'" in capsys.readouterr().err
    assert _simple(idx)[0]["files"] == []


def test_owner_settings_page(idx: LocalIndex) -> None:
    olga = LocalBrowser(idx)
    try:
        olga.sign_in("olga")
        shown = olga.get("/manage/project/demo/status/")
        assert shown.status_code == 200
        assert '<span class="status" id="current-status">active</span>' in shown.text
        assert 'value="quarantined"' not in shown.text  # not an owner's choice
        answer = olga.post(
            "/manage/project/demo/status/", {"status": "archived", "reason": "finished"}
        )
        assert answer.status_code == 200
        assert '<span class="status" id="current-status">archived</span>' in answer.text
        assert "This project is archived." in answer.text
        assert (
            olga.post("/manage/project/demo/status/", {"status": "quarantined"}).status_code == 400
        )
        assert (
            olga.post(
                "/manage/project/demo/status/", {"status": "active", "extra": "x"}
            ).status_code
            == 400
        )
        assert _simple(idx)[0]["project-status"] == {"status": "archived", "reason": "finished"}
    finally:
        olga.close()
    mia = LocalBrowser(idx)
    try:
        mia.sign_in("mia")
        shown = mia.get("/manage/project/demo/status/")
        assert "Only an owner can change the status." in shown.text
        refused = mia.post("/manage/project/demo/status/", {"status": "active", "reason": ""})
        assert refused.status_code == 403
    finally:
        mia.close()


def test_admin_page_quarantines(idx: LocalIndex) -> None:
    idx.create_user("root", admin=True)
    root = LocalBrowser(idx)
    try:
        root.sign_in("root")
        shown = root.get("/admin/project/demo/")
        assert 'value="quarantined"' in shown.text
        answer = root.post(
            "/admin/project/demo/status/", {"status": "quarantined", "reason": "malware"}
        )
        assert answer.status_code == 200
        assert '<span class="status" id="current-status">quarantined</span>' in answer.text
        assert "demo-1.0-py3-none-any.whl" in answer.text  # admins still see the files
        listed = root.get("/admin/projects/").text
        assert re.search(
            r'data-project="demo">.*?<td class="status">quarantined</td>', listed, re.S
        )
    finally:
        root.close()
    with idx.db.read() as session:
        (entry,) = [
            e for e in journal.project_history(session, "demo") if e.action.startswith("set")
        ]
    assert (entry.actor, entry.action) == ("root", "set status quarantined (malware)")
    olga = LocalBrowser(idx)
    try:
        olga.sign_in("olga")
        shown = olga.get("/manage/project/demo/status/")
        assert "Only an admin of the index can lift a quarantine." in shown.text
        refused = olga.post("/manage/project/demo/status/", {"status": "active", "reason": ""})
        assert refused.status_code == 403
        assert olga.post("/admin/project/demo/status/", {"status": "active"}).status_code == 403
    finally:
        olga.close()


def test_trusted_publishing_upload_to_an_archived_project_is_refused(
    local_index: LocalIndex, local_issuer: LocalIssuer, tmp_path: Path
) -> None:
    """A token minted by a Trusted Publisher meets the same refusal as an API token (PyPI drops
    the publishers' upload permission while a project is archived or quarantined)."""
    index = local_index
    index.trust_issuer(local_issuer.url)
    index.create_user("olga")
    owner = index.create_token("olga")
    assert index.upload(owner, build_wheel(tmp_path / "a", "tp-demo", "1.0")).status_code == 200
    with index.db.write() as session:
        publishers.add_publisher(
            session,
            "tp-demo",
            "github",
            {
                "repository": "octo/tp-demo",
                "workflow": "release.yml",
                "environment": "pypi",
                "issuer": local_issuer.url,
            },
            actor="olga",
        )
        statuses.set_status(
            index.db, session, "tp-demo", "archived", reason="read-only now", actor="olga"
        )
    audience = index.get("/_/oidc/audience").json()["audience"]
    run = GitHubRun(repository="octo/tp-demo", ref="refs/tags/v1.1", environment="pypi")
    minted = index.post(
        "/_/oidc/mint-token",
        content=json.dumps({"token": local_issuer.mint(audience, run.claims())}),
    )
    assert minted.status_code == 200, minted.text
    answer = index.upload(minted.json()["token"], build_wheel(tmp_path / "b", "tp-demo", "1.1"))
    assert answer.status_code == 403
    assert "Project 'tp-demo' is archived (reason: read-only now)" in answer.text
