"""Project roles as PyPI's (issue 14, finding 3): an owner manages publishers, collaborators,
yanks and deletions; a maintainer uploads only. Removing a collaborator shows what they set up
(the publishers they registered, their tokens for the project) and removes it in one step, so
nothing they planted keeps publishing. Both backends; a real index, a real OIDC issuer, the real
admin CLI, and the web pages over HTTP.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.conftest import IndexServer, start_index
from tests.dists.builders import build_wheel
from tests.index.conftest import Answer, request, snapshot, upload_file
from tests.index.web.conftest import accept_invitation, signed_in
from tests.oidc.conftest import DevIssuer, start_dev_issuer
from tests.services import Backend
from trustyard.errors import Forbidden
from trustyard.index.context import IndexContext, open_index
from trustyard.index.db.models import File
from trustyard.index.services import collaborators, invitations, projects, publishers, roles
from trustyard.oidc.devclaims import GitHubRun
from trustyard.oidc.devkeys import sign
from trustyard.settings import load_settings

PROJECT = "roles-demo"
MANAGE = f"/manage/project/{PROJECT}/"


@dataclass
class World:
    index: IndexServer
    issuer: DevIssuer
    tmp: Path
    olga: str  # the owner's user-wide token
    mia: str  # the maintainer's user-wide token


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, backend: Backend) -> Iterator[World]:
    """``roles-demo`` 1.0, uploaded by its owner olga; mia is its maintainer (granted by the
    host); carl, oscar and pia have no role yet."""
    tmp = tmp_path_factory.mktemp("roles")
    issuer = start_dev_issuer(tmp / "issuer")
    index = start_index(tmp / "data", backend=backend)
    try:
        index.trust_issuer(issuer.url)
        for user in ("olga", "mia", "carl", "oscar", "pia"):
            index.create_user(user)
        olga = index.create_token("olga")
        wheel = build_wheel(tmp / "first", PROJECT, "1.0")
        assert upload_file(index, olga, wheel, PROJECT, "1.0").status == 200
        index.cli("admin", "project", "role", PROJECT, "mia", "maintainer")
        yield World(index, issuer, tmp, olga, index.create_token("mia"))
    finally:
        index.stop()
        issuer.stop()


@pytest.fixture
def opened(world: World) -> Iterator[IndexContext]:
    """The index's catalogue and store, opened beside its server as the admin CLI opens them."""
    ctx = open_index(load_settings({"data_dir": world.index.data}), migrate=False)
    yield ctx
    ctx.db.dispose()


def _upload(world: World, token: str, version: str, name: str = PROJECT) -> Answer:
    wheel = build_wheel(world.tmp / f"{name}-{version}-{uuid.uuid4().hex[:6]}", name, version)
    return upload_file(world.index, token, wheel, name, version)


def _oidc_token(world: World, repository: str) -> str:
    """A GitHub Actions ID token for ``repository``'s release.yml, signed by the dev issuer."""
    run = GitHubRun(repository=repository, workflow="release.yml", ref="refs/tags/v7.0")
    now = int(time.time())
    claims: dict[str, Any] = {
        **run.claims(),
        "iss": world.issuer.url,
        "aud": world.index.audience,
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        "jti": str(uuid.uuid4()),
    }
    return sign(claims, world.issuer.key_path)


def _mint(world: World, repository: str) -> Answer:
    body = json.dumps({"token": _oidc_token(world, repository)}).encode()
    return request(
        world.index, "POST", "/_/oidc/mint-token", body, {"Content-Type": "application/json"}
    )


def _roles(world: World, project: str = PROJECT) -> dict[str, str]:
    rows = world.index.query(
        "SELECT users.username, roles.role FROM roles JOIN users ON users.id = roles.user_id"
        " JOIN projects ON projects.id = roles.project_id WHERE projects.normalized_name = :n",
        n=project,
    )
    return {str(user): str(role) for user, role in rows}


def _publishers(world: World, project: str = PROJECT) -> dict[int, str]:
    rows = world.index.query(
        "SELECT publishers.id, publishers.added_by FROM publishers JOIN projects"
        " ON projects.id = publishers.project_id WHERE projects.normalized_name = :n",
        n=project,
    )
    return {int(str(pid)): str(by) for pid, by in rows}


def _journal(world: World, project: str = PROJECT) -> list[tuple[str, str]]:
    rows = world.index.query(
        "SELECT action, actor FROM journal WHERE project_name = :n ORDER BY id", n=project
    )
    return [(str(action), str(actor)) for action, actor in rows]


def _github_form(repository: str, issuer: str) -> dict[str, str]:
    return {
        "kind": "github",
        "repository": repository,
        "workflow": "release.yml",
        "environment": "",
        "owner_id": "",
        "issuer": issuer,
    }


