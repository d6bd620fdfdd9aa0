"""``services/collaborators.py`` and ``services/roles.py`` on a real catalogue: adding,
changing and removing roles, the last owner, leaving, and what a removed user leaves behind."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy.orm import Session

from tests.index.conftest import LocalIndex
from trustyard.errors import Conflict, Forbidden, InvalidInput, NotFound
from trustyard.index.services import (
    accounts,
    collaborators,
    invitations,
    projects,
    publishers,
    roles,
)
from trustyard.index.services.roles import HOST, Permission, ProjectRole

ISSUER = "https://token.actions.githubusercontent.com"


@dataclass
class World:
    index: LocalIndex


@pytest.fixture(scope="module")
def world(shared_index: LocalIndex) -> World:
    index = shared_index
    for name in ("owner", "helper", "other"):
        index.create_user(f"co-{name}")
    with index.db.write() as session:
        projects.create_project(session, "co-project", owner="co-owner")
    return World(index)


def _people(world: World, project: str = "co-project") -> dict[str, str]:
    with world.index.db.read() as session:
        return {c.username: c.role for c in collaborators.list_collaborators(session, project)}


def _invited(session: Session, project: str, username: str, role: str, *, owner: str) -> None:
    """``owner`` invites ``username``, who accepts: how an owner adds a collaborator."""
    invitations.invite(session, project, username, role, actor=owner)
    invitations.accept(session, project, invitee=username)


def test_add_change_and_remove(world: World) -> None:
    db = world.index.db
    with db.write() as session:
        _invited(session, "co-project", "co-helper", "maintainer", owner="co-owner")
    assert _people(world) == {"co-owner": "owner", "co-helper": "maintainer"}
    with db.write() as session:
        project = projects.get_project(session, "co-project")
        helper = accounts.get_user(session, "co-helper")
        assert roles.roles_of(session, project, helper.id) == {ProjectRole.MAINTAINER}
        assert roles.may(session, project, "co-helper", Permission.UPLOAD)
        assert not roles.may(session, project, "co-helper", Permission.MANAGE_COLLABORATORS)
        assert not roles.may(session, project, "co-other", Permission.UPLOAD)
        assert roles.may(session, project, HOST, Permission.MANAGE_COLLABORATORS)
        with pytest.raises(Forbidden):
            roles.require(session, project, "co-helper", Permission.MANAGE_COLLABORATORS)
        with pytest.raises(Forbidden):
            roles.require_user(session, project, helper.id, Permission.DELETE_FILES)
        collaborators.change_role(session, "co-project", "co-helper", "owner", actor="co-owner")
        with pytest.raises(Conflict, match="already an owner"):
            collaborators.change_role(session, "co-project", "co-helper", "owner", actor="co-owner")
        collaborators.change_role(
            session, "co-project", "co-helper", "maintainer", actor="co-owner"
        )
        with pytest.raises(Conflict, match="already a maintainer"):
            invitations.invite(session, "co-project", "co-helper", "owner", actor="co-owner")
    with db.write() as session:
        preview = collaborators.removal_preview(
            session, "co-project", "co-helper", actor="co-owner"
        )
        assert preview.collaborator.username == "co-helper"
        collaborators.remove_collaborator(session, "co-project", "co-helper", actor="co-owner")
    assert _people(world) == {"co-owner": "owner"}


def test_refusals(world: World) -> None:
    with world.index.db.write() as session:
        with pytest.raises(InvalidInput, match="the role must be one of"):
            collaborators.add_collaborator(session, "co-project", "co-other", "boss", actor=HOST)
        with pytest.raises(NotFound, match="no user named"):
            collaborators.add_collaborator(session, "co-project", "nobody", "owner", actor=HOST)
        with pytest.raises(NotFound):
            collaborators.add_collaborator(session, "co-nothing", "co-other", "owner", actor=HOST)
        with pytest.raises(Forbidden):
            collaborators.add_collaborator(
                session, "co-project", "co-other", "owner", actor="co-other"
            )
        with pytest.raises(NotFound):
            collaborators.remove_collaborator(session, "co-project", "co-other", actor=HOST)
        with pytest.raises(NotFound):
            collaborators.remove_collaborator(session, "co-project", "nobody", actor=HOST)


def test_the_last_owner_stays_unless_the_host_forces(world: World) -> None:
    db = world.index.db
    with db.write() as session:
        projects.create_project(session, "co-lonely", owner="co-owner")
    with db.write() as session:
        with pytest.raises(Conflict, match="last owner"):
            collaborators.remove_collaborator(session, "co-lonely", "co-owner", actor="co-owner")
        with pytest.raises(Conflict, match="--force"):
            collaborators.removal_preview(session, "co-lonely", "co-owner", actor=HOST)
        with pytest.raises(Conflict, match="last owner"):
            collaborators.change_role(
                session, "co-lonely", "co-owner", "maintainer", actor="co-owner"
            )
        change = collaborators.set_role(
            session, "co-lonely", "co-owner", None, actor=HOST, force=True
        )
    assert "remove owner co-owner" in change.action
    assert _people(world, "co-lonely") == {}


def test_leaving_and_what_is_left_behind(world: World) -> None:
    db = world.index.db
    with db.write() as session:
        projects.create_project(session, "co-shared", owner="co-owner")
        _invited(session, "co-shared", "co-other", "owner", owner="co-owner")
        # co-other sets things up for the project, then leaves
        added = publishers.add_publisher(
            session,
            "co-shared",
            "github",
            {"repository": "co/shared", "workflow": "release.yml"},
            actor="co-other",
        )
        _invited(session, "co-shared", "co-helper", "maintainer", owner="co-other")
        token = accounts.create_token(session, "co-other", project="co-shared")
        wide = accounts.create_token(session, "co-other")
    token_id = token.removeprefix("trustyard-").split(".")[0]
    with db.write() as session:
        project = projects.get_project(session, "co-shared")
        user = accounts.get_user(session, "co-other")
        left = collaborators.leftovers_of(session, project, user)
        assert [p.id for p in left.publishers] == [added.id]
        assert [t.id for t in left.tokens] == [token_id]
        assert left.wide_tokens == 1
        assert [c.username for c in left.collaborators] == ["co-helper"]
        with pytest.raises(NotFound, match="added no publisher"):
            collaborators.remove_collaborator(
                session, "co-shared", "co-other", actor="co-other", publisher_ids=[999999]
            )
        with pytest.raises(NotFound, match="no live token"):
            collaborators.remove_collaborator(
                session, "co-shared", "co-other", actor="co-other", token_ids=["f" * 24]
            )
    with db.write() as session:
        removed = collaborators.remove_collaborator(
            session,
            "co-shared",
            "co-other",
            actor="co-other",
            publisher_ids=[added.id],
            token_ids=[token_id],
        )
    assert [p.id for p in removed.publishers] == [added.id]
    assert _people(world, "co-shared") == {"co-owner": "owner", "co-helper": "maintainer"}
    assert wide.startswith("trustyard-")


def test_set_role_adds_changes_and_removes(world: World) -> None:
    db = world.index.db
    with db.write() as session:
        projects.create_project(session, "co-set", owner="co-owner")
        assert (
            "add maintainer"
            in collaborators.set_role(
                session, "co-set", "co-other", "maintainer", actor=HOST
            ).action
        )
        assert (
            "from maintainer to owner"
            in collaborators.set_role(session, "co-set", "co-other", "owner", actor=HOST).action
        )
        accounts.create_token(session, "co-other", project="co-set")
        change = collaborators.set_role(
            session,
            "co-set",
            "co-other",
            None,
            actor=HOST,
            remove_publishers=True,
            revoke_tokens=True,
        )
        assert change.removed is not None
        assert len(change.removed.tokens) == 1
        with pytest.raises(NotFound, match="no collaborator"):
            collaborators.set_role(session, "co-set", "co-other", None, actor=HOST)
