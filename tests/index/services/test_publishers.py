"""``services/publishers.py`` on a real catalogue: each kind's configuration checks, the
allow-list, pending publishers (limit, overlap, taken names) and removal rules."""

from __future__ import annotations

import pytest

from tests.index.conftest import LocalIndex
from trustyard.errors import Conflict, Forbidden, InvalidInput, NotFound
from trustyard.index.services import issuers, projects, publishers
from trustyard.index.services.roles import HOST

GITHUB = "https://token.actions.githubusercontent.com"
GITLAB = "https://gitlab.com"


@pytest.fixture(scope="module")
def index(shared_index: LocalIndex) -> LocalIndex:
    shared_index.create_user("pb-owner")
    shared_index.create_user("pb-other")
    with shared_index.db.write() as session:
        projects.create_project(session, "pb-project", owner="pb-owner")
        for url in (GITHUB, GITLAB, "https://accounts.google.com"):
            issuers.add_issuer(session, url, allow_private_address=False, actor=None)
    return shared_index


BAD_CONFIGS: list[tuple[str, dict[str, str], str]] = [
    ("nope", {}, "unknown publisher kind"),
    ("oidc", {"claims": '{"sub": "x"}'}, "need --issuer"),
    ("github", {"repository": "a/b", "workflow": "r.yml", "issuer": "http://x.test"}, "https"),
    ("github", {"repository": "a/b", "workflow": "r.yml", "issuer": GITHUB + "/"}, "end with"),
    ("github", {"repository": "ab", "workflow": "r.yml"}, "OWNER/REPO"),
    ("github", {"repository": "a/b", "workflow": "dir/r.yml"}, "file name"),
    ("github", {"repository": "a/b"}, "workflow"),
    ("gitlab", {"project": "alone", "workflow_path": ".gitlab-ci.yml"}, "NAMESPACE/PROJECT"),
    ("oidc", {"issuer": GITHUB, "claims": "{}"}, "at least one"),
    ("github", {"repository": "a/b", "workflow": "r.yml", "issuer": "https://x.test"}, "x.test"),
]


@pytest.mark.parametrize(("kind", "config", "message"), BAD_CONFIGS)
def test_bad_configurations(
    index: LocalIndex, kind: str, config: dict[str, str], message: str
) -> None:
    with index.db.write() as session, pytest.raises(InvalidInput, match=message):
        publishers.add_publisher(session, "pb-project", kind, config, actor="pb-owner")


def test_each_kind_is_listed_and_removed(index: LocalIndex) -> None:
    with index.db.write() as session:
        publishers.add_publisher(
            session,
            "pb-project",
            "github",
            {"repository": "pb/project", "workflow": "release.yml", "environment": "pypi"},
            actor="pb-owner",
        )
        publishers.add_publisher(
            session,
            "pb-project",
            "gitlab",
            {"project": "pb/project", "workflow_path": "ci.yml"},
            actor="pb-owner",
        )
        publishers.add_publisher(
            session, "pb-project", "google", {"email": "ci@example.com"}, actor=HOST
        )
        with pytest.raises(Forbidden):
            publishers.add_publisher(
                session, "pb-project", "google", {"email": "x@example.com"}, actor="pb-other"
            )
    with index.db.write() as session:
        listed = publishers.list_publishers(session, "pb-project")
        assert {view.kind for view in listed} == {"github", "gitlab", "google"}
        assert any("environment pypi" in view.description for view in listed)
        with pytest.raises(NotFound):
            publishers.list_publishers(session, "pb-nothing")
        with pytest.raises(NotFound):
            publishers.remove_publisher(session, "pb-project", 999999, actor="pb-owner")
        with pytest.raises(NotFound):
            publishers.remove_publisher(session, "pb-nothing", listed[0].id, actor="pb-owner")
        with pytest.raises(Forbidden):
            publishers.remove_publisher(session, "pb-project", listed[0].id, actor="pb-other")
        for view in listed:
            publishers.remove_publisher(session, "pb-project", view.id, actor="pb-owner")
        assert publishers.list_publishers(session, "pb-project") == []


def test_pending_publishers(index: LocalIndex) -> None:
    config = {"repository": "pb/future", "workflow": "release.yml"}
    with index.db.write() as session:
        with pytest.raises(InvalidInput, match="not a valid project name"):
            publishers.add_pending_publisher(
                index.db, session, "-bad-", "github", config, owner="pb-other", limit=2
            )
        with pytest.raises(Conflict, match="already exists"):
            publishers.add_pending_publisher(
                index.db, session, "pb-project", "github", config, owner="pb-other", limit=2
            )
        with pytest.raises(Conflict, match="more than 0"):
            publishers.add_pending_publisher(
                index.db, session, "pb-future", "github", config, owner="pb-other", limit=0
            )
        first = publishers.add_pending_publisher(
            index.db, session, "pb-future", "github", config, owner="pb-other", limit=2
        )
    with index.db.write() as session:
        with pytest.raises(Conflict, match="already been registered"):
            publishers.add_pending_publisher(
                index.db, session, "pb-future", "github", config, owner="pb-owner", limit=2
            )
        with pytest.raises(Conflict, match="different project name"):
            publishers.add_pending_publisher(
                index.db, session, "pb-elsewhere", "github", config, owner="pb-owner", limit=2
            )
        (view,) = publishers.list_publishers(session, "pb-future")
        assert view.pending
        with pytest.raises(NotFound):
            publishers.remove_pending_publisher(session, first.id, actor="pb-owner")
        # the host may remove a pending publisher by the name it would create
        publishers.remove_publisher(session, "pb-future", first.id, actor=HOST)
        with pytest.raises(NotFound):
            publishers.remove_pending_publisher(session, first.id, actor="pb-other")
    with pytest.raises(InvalidInput, match="unknown publisher kind"):
        publishers.kind_of("svn")
