"""``services/accounts.py``, ``issuers.py``, ``audience.py``, ``journal.py`` and
``projects.py`` on a real catalogue: users, passwords, tokens, the admin and disabled flags,
the issuer allow-list, the index's audience, the journal's pages, yanks and deletions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import delete

from tests.index.conftest import PASSWORD, LocalIndex
from trustyard.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthenticated
from trustyard.index.db.models import IndexSetting
from trustyard.index.services import (
    accounts,
    audience,
    issuers,
    journal,
    projects,
    provenance,
    publishers,
)
from trustyard.index.services.roles import HOST


@pytest.fixture(scope="module")
def index(shared_index: LocalIndex) -> LocalIndex:
    shared_index.create_user("ac-user")
    shared_index.create_user("ac-other")
    return shared_index


# -- accounts ----------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["90s", "15m", "12h", "30d", "2w"])
def test_durations(text: str) -> None:
    assert accounts.parse_duration(text) > timedelta(0)


@pytest.mark.parametrize("text", ["", "0d", "5y", "d", "-1d"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(InvalidInput):
        accounts.parse_duration(text)


def test_user_names_and_passwords(index: LocalIndex) -> None:
    with index.db.write() as session:
        for bad in ("", "-lead", "has space", "x" * 51):
            with pytest.raises(InvalidInput):
                accounts.create_user(session, bad, PASSWORD)
        with pytest.raises(Conflict):
            accounts.create_user(session, "AC-User", PASSWORD)
        with pytest.raises(InvalidInput):
            accounts.create_user(session, "ac-short", "short")
        with pytest.raises(NotFound):
            accounts.get_user(session, "nobody")
        assert accounts.find_user(session, "AC-USER") is not None
        user = accounts.get_user(session, "ac-user")
        assert accounts.check_password(user, PASSWORD)
        assert not accounts.check_password(user, "wrong")
        assert not accounts.check_password(None, PASSWORD)


def test_tokens(index: LocalIndex) -> None:
    with index.db.write() as session:
        projects.create_project(session, "ac-project", owner="ac-user")
        scoped = accounts.create_token(
            session,
            "ac-user",
            project="ac-project",
            expires_in=timedelta(days=1),
            description="ci",
        )
        wide = accounts.create_token(session, "ac-user")
        with pytest.raises(NotFound):
            accounts.create_token(session, "ac-user", project="ac-nothing")
    with index.db.write() as session:
        identity = accounts.authenticate_token(session, scoped)
        assert identity.username == "ac-user"
        assert identity.project_id is not None
        listed = accounts.list_tokens(session, "ac-user")
        assert {view.project for view in listed} == {"ac-project", None}
        assert not any(view.expired for view in listed)
        for bad in ("nonsense", wide[:-3] + "xyz"):
            with pytest.raises(Unauthenticated):
                accounts.authenticate_token(session, bad)
        token_id = wide.removeprefix("trustyard-").split(".")[0]
        accounts.revoke_token(session, "ac-user", token_id)
        accounts.revoke_token(session, "ac-user", token_id)  # twice: no second entry
        with pytest.raises(NotFound):
            accounts.revoke_token(session, "ac-other", token_id)
        with pytest.raises(NotFound):
            accounts.revoke_token(session, "ac-user", "f" * 24)
    with index.db.write() as session, pytest.raises(Unauthenticated, match="revoked"):
        accounts.authenticate_token(session, wide)
    with index.db.write() as session:
        assert accounts.revoke_all_tokens(session, "ac-user", actor=None) == 1


def test_admin_and_disabled_flags(index: LocalIndex) -> None:
    with index.db.write() as session:
        assert accounts.set_admin(session, "ac-other", admin=True, actor=None).is_admin
        assert not accounts.set_admin(session, "ac-other", admin=False, actor="x").is_admin
        token = accounts.create_token(session, "ac-other")
        accounts.set_disabled(session, "ac-other", disabled=True, actor=None)
        with pytest.raises(Conflict, match="already disabled"):
            accounts.set_disabled(session, "ac-other", disabled=True, actor=None)
        user = accounts.get_user(session, "ac-other")
        assert not accounts.check_password(user, PASSWORD)
    with index.db.write() as session, pytest.raises(Unauthenticated, match="disabled"):
        accounts.authenticate_token(session, token)
    with index.db.write() as session:
        accounts.set_disabled(session, "ac-other", disabled=False, actor=None)
        with pytest.raises(Conflict, match="already enabled"):
            accounts.set_disabled(session, "ac-other", disabled=False, actor=None)
        assert accounts.authenticate_token(session, token).username == "ac-other"


# -- issuers -----------------------------------------------------------------------------------

BAD_ISSUERS = [
    "",
    "https://" + "a" * 3000 + ".example",
    "https://exämple.com",
    "https://example.com/a b",
    "https://example.com:99999",
    "http://example.com",
    "https:///path",
    "https://example.com/",
    "https://10.0.0.1",
    "https://localhost",
]


@pytest.mark.parametrize("url", BAD_ISSUERS)
def test_bad_issuer_urls(url: str) -> None:
    with pytest.raises(InvalidInput):
        issuers.check_issuer_url(url, allow_private_address=False)


def test_issuer_allow_list(index: LocalIndex) -> None:
    url = "https://issuer.example.com"
    assert issuers.check_issuer_url("https://10.0.0.1", allow_private_address=True)
    assert issuers.check_issuer_url("http://127.0.0.1:8090", allow_private_address=True)
    with index.db.write() as session:
        with pytest.raises(issuers.IssuerNotAllowed):
            issuers.require_allowed(session, url)
        assert issuers.add_issuer(session, url, allow_private_address=False, actor=None)
        assert not issuers.add_issuer(session, url, allow_private_address=False, actor=None)
        assert not issuers.add_issuer(session, url, allow_private_address=True, actor="root")
        assert issuers.find_issuer(session, "https://" + "x" * 600) is None
        listed = {view.url: view for view in issuers.list_issuers(session)}
        assert listed[url].allow_private_address
        projects.create_project(session, "ac-issued", owner="ac-user")
        publishers.add_publisher(
            session,
            "ac-issued",
            "oidc",
            {"issuer": url, "claims": '{"sub": "x"}'},
            actor=HOST,
        )
    with index.db.write() as session, pytest.raises(Conflict, match="ac-issued"):
        issuers.remove_issuer(session, url, actor=None)
    with index.db.write() as session:
        (view,) = publishers.list_publishers(session, "ac-issued")
        publishers.remove_publisher(session, "ac-issued", view.id, actor=HOST)
        issuers.remove_issuer(session, url, actor=None)
        with pytest.raises(NotFound):
            issuers.remove_issuer(session, url, actor=None)


# -- the audience ------------------------------------------------------------------------------


def test_audience(index: LocalIndex) -> None:
    assert audience.index_audience(index.db, "pypi") == "pypi"
    own = audience.index_audience(index.db, None)
    assert own == index.ctx.audience
    assert own.startswith("trustyard-")
    assert audience.index_audience(index.db, None) == own


def test_an_audience_is_made_once_when_missing(index: LocalIndex) -> None:
    """A catalogue whose audience row is gone (restored from before it existed) gets a new
    one, kept for the next start."""
    with index.db.write() as session:
        session.execute(delete(IndexSetting).where(IndexSetting.name == audience.AUDIENCE_SETTING))
    made = audience.index_audience(index.db, None)
    assert made.startswith("trustyard-")
    assert made != index.ctx.audience
    assert audience.index_audience(index.db, None) == made


@pytest.mark.parametrize(
    ("publisher", "words"),
    [
        (
            {"kind": "GitHub", "repository": "o/r", "workflow": "r.yml", "environment": "pypi"},
            "GitHub o/r, workflow r.yml, environment pypi",
        ),
        (
            {"kind": "GitLab", "repository": "g/p", "workflow_filepath": ".gitlab-ci.yml"},
            "GitLab g/p, pipeline .gitlab-ci.yml",
        ),
        ({"kind": "Google", "email": "ci@example.com"}, "Google service account ci@example.com"),
        ({"kind": "Other"}, "Other"),
    ],
)
def test_provenance_publishers_in_words(publisher: dict[str, str], words: str) -> None:
    assert provenance.describe_publisher(publisher) == words


# -- projects and the journal ------------------------------------------------------------------


def test_projects(index: LocalIndex) -> None:
    with index.db.write() as session:
        with pytest.raises(InvalidInput):
            projects.create_project(session, "-bad-", owner="ac-user")
        projects.create_project(session, "ac-made", owner="ac-user")
        with pytest.raises(Conflict):
            projects.create_project(session, "AC_Made", owner="ac-user")
        with pytest.raises(NotFound):
            projects.get_project(session, "ac-never")
        project = projects.get_project(session, "ac-made")
        with pytest.raises(NotFound):
            projects.get_release(session, project, "1.0")
        with pytest.raises(NotFound):
            projects.delete_file(session, "nothing.whl", actor=HOST)
        with pytest.raises(Forbidden):
            projects.set_yanked(session, "ac-made", "1.0", yanked=True, reason="", actor="ac-other")


def test_journal_pages(index: LocalIndex) -> None:
    with index.db.write() as session:
        project = projects.create_project(session, "ac-journal", owner="ac-user")
        for n in range(5):
            journal.record(session, action=f"step {n}", actor="ac-user", project=project)
    with index.db.read() as session:
        assert journal.last_serial(session) >= 6
        first = journal.history_page(session, "ac-journal", limit=2)
        assert [e.action for e in first.entries] == ["step 4", "step 3"]
        assert first.newer is None
        assert first.older is not None
        older = journal.history_page(session, "ac-journal", before=first.older, limit=2)
        assert [e.action for e in older.entries] == ["step 2", "step 1"]
        back = journal.history_page(session, "ac-journal", after=older.newer, limit=2)
        assert [e.action for e in back.entries] == ["step 4", "step 3"]
        assert journal.history_page(session, "ac-journal", before=1).entries == []
        assert journal.history_page(session, None, limit=1).entries
        assert len(journal.project_history(session, "ac-journal")) == 6
        with pytest.raises(ValueError, match="not both"):
            journal.history_page(session, None, before=1, after=1)
        with pytest.raises(ValueError, match="limit"):
            journal.history_page(session, None, limit=0)