# -- the role table ----------------------------------------------------------------------------


def test_the_role_table_is_pypis() -> None:
    """warehouse ``Project.__acl__``: Owner → read, upload, write; Maintainer → upload (and,
    issue 20, reading a private project)."""
    owner = roles.permissions_of_role(roles.ProjectRole.OWNER)
    maintainer = roles.permissions_of_role(roles.ProjectRole.MAINTAINER)
    assert owner == frozenset(roles.Permission)
    assert maintainer == {
        roles.Permission.UPLOAD,
        roles.Permission.VIEW_SETTINGS,
        roles.Permission.READ,
    }


# -- a maintainer uploads, and nothing else ----------------------------------------------------


def test_a_maintainer_uploads_but_the_services_refuse_everything_else(
    world: World, opened: IndexContext
) -> None:
    assert _upload(world, world.mia, "1.1").status == 200
    with opened.db.read() as session:
        filename = session.scalars(select(File.filename)).first()
    assert filename is not None
    before = snapshot(world.index)
    refusals: dict[str, Callable[[Session], object]] = {
        "add a publisher": lambda s: publishers.add_publisher(
            s,
            PROJECT,
            "github",
            {"repository": "mia/fork", "workflow": "release.yml", "issuer": world.issuer.url},
            actor="mia",
        ),
        "remove a publisher": lambda s: publishers.remove_publisher(s, PROJECT, 1, actor="mia"),
        "invite a maintainer": lambda s: invitations.invite(
            s, PROJECT, "carl", "maintainer", actor="mia"
        ),
        "remove the owner": lambda s: collaborators.remove_collaborator(
            s, PROJECT, "olga", actor="mia"
        ),
        "change a role": lambda s: collaborators.change_role(
            s, PROJECT, "mia", "owner", actor="mia"
        ),
        "yank": lambda s: projects.set_yanked(
            s, PROJECT, "1.0", yanked=True, reason="", actor="mia"
        ),
        "delete a file": lambda s: projects.delete_file(s, filename, actor="mia"),
    }
    for what, attempt in refusals.items():
        with pytest.raises(Forbidden) as refused, opened.db.write() as session:
            attempt(session)
        assert "only an owner of roles-demo can" in refused.value.message, what
    assert snapshot(world.index) == before


def test_a_maintainer_is_refused_by_the_pages_and_sees_no_forms(world: World) -> None:
    mia = signed_in(world.index, "mia")
    shown = mia.get(MANAGE)
    assert shown.status == 200  # read-only: nothing on these pages is secret
    assert 'id="add-github"' not in shown.text
    assert "/remove/" not in shown.text
    releases = mia.get(MANAGE + "releases/").text
    assert "/yank/" not in releases
    collaboration = mia.get(MANAGE + "collaboration/").text
    assert 'id="add-collaborator"' not in collaboration
    assert "olga/remove/" not in collaboration
    before = snapshot(world.index)
    attempts = [
        (MANAGE + "publishers/", _github_form("mia/fork", world.issuer.url)),
        (MANAGE + "collaboration/", {"username": "carl", "role": "maintainer"}),
        (MANAGE + "collaboration/olga/remove/", {}),
        (MANAGE + "collaboration/olga/role/", {"role": "maintainer"}),
        (MANAGE + "collaboration/mia/role/", {"role": "owner"}),
        (MANAGE + "release/1.0/yank/", {"reason": "mine now"}),
    ]
    for path, fields in attempts:
        answer = mia.post(path, fields)
        assert answer.status == 403, (path, answer.status)
        assert "only an owner of roles-demo can" in answer.text
    assert snapshot(world.index) == before


# -- removing a collaborator removes what they planted -----------------------------------------


