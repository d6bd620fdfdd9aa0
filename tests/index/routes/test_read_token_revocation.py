"""Burning minted read tokens (issue 20): the job that holds one ends it early (``POST
/_/oidc/burn-read-token``, ``trustyard ci credentials --revoke``), the host lists them with
their CI identity and projects (``admin token list --trusted-reading``) and revokes any token
(``admin token revoke``); journalled; a revoked token reads nothing from the next request on."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tests.index.conftest import LocalIndex, LocalIssuer, basic
from tests.index.routes.test_trusted_reading import World, github, read_token
from tests.index.test_ci_credentials import INDEX_URL, ThroughApp
from trustyard.cli.main import main
from trustyard.index.db.models import JournalEntry, Token
from trustyard.index.services import publishers, read_access
from trustyard.index.services.roles import HOST
from trustyard.release.ci_credentials import TrustedReadingError, burn_read_token

SIMPLE = "/simple/rv-secret/"


@pytest.fixture(scope="module")
def world(
    shared_index: LocalIndex, local_issuer: LocalIssuer, wheels: Callable[[str, str], Path]
) -> World:
    index = shared_index
    index.trust_issuer(local_issuer.url)
    index.create_user("rv-owner")
    owner = index.create_token("rv-owner")
    assert index.upload(owner, wheels("rv-secret", "0.1")).status_code == 200
    with index.db.write() as session:
        read_access.set_visibility(session, "rv-secret", "private", actor=HOST)
        publishers.add_publisher(
            session,
            "rv-secret",
            "github",
            {"repository": "octo/rv", "workflow": "release.yml", "issuer": local_issuer.url},
            actor="rv-owner",
        )
    audience = index.get("/_/oidc/audience").json()["audience"]
    read = index.get("/_/oidc/read-audience").json()["audience"]
    return World(index, local_issuer, audience, read)


def _read(world: World, token: str) -> int:
    return world.index.get(SIMPLE, headers={"Authorization": basic(token)}).status_code


def _burn(world: World, body: Any) -> httpx.Response:
    content = body if isinstance(body, str) else json.dumps(body)
    return world.index.post("/_/oidc/burn-read-token", content=content)


def _journal(world: World, token_id: str) -> list[tuple[str | None, str, str | None]]:
    with world.index.db.read() as session:
        rows = session.execute(
            select(JournalEntry.project_name, JournalEntry.action, JournalEntry.actor)
            .where(JournalEntry.action.contains(f"read token {token_id}"))
            .order_by(JournalEntry.id)
        ).all()
    return [(row[0], row[1], row[2]) for row in rows]


def _token_id(token: str) -> str:
    return token.removeprefix("trustyard-").partition(".")[0]


def test_the_holder_burns_its_token_and_it_reads_nothing_from_the_next_request(
    world: World,
) -> None:
    token = read_token(world, github("octo/rv"))
    assert _read(world, token) == 200
    answer = _burn(world, {"token": token})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"success": True}
    assert _read(world, token) == 401  # a private project: the dead token counts as none
    again = _burn(world, {"token": token})  # a cleanup step that runs twice
    assert again.status_code == 200
    entries = _journal(world, _token_id(token))
    burned = [e for e in entries if "burned by its holder" in e[1]]
    assert len(burned) == 1  # once, under the project, by the CI identity
    project, action, actor = burned[0]
    assert project == "rv-secret"
    assert "octo/rv" in action
    assert actor is not None
    assert actor.startswith("trusted-reader:")


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("not json", "invalid-payload"),
        ({"nope": 1}, "invalid-payload"),
        ({"token": 5}, "invalid-payload"),
        ({"token": "trustyard-garbage"}, "invalid-token"),
    ],
)
def test_malformed_burns_are_refused(world: World, body: Any, code: str) -> None:
    answer = _burn(world, body)
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["code"] == code


def test_only_the_token_itself_burns_it(world: World) -> None:
    token = read_token(world, github("octo/rv"))
    token_id, _, secret = token.removeprefix("trustyard-").partition(".")
    wrong = f"trustyard-{token_id}.{'A' * len(secret)}"
    assert _burn(world, {"token": wrong}).status_code == 422
    # a user's read-only token is no Trusted Reading token: burned only by its owner or host
    users = world.index.create_token("rv-owner", read_only=True)
    refused = _burn(world, {"token": users})
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["code"] == "invalid-token"
    assert _read(world, users) == 200
    assert _read(world, token) == 200  # untouched by the refused attempts
    assert _journal(world, token_id) == [e for e in _journal(world, token_id) if "minted" in e[1]]


def _cli(world: World, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main([*args, "--data", str(world.index.data)])
    said = capsys.readouterr()
    return status, said.out, said.err


def test_the_host_lists_minted_tokens_and_revokes_them(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    token = read_token(world, github("octo/rv"))
    token_id = _token_id(token)
    status, out, err = _cli(world, capsys, "admin", "token", "list", "--trusted-reading", "--json")
    assert status == 0, err
    listed = {row["id"]: row for row in json.loads(out)}
    assert listed[token_id]["projects"] == ["rv-secret"]
    assert listed[token_id]["state"] == "active"
    assert "octo/rv" in listed[token_id]["reader_identity"]
    assert listed[token_id]["expires"]
    status, out, _ = _cli(world, capsys, "admin", "token", "list", "--trusted-reading")
    line = next(line for line in out.splitlines() if line.startswith(token_id))
    assert "\tactive\t" in line
    assert line.endswith("\trv-secret")

    status, _, err = _cli(world, capsys, "admin", "token", "revoke", token_id)
    assert status == 0, err
    assert f"revoked token {token_id} of github:octo/rv" in err
    assert _read(world, token) == 401
    entries = [e for e in _journal(world, token_id) if "revoked by an admin" in e[1]]
    assert [(e[0], e[2]) for e in entries] == [("rv-secret", None)]
    status, out, _ = _cli(world, capsys, "admin", "token", "list", "--trusted-reading", "--json")
    assert token_id not in {row["id"] for row in json.loads(out)}
    status, out, _ = _cli(
        world, capsys, "admin", "token", "list", "--trusted-reading", "--all", "--json"
    )
    assert {row["id"]: row["state"] for row in json.loads(out)}[token_id] == "revoked"

    status, _, err = _cli(world, capsys, "admin", "token", "revoke", token_id)
    assert status == 1
    assert "already revoked" in err
    status, _, err = _cli(world, capsys, "admin", "token", "revoke", "0" * 24)
    assert status == 1
    assert "no token" in err
    status, _, err = _cli(world, capsys, "admin", "token", "list")
    assert status == 1
    assert "--trusted-reading" in err
    status, _, err = _cli(world, capsys, "admin", "token", "list", "rv-owner", "--all")
    assert status == 1


def test_the_host_revokes_a_users_token_pasted_whole(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    token = world.index.create_token("rv-owner", read_only=True)
    assert _read(world, token) == 200
    status, _, err = _cli(world, capsys, "admin", "token", "revoke", token)
    assert status == 0, err
    assert "of rv-owner" in err
    assert _read(world, token) == 401
    with world.index.db.read() as session:
        assert session.get_one(Token, _token_id(token)).revoked


def test_the_ci_client_burns_its_token(world: World) -> None:
    token = read_token(world, github("octo/rv"))
    client = ThroughApp(world.index)
    burn_read_token(client, INDEX_URL, token + "\n")  # as read from stdin
    assert client.urls == ["http://localhost/_/oidc/burn-read-token"]
    assert _read(world, token) == 401
    with pytest.raises(TrustedReadingError, match="invalid-token"):
        burn_read_token(client, INDEX_URL, "trustyard-" + "0" * 24 + "." + "A" * 43)


def test_the_ci_command_refuses_an_index_the_token_would_leak_to(
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = ["ci", "credentials", "--index", "http://index.example/simple/", "--revoke", "x"]
    assert main(args) == 1
    assert "https://" in capsys.readouterr().err
