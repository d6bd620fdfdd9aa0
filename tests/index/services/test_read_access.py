"""Who may read a private project (issue 20): services/read_access.py on each backend, through
the real app in-process and the services the admin CLI calls.

The SQLite run is in the fast tier; the PostgreSQL run starts a real server (``backends``),
which is what checks the search statement's filter on PostgreSQL's form of it.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from anyio.from_thread import BlockingPortal

from tests.dists.builders import build_wheel
from tests.index.conftest import LocalIndex, basic
from trustyard.cli.main import main
from trustyard.errors import Conflict, Forbidden, InvalidInput, NotFound
from trustyard.index.db.models import Project, Publisher, Token, TokenPublisher
from trustyard.index.services import accounts, backup, journal, read_access
from trustyard.index.services.read_access import ANONYMOUS, CredentialsRequired, Reader
from trustyard.index.services.roles import HOST

FORMAT_4_EXPORT = Path(__file__).parents[2] / "data" / "exports" / "format4-schema0020"


@pytest.fixture
def idx(
    database_url_of_each_backend: str, tmp_path: Path, portal: BlockingPortal
) -> Iterator[LocalIndex]:
    """An index on each backend: ``olga`` owns ``demo`` (private) and ``other`` (public),
    ``mia`` maintains ``demo``, ``carol`` has no role."""
    local = LocalIndex(
        tmp_path / "data",
        portal,
        database=database_url_of_each_backend,
        search_rate_per_address="1000/1s",
    )
    for user in ("olga", "mia", "carol"):
        local.create_user(user)
    token = local.create_token("olga")
    for name in ("demo", "other"):
        wheel = build_wheel(tmp_path / name, name, "1.0")  # "The <name> test package"
        assert local.upload(token, wheel).status_code == 200
    main(["admin", "project", "role", "demo", "mia", "maintainer", *_where(local)])
    assert main(["admin", "project", "visibility", "demo", "private", *_where(local)]) == 0
    yield local
    local.close()


def _where(idx: LocalIndex) -> list[str]:
    return ["--data", str(idx.data), "--database", idx.settings.database_url]


def _status(idx: LocalIndex, path: str, token: str | None = None) -> int:
    headers = {"Authorization": basic(token)} if token else {}
    return idx.get(path, headers=headers).status_code


def test_collaborators_read_a_private_project_and_nobody_else(idx: LocalIndex) -> None:
    olga, mia, carol = (idx.create_token(user) for user in ("olga", "mia", "carol"))
    for path in ("/simple/demo/", "/pypi/demo/json", "/project/demo/"):
        assert _status(idx, path, olga) == 200, path
        assert _status(idx, path, mia) == 200, path
        assert _status(idx, path, carol) == 403, path
    assert _status(idx, "/simple/demo/") == 401
    assert _status(idx, "/simple/other/") == 200


def test_listings_and_search_leave_out_what_the_reader_may_not_read(idx: LocalIndex) -> None:
    """The search statement differs per backend: its filter is checked on both."""
    olga, carol = idx.create_token("olga"), idx.create_token("carol")
    for path in ("/search/?q=demo", "/search/?q=package", "/search/?q=de", "/", "/simple/"):
        for token, shown in ((None, False), (carol, False), (olga, True)):
            headers = {"Authorization": basic(token)} if token else {}
            answer = idx.get(path, headers=headers)
            assert answer.status_code == 200, path
            assert ('demo/"' in answer.text) is shown, (path, token)  # a link to the project
            if path not in ("/search/?q=demo", "/search/?q=de"):
                assert 'other/"' in answer.text, path


def test_the_rule_for_each_kind_of_reader(idx: LocalIndex) -> None:
    idx.create_user("root", admin=True)
    with idx.db.write() as session:
        demo = session.query(Project).filter_by(normalized_name="demo").one()
        other = session.query(Project).filter_by(normalized_name="other").one()
        ids = {u: accounts.get_user(session, u).id for u in ("olga", "mia", "carol", "root")}

        def token(user: str, project: str | None = None) -> Reader:
            return read_access.token_reader(
                session, accounts.create_token(session, user, project=project)
            )

        assert not read_access.can_read(session, demo, ANONYMOUS)
        assert read_access.can_read(session, other, ANONYMOUS)
        assert read_access.can_read(session, demo, token("olga"))
        assert read_access.can_read(session, demo, token("olga", "demo"))
        assert not read_access.can_read(session, demo, token("olga", "other"))
        assert read_access.can_read(session, demo, token("mia"))
        assert not read_access.can_read(session, demo, token("carol"))
        assert read_access.can_read(session, demo, token("root"))
        assert read_access.can_read(session, demo, read_access.user_reader(ids["mia"], "mia"))
        assert read_access.can_read(session, demo, read_access.user_reader(ids["root"], "root"))
        carol = read_access.user_reader(ids["carol"], "carol")
        assert not read_access.can_read(session, demo, carol)
        assert read_access.hidden_from(session, carol) == {demo.id}
        assert read_access.hidden_from(session, token("olga")) == frozenset()
        with pytest.raises(CredentialsRequired) as anonymous:
            read_access.require_read(session, demo, ANONYMOUS)
        assert anonymous.value.status == 401
        with pytest.raises(Forbidden, match="carol may not read the private project demo"):
            read_access.require_read(session, demo, carol)


def test_a_trusted_publishing_token_reads_the_projects_of_its_publishers(
    idx: LocalIndex,
) -> None:
    """A CI identity that may publish ``demo`` may install it (its tests depend on it)."""
    secret = secrets.token_urlsafe(32)
    token_id = secrets.token_hex(12)
    now = accounts.utcnow()
    with idx.db.write() as session:
        demo = session.query(Project).filter_by(normalized_name="demo").one()
        publisher = Publisher(
            project_id=demo.id,
            kind="github",
            issuer="https://token.actions.githubusercontent.com",
            lookup="octo/demo",
            config={"repository": "octo/demo", "workflow": "release.yml"},
            added_by="olga",
            created=now,
        )
        session.add(publisher)
        session.add(
            Token(
                id=token_id,
                user_id=None,
                publisher_identity="github:octo/demo@https://token.actions.githubusercontent.com",
                secret_hash=accounts.secret_hash(secret),
                description="",
                created=now,
                expires=now + timedelta(minutes=15),
                revoked=False,
            )
        )
        session.flush()
        session.add(TokenPublisher(token_id=token_id, publisher_id=publisher.id))
    minted = f"{accounts.TOKEN_PREFIX}{token_id}.{secret}"
    assert _status(idx, "/simple/demo/", minted) == 200
    with idx.db.write() as session:
        session.query(TokenPublisher).delete()  # the publisher removed: the access goes with it
    assert _status(idx, "/simple/demo/", minted) == 403


def test_a_disabled_users_tokens_read_nothing(idx: LocalIndex) -> None:
    mia = idx.create_token("mia")
    with idx.db.write() as session:
        accounts.set_disabled(session, "mia", disabled=True, actor=None)
    # A public index reads on as for anonymous (PyPI ignores bad credentials); the private
    # project refuses, and says why the token was not taken.
    assert idx.get("/simple/other/", headers={"Authorization": basic(mia)}).status_code == 200
    answer = idx.get("/simple/demo/", headers={"Authorization": basic(mia)})
    assert answer.status_code == 401
    assert "disabled" in answer.text


def test_set_visibility_rules(idx: LocalIndex) -> None:
    owners_only = "only an owner of demo can make it private or public"
    with idx.db.write() as session, pytest.raises(Forbidden, match=owners_only):
        read_access.set_visibility(session, "demo", "public", actor="mia")
    with idx.db.write() as session, pytest.raises(InvalidInput, match="public or private"):
        read_access.set_visibility(session, "demo", "hidden", actor="olga")
    with idx.db.write() as session, pytest.raises(Conflict, match="demo is already private"):
        read_access.set_visibility(session, "Demo", "private", actor="olga")
    with idx.db.write() as session, pytest.raises(NotFound):
        read_access.set_visibility(session, "nothere", "private", actor=HOST)
    with idx.db.write() as session:
        read_access.set_visibility(session, "demo", "public", actor="olga")
    with idx.db.read() as session:
        entries = [
            (e.actor, e.action)
            for e in journal.project_history(session, "demo")
            if e.action.startswith("set visibility")
        ]
    assert entries == [("olga", "set visibility public"), ("admin", "set visibility private")]
    assert _status(idx, "/simple/demo/") == 200


def test_admin_cli(idx: LocalIndex, capsys: pytest.CaptureFixture[str]) -> None:
    where = _where(idx)
    capsys.readouterr()
    assert main(["admin", "project", "visibility", "Demo", *where]) == 0
    assert capsys.readouterr().out == "private\n"
    assert main(["admin", "project", "visibility", "demo", "private", *where]) == 1
    assert "demo is already private" in capsys.readouterr().err
    assert main(["admin", "project", "visibility", "nothere", "public", *where]) == 1
    assert "no project named 'nothere'" in capsys.readouterr().err
    assert main(["admin", "project", "visibility", "demo", "public", *where]) == 0
    assert "demo: public" in capsys.readouterr().err


def test_a_private_project_stays_private_through_export_and_import(
    idx: LocalIndex, tmp_path: Path, portal: BlockingPortal
) -> None:
    target = tmp_path / "export"
    backup.export_index(idx.db, idx.ctx.storage, target)
    manifest = json.loads((target / "manifest.json").read_text())
    assert manifest["version"] == backup.FORMAT_VERSION
    restored = LocalIndex(tmp_path / "restored", portal)
    try:
        backup.import_index(restored.db, restored.ctx.storage, target)
        assert _status(restored, "/simple/demo/") == 401
        assert _status(restored, "/simple/other/") == 200
    finally:
        restored.close()


@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
def test_an_export_made_before_visibility_imports_every_project_public(
    tmp_path: Path, portal: BlockingPortal
) -> None:
    restored = LocalIndex(tmp_path / "restored", portal)
    try:
        backup.import_index(restored.db, restored.ctx.storage, FORMAT_4_EXPORT)
        with restored.db.read() as session:
            rows = session.query(Project.normalized_name, Project.visibility).all()
        assert rows
        assert {visibility for _name, visibility in rows} == {"public"}
    finally:
        restored.close()