def test_removing_a_collaborator_removes_the_publisher_they_planted(world: World) -> None:
    """The attack of finding 3: a collaborator plants a publisher, is removed, and mints from
    it. The owner now sees that publisher (and the tokens) on the removal page, all ticked, and
    one confirmation removes them; the mint and every upload of theirs are refused."""
    olga = signed_in(world.index, "olga")
    assert olga.post(MANAGE + "collaboration/", {"username": "oscar", "role": "owner"}).status == (
        303
    )
    accept_invitation(world.index, "oscar", PROJECT)
    oscar = signed_in(world.index, "oscar")
    planted = oscar.post(MANAGE + "publishers/", _github_form("oscar/own", world.issuer.url))
    assert planted.status == 303, planted.text
    [planted_id] = [pid for pid, by in _publishers(world).items() if by == "oscar"]
    scoped = world.index.create_token("oscar", "--project", PROJECT)
    wide = world.index.create_token("oscar")
    early = json.loads(_mint(world, "oscar/own").body)["token"]  # minted while still an owner

    confirm = olga.get(MANAGE + "collaboration/oscar/remove/")
    assert confirm.status == 200
    ticked = re.findall(
        r'<input type="checkbox" name="([a-z]+-[0-9a-f]+)" value="remove" checked', confirm.text
    )
    scoped_id = scoped.removeprefix("trustyard-").split(".")[0]
    assert sorted(ticked) == sorted([f"publisher-{planted_id}", f"token-{scoped_id}"])
    assert "oscar/own" in confirm.text
    removed = olga.post(MANAGE + "collaboration/oscar/remove/", dict.fromkeys(ticked, "remove"))
    assert (removed.status, removed.headers["location"]) == (303, MANAGE + "collaboration/")

    assert _roles(world) == {"olga": "owner", "mia": "maintainer"}
    assert planted_id not in _publishers(world)
    minted = _mint(world, "oscar/own")
    assert (minted.status, '"token"' in minted.text) == (422, False)
    for token in (early, scoped, wide):
        assert _upload(world, token, "7.0").status == 403
    assert world.index.query("SELECT revoked FROM tokens WHERE id = :i", i=scoped_id) == [(True,)]
    actions = [action for action, actor in _journal(world) if actor == "olga"]
    assert actions[-3:] == [
        f"remove trusted publisher {planted_id}",
        f"revoke token {scoped_id} of oscar",
        "remove owner oscar",
    ]


def test_an_owner_may_keep_what_the_removed_collaborator_set_up(world: World) -> None:
    olga = signed_in(world.index, "olga")
    assert olga.post(MANAGE + "collaboration/", {"username": "pia", "role": "owner"}).status == 303
    accept_invitation(world.index, "pia", PROJECT)
    pia = signed_in(world.index, "pia")
    assert pia.post(MANAGE + "publishers/", _github_form("pia/ci", world.issuer.url)).status == 303
    [kept] = [pid for pid, by in _publishers(world).items() if by == "pia"]
    assert "publisher-" in olga.get(MANAGE + "collaboration/pia/remove/").text
    # Nothing ticked: the role goes, the publisher stays (the owner chose so).
    assert olga.post(MANAGE + "collaboration/pia/remove/", {}).status == 303
    assert "pia" not in _roles(world)
    assert kept in _publishers(world)
    # A forged id (not one of pia's) is refused and changes nothing.
    before = snapshot(world.index)
    assert (
        olga.post(MANAGE + "collaboration/mia/remove/", {f"publisher-{kept}": "remove"}).status
        == 404
    )
    assert olga.post(MANAGE + "collaboration/mia/remove/", {"publisher-x": "remove"}).status == 400
    assert olga.post(MANAGE + "collaboration/mia/remove/", {"token-1": "keep"}).status == 400
    assert snapshot(world.index) == before
    world.index.cli("publisher", "remove", PROJECT, str(kept))


def test_the_last_owner_cannot_be_removed_on_the_pages(world: World) -> None:
    olga = signed_in(world.index, "olga")
    page = olga.get(MANAGE + "collaboration/").text
    assert "collaboration/olga/remove/" not in page  # no button for the last owner
    assert "the last owner" in page
    before = snapshot(world.index)
    refused = olga.post(MANAGE + "collaboration/olga/remove/", {})
    assert refused.status == 409
    assert "olga is the last owner of roles-demo" in refused.text
    assert olga.get(MANAGE + "collaboration/olga/remove/").status == 409
    assert snapshot(world.index) == before


# -- the host's command ------------------------------------------------------------------------


def test_admin_role_command_grants_changes_and_removes(world: World) -> None:
    cli = world.index.cli
    cli("admin", "project", "role", PROJECT, "carl", "maintainer")
    assert _roles(world)["carl"] == "maintainer"
    cli("admin", "project", "role", PROJECT, "carl", "owner")
    assert _roles(world)["carl"] == "owner"
    again = cli("admin", "project", "role", PROJECT, "carl", "owner", check=False)
    assert again.returncode == 1
    assert "carl is already an owner of roles-demo" in again.stderr
    cli("admin", "project", "role", PROJECT, "carl", "none")
    assert "carl" not in _roles(world)
    assert _journal(world)[-3:] == [
        ("add maintainer carl", "admin"),
        ("change role of carl from maintainer to owner", "admin"),
        ("remove owner carl", "admin"),
    ]
    bad = cli("admin", "project", "role", PROJECT, "carl", "admin", check=False)
    assert bad.returncode == 2
    nobody = cli("admin", "project", "role", PROJECT, "nobody", "owner", check=False)
    assert (nobody.returncode, "no user named 'nobody'" in nobody.stderr) == (1, True)


