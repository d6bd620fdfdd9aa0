"""``read_access.hidden_from`` (one statement) against ``can_read`` (the rule), project by project.

The matrix of ``test_private_reads.py`` holds one private project; here many private projects
are readable in different ways (a direct role of each kind, a team's role, an organisation's
owners, a Trusted Publishing publisher, a Trusted Reading policy, an admin, a disabled admin,
tokens scoped to one project), so a reader who may read some and not others shows whether the
statement leaves out exactly the projects the rule refuses.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from anyio.from_thread import BlockingPortal
from sqlalchemy import select

from tests.index.conftest import LocalIndex, LocalIssuer
from trustyard.index.db.models import Project, User
from trustyard.index.services import (
    accounts,
    collaborators,
    organisations,
    projects,
    publishers,
    read_access,
    reader_policies,
    teams,
)
from trustyard.index.services.roles import HOST, ProjectRole
from trustyard.oidc.devclaims import GitHubRun

PRIVATE = [
    "owned",  # olga owns it
    "maintained",  # olga owns it, mia maintains it
    "read-directly",  # olga owns it, rita is its Reader
    "of-corp",  # of the organisation corp, owned by oscar
    "team-read",  # of corp, whose team "auditors" (tim) reads it
    "published",  # olga owns it; a Trusted Publishing publisher publishes it
    "ci-read",  # olga owns it; a Trusted Reading policy reads it
    "nobodys",  # olga owns it; no one else has anything to do with it
]
PUBLIC = ["open-a", "open-b"]


def _mint(index: LocalIndex, issuer: LocalIssuer, path: str, audience: str, repo: str) -> str:
    claims = GitHubRun(repository=repo, workflow="ci.yml", ref="refs/heads/main").claims()
    answer = index.post(path, content=json.dumps({"token": issuer.mint(audience, claims)}))
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["token"]
    return token


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    portal: BlockingPortal,
    local_issuer: LocalIssuer,
) -> Iterator[tuple[LocalIndex, dict[str, read_access.Reader]]]:
    """The projects and readers above, on SQLite (fast tier) and PostgreSQL (slow tier)."""
    catalogue = {}
    if request.param == "postgresql":
        catalogue["database"] = request.getfixturevalue("postgres_server").new_database()
    index = LocalIndex(tmp_path_factory.mktemp("hidden") / "data", portal, **catalogue)
    for user in ("olga", "mia", "rita", "oscar", "tim", "carl"):
        index.create_user(user)
    index.create_user("adm", admin=True)
    index.create_user("gone", admin=True)
    index.trust_issuer(local_issuer.url)
    config = {"workflow": "ci.yml", "issuer": local_issuer.url}
    with index.db.write() as session:
        for name in PUBLIC + [n for n in PRIVATE if n not in ("of-corp", "team-read")]:
            projects.create_project(session, name, owner="olga")
        for name in ("of-corp", "team-read"):
            projects.create_project(session, name, owner="oscar")
        collaborators.add_collaborator(session, "maintained", "mia", "maintainer", actor=HOST)
        collaborators.add_collaborator(session, "read-directly", "rita", "reader", actor=HOST)
        organisations.create_organisation(session, "corp", "oscar", actor=HOST)
        organisations.invite(session, "corp", "tim", "member", actor=HOST)
        organisations.accept(session, "corp", invitee="tim")
        teams.create_team(session, "corp", "auditors", actor=HOST)
        teams.add_member(session, "corp", "auditors", "tim", actor=HOST)
        for name in ("of-corp", "team-read"):
            organisations.add_project(session, "corp", name, actor=HOST)
        teams.set_team_role(
            session, "corp", "auditors", "team-read", ProjectRole.READER.value, actor=HOST
        )
        publishers.add_publisher(
            session, "published", "github", {"repository": "octo/pub", **config}, actor=HOST
        )
        reader_policies.add_reader_policy(
            session, "ci-read", "github", {"repository": "octo/ci", **config}, actor=HOST
        )
        for name in PRIVATE:
            read_access.set_visibility(session, name, "private", actor=HOST)
        accounts.set_disabled(session, "gone", disabled=True, actor=None)
    tokens = {
        "olga": index.create_token("olga"),
        "olga scoped to owned": index.create_token("olga", project="owned"),
        "olga scoped to open-a": index.create_token("olga", project="open-a", read_only=True),
        "mia": index.create_token("mia"),
        "rita": index.create_token("rita", read_only=True),
        "oscar": index.create_token("oscar"),
        "tim": index.create_token("tim"),
        "carl": index.create_token("carl"),
        "adm": index.create_token("adm"),
        "published by CI": _mint(
            index, local_issuer, "/_/oidc/mint-token", index.ctx.audience, "octo/pub"
        ),
        "read by CI": _mint(
            index,
            local_issuer,
            "/_/oidc/mint-read-token",
            index.get("/_/oidc/read-audience").json()["audience"],
            "octo/ci",
        ),
    }
    with index.db.read() as session:
        readers = {who: read_access.token_reader(session, t) for who, t in tokens.items()}
        gone = session.scalar(select(User.id).where(User.username == "gone"))
    assert gone is not None
    readers["anonymous"] = read_access.ANONYMOUS
    readers["disabled admin signed in"] = read_access.user_reader(gone, "gone")
    yield index, readers
    index.close()


# What each reader may read of the private projects (the rule's answers, written out).
READS = {
    "anonymous": set(),
    "olga": {"owned", "maintained", "read-directly", "published", "ci-read", "nobodys"},
    "olga scoped to owned": {"owned"},
    "olga scoped to open-a": set(),
    "mia": {"maintained"},
    "rita": {"read-directly"},
    "oscar": {"of-corp", "team-read"},
    "tim": {"team-read"},
    "carl": set(),
    "adm": set(PRIVATE),
    "disabled admin signed in": set(),
    "published by CI": {"published"},
    "read by CI": {"ci-read"},
}


@pytest.mark.parametrize("who", sorted(READS))
def test_hidden_from_leaves_out_exactly_what_can_read_refuses(
    world: tuple[LocalIndex, dict[str, read_access.Reader]], who: str
) -> None:
    index, readers = world
    reader = readers[who]
    with index.db.read() as session:
        everything = session.scalars(select(Project)).all()
        refused = {p.id for p in everything if not read_access.can_read(session, p, reader)}
        assert read_access.hidden_from(session, reader) == refused
        names = {p.name for p in everything if p.id in refused}
    assert names == set(PRIVATE) - READS[who]
