"""Team reader policies (issue 20, Trusted Reading per team): a CI identity named by a team's
policy mints a read token that reads every project the team holds a role on, decided at each
read, so a project given to the team brings the access and a project leaving the team or the
organisation takes it along; nothing outside the team is readable. Real app in process, the
real development issuer, real reads of private projects' pages."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tests.index.conftest import LocalIndex, LocalIssuer
from trustyard.errors import Conflict, Forbidden
from trustyard.index.db.models import JournalEntry
from trustyard.index.services import organisations, read_access, reader_policies, teams
from trustyard.index.services.roles import HOST
from trustyard.oidc.devclaims import GitHubRun

ORG, TEAM = "TeamRead", "CI"
PROJECTS = ("trt-a", "trt-b", "trt-outside")


@pytest.fixture
def world(
    local_index: LocalIndex, local_issuer: LocalIssuer, wheels: Callable[[str, str], Path]
) -> tuple[LocalIndex, LocalIssuer, str]:
    index = local_index
    index.trust_issuer(local_issuer.url)
    for user in ("trt-owner", "trt-manager"):
        index.create_user(user)
    owner = index.create_token("trt-owner")
    for name in PROJECTS:
        assert index.upload(owner, wheels(name, "0.1")).status_code == 200
    with index.db.write() as session:
        for name in PROJECTS:
            read_access.set_visibility(session, name, "private", actor=HOST)
        organisations.create_organisation(session, ORG, "trt-owner", actor=HOST)
        organisations.invite(session, ORG, "trt-manager", "manager", actor=HOST)
        organisations.accept(session, ORG, invitee="trt-manager")
        for name in ("trt-a", "trt-b"):
            organisations.add_project(session, ORG, name, actor="trt-owner")
        teams.create_team(session, ORG, TEAM, actor="trt-owner")
        teams.set_team_role(session, ORG, TEAM, "trt-a", "reader", actor="trt-owner")
        reader_policies.add_team_reader_policy(
            session,
            ORG,
            TEAM,
            "github",
            {"repository": "octo/teamci", "workflow": "ci.yml", "issuer": local_issuer.url},
            actor="trt-owner",
        )
    read = index.get("/_/oidc/read-audience").json()["audience"]
    return index, local_issuer, read


def _mint(world: tuple[LocalIndex, LocalIssuer, str], repository: str) -> httpx.Response:
    index, issuer, audience = world
    run = GitHubRun(repository=repository, workflow="ci.yml", ref="refs/heads/main")
    claims: dict[str, Any] = run.claims()
    return index.post(
        "/_/oidc/mint-read-token",
        content=json.dumps({"token": issuer.mint(audience, claims)}),
    )


def _status(index: LocalIndex, token: str, project: str) -> int:
    return index.get(f"/simple/{project}/", auth=("__token__", token)).status_code


def _reads(index: LocalIndex, token: str) -> dict[str, int]:
    """Each project's answer to the token; the index listing (``read_access.hidden_from``, one
    statement) must show exactly the projects the token reads (``can_read``, per project)."""
    statuses = {name: _status(index, token, name) for name in PROJECTS}
    listing = index.get(
        "/simple/",
        headers={"Accept": "application/vnd.pypi.simple.v1+json"},
        auth=("__token__", token),
    ).json()
    listed = {entry["name"] for entry in listing["projects"]} & set(PROJECTS)
    assert listed == {name for name, status in statuses.items() if status == 200}
    return statuses


def test_a_team_policy_reads_the_teams_projects_as_they_change(
    world: tuple[LocalIndex, LocalIssuer, str],
) -> None:
    index = world[0]
    answer = _mint(world, "octo/teamci")
    assert answer.status_code == 200, answer.text
    token = answer.json()["token"]
    assert _reads(index, token) == {"trt-a": 200, "trt-b": 403, "trt-outside": 403}
    with index.db.read() as session:
        minted = session.scalars(
            select(JournalEntry.action).where(JournalEntry.project_name == "trt-a")
        ).all()
    assert any("trusted reading: minted read token" in action for action in minted)

    # A role given to the team brings the project, with no new token.
    with index.db.write() as session:
        teams.set_team_role(session, ORG, TEAM, "trt-b", "maintainer", actor="trt-owner")
    assert _reads(index, token) == {"trt-a": 200, "trt-b": 200, "trt-outside": 403}
    # Taking the role away, or the project out of the organisation, takes the access along.
    with index.db.write() as session:
        teams.set_team_role(session, ORG, TEAM, "trt-b", None, actor="trt-owner")
        organisations.remove_project(session, ORG, "trt-a", actor="trt-owner")
    assert _reads(index, token) == {"trt-a": 403, "trt-b": 403, "trt-outside": 403}
    # Back in the organisation, the team's old role is gone with it (remove_project drops it).
    with index.db.write() as session:
        organisations.add_project(session, ORG, "trt-a", actor="trt-owner")
        teams.set_team_role(session, ORG, TEAM, "trt-a", "reader", actor="trt-owner")
    assert _status(index, token, "trt-a") == 200
    # Removing the policy ends every read through it.
    with index.db.write() as session:
        [policy] = reader_policies.list_team_reader_policies(session, ORG, TEAM, actor="trt-owner")
        reader_policies.remove_team_reader_policy(session, ORG, TEAM, policy.id, actor="trt-owner")
    assert _reads(index, token) == {"trt-a": 403, "trt-b": 403, "trt-outside": 403}
    # With the policy gone, the identity mints nothing more.
    assert _mint(world, "octo/teamci").status_code == 422


def test_another_identity_reads_nothing_and_deleting_the_team_ends_the_access(
    world: tuple[LocalIndex, LocalIssuer, str],
) -> None:
    index = world[0]
    assert _mint(world, "octo/stranger").status_code == 422
    token = _mint(world, "octo/teamci").json()["token"]
    assert _status(index, token, "trt-a") == 200
    with index.db.write() as session:
        teams.delete_team(session, ORG, TEAM, actor="trt-owner")
    assert _status(index, token, "trt-a") == 403


def test_only_the_organisations_owners_change_a_teams_policies(
    world: tuple[LocalIndex, LocalIssuer, str],
) -> None:
    index, issuer, _ = world
    config = {"repository": "octo/other", "workflow": "ci.yml", "issuer": issuer.url}
    with index.db.write() as session:
        # A manager may not own every project the team reads: seeing is all they may do.
        with pytest.raises(Forbidden, match="only an owner"):
            reader_policies.add_team_reader_policy(
                session, ORG, TEAM, "github", config, actor="trt-manager"
            )
        assert (
            len(reader_policies.list_team_reader_policies(session, ORG, TEAM, actor="trt-manager"))
            == 1
        )
        with pytest.raises(Forbidden):
            reader_policies.list_team_reader_policies(session, ORG, TEAM, actor="someone")
        with pytest.raises(Conflict, match="already has this reader policy"):
            reader_policies.add_team_reader_policy(
                session,
                ORG,
                TEAM,
                "github",
                {"repository": "octo/teamci", "workflow": "ci.yml", "issuer": issuer.url},
                actor="trt-owner",
            )