def test_admin_role_command_lists_and_removes_what_the_user_set_up(world: World) -> None:
    cli = world.index.cli
    cli("admin", "project", "role", PROJECT, "carl", "owner")
    carl = signed_in(world.index, "carl")
    assert (
        carl.post(MANAGE + "publishers/", _github_form("carl/ci", world.issuer.url)).status == 303
    )
    [planted] = [pid for pid, by in _publishers(world).items() if by == "carl"]
    scoped = world.index.create_token("carl", "--project", PROJECT)
    scoped_id = scoped.removeprefix("trustyard-").split(".")[0]
    # Without the flags the role goes, and the command says what stays and how to remove it.
    kept = cli("admin", "project", "role", PROJECT, "carl", "none")
    assert f"publisher {planted}" in kept.stdout
    assert "--remove-their-publishers" in kept.stdout
    assert f"token {scoped_id}" in kept.stdout
    assert "--revoke-their-tokens" in kept.stdout
    assert planted in _publishers(world)
    # Granted again and removed with the flags: all of it goes, journalled under the host.
    cli("admin", "project", "role", PROJECT, "carl", "maintainer")
    cli(
        "admin",
        "project",
        "role",
        PROJECT,
        "carl",
        "none",
        "--remove-their-publishers",
        "--revoke-their-tokens",
    )
    assert planted not in _publishers(world)
    assert _mint(world, "carl/ci").status == 422
    assert _upload(world, scoped, "7.1").status == 403
    assert _journal(world)[-3:] == [
        (f"remove trusted publisher {planted}", "admin"),
        (f"revoke token {scoped_id} of carl", "admin"),
        ("remove maintainer carl", "admin"),
    ]


def test_admin_role_command_keeps_the_last_owner_unless_forced(world: World) -> None:
    cli = world.index.cli
    assert _upload(world, world.olga, "0.1", name="roles-lone").status == 200
    before = snapshot(world.index)
    for role in ("none", "maintainer"):
        refused = cli("admin", "project", "role", "roles-lone", "olga", role, check=False)
        assert refused.returncode == 1
        assert "olga is the last owner of roles-lone" in refused.stderr
        assert "--force" in refused.stderr
    assert snapshot(world.index) == before
    cli("admin", "project", "role", "roles-lone", "olga", "none", "--force")
    assert _roles(world, "roles-lone") == {}
    assert _journal(world, "roles-lone")[-1] == (
        "remove owner olga (the last owner, forced)",
        "admin",
    )
    assert _upload(world, world.olga, "0.2", name="roles-lone").status == 403


def test_a_publisher_planted_by_a_maintainer_before_the_fix_goes_with_them(world: World) -> None:
    """Catalogues from before PyPI's roles hold publishers that maintainers added: removing
    such a maintainer shows them, ticked, and removes them with the role."""
    world.index.create_user("max")
    world.index.cli("admin", "project", "role", PROJECT, "max", "maintainer")
    planted = int(
        world.index.cli(
            "publisher",
            "add",
            PROJECT,
            "github",
            "--repository",
            "max/side",
            "--workflow",
            "release.yml",
            "--issuer",
            world.issuer.url,
        ).stdout
    )
    world.index.execute("UPDATE publishers SET added_by = 'max' WHERE id = :i", i=planted)
    # ... and max gave carl a role (maintainers could add maintainers then).
    world.index.cli("admin", "project", "role", PROJECT, "carl", "maintainer")
    world.index.execute(
        "UPDATE journal SET actor = 'max' WHERE action = 'add maintainer carl' AND id ="
        " (SELECT max(id) FROM journal WHERE action = 'add maintainer carl')"
    )
    wide = world.index.create_token("max")
    assert _mint(world, "max/side").status == 200
    olga = signed_in(world.index, "olga")
    confirm = olga.get(MANAGE + "collaboration/max/remove/").text
    assert f'name="publisher-{planted}" value="remove" checked' in confirm
    assert "max/side" in confirm
    assert '<li data-username="carl">carl (maintainer)</li>' in confirm  # shown, not ticked
    removed = olga.post(MANAGE + "collaboration/max/remove/", {f"publisher-{planted}": "remove"})
    assert removed.status == 303
    assert planted not in _publishers(world)
    assert _mint(world, "max/side").status == 422
    assert _upload(world, wide, "7.2").status == 403
    assert _journal(world)[-2:] == [
        (f"remove trusted publisher {planted}", "olga"),
        ("remove maintainer max", "olga"),
    ]
    assert _roles(world)["carl"] == "maintainer"  # the owner decides about each person
