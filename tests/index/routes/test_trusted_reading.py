"""Trusted Reading in-process (issue 20): a CI job's ID token, minted by the real development
issuer for the index's *read* audience, becomes a 15-minute read-only token for the projects
whose publishers or reader policies it matches; audiences never cross; the verification's
refusals (jti reuse, wrong audience, no match) carry the 422 shape and are journalled."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tests.index.conftest import LocalIndex, LocalIssuer
from trustyard.cli.main import main
from trustyard.errors import Forbidden
from trustyard.index.db.models import JournalEntry, Token, TokenReader
from trustyard.index.services import accounts, backup, projects, publishers, reader_policies
from trustyard.index.services.audience import read_audience
from trustyard.index.services.projects import find_project
from trustyard.index.services.trusted_reading import may_read, readable_projects
from trustyard.oidc.devclaims import GitHubRun


@dataclass
class World:
    index: LocalIndex
    issuer: LocalIssuer
    audience: str
    read_audience: str


@pytest.fixture(scope="module")
def world(
    shared_index: LocalIndex, local_issuer: LocalIssuer, wheels: Callable[[str, str], Path]
) -> World:
    index = shared_index
    index.trust_issuer(local_issuer.url)
    index.create_user("tr-owner")
    index.create_user("tr-maintainer")
    owner = index.create_token("tr-owner")
    for name in ("tr-target", "tr-other", "tr-policy"):
        assert index.upload(owner, wheels(name, "0.1")).status_code == 200
    with index.db.write() as session:
        publishers.add_publisher(
            session,
            "tr-target",
            "github",
            {"repository": "octo/widgets", "workflow": "release.yml", "issuer": local_issuer.url},
            actor="tr-owner",
        )
        publishers.add_publisher(
            session,
            "tr-other",
            "github",
            {"repository": "octo/gadgets", "workflow": "release.yml", "issuer": local_issuer.url},
            actor="tr-owner",
        )
        reader_policies.add_reader_policy(
            session,
            "tr-policy",
            "github",
            {"repository": "octo/consumer", "workflow": "test.yml", "issuer": local_issuer.url},
            actor="tr-owner",
        )
    audience = index.get("/_/oidc/audience").json()["audience"]
    read = index.get("/_/oidc/read-audience").json()["audience"]
    return World(index, local_issuer, audience, read)


def github(repository: str, workflow: str = "release.yml", **overrides: Any) -> dict[str, Any]:
    run = GitHubRun(repository=repository, workflow=workflow, ref="refs/heads/main")
    return {**run.claims(), **overrides}


def mint_read(world: World, token: str) -> httpx.Response:
    return world.index.post("/_/oidc/mint-read-token", content=json.dumps({"token": token}))


def read_token(world: World, claims: dict[str, Any]) -> str:
    answer = mint_read(world, world.issuer.mint(world.read_audience, claims))
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["token"]
    return token


def _identity(world: World, token: str) -> accounts.Identity:
    with world.index.db.read() as session:
        return accounts.authenticate_token(session, token)


def _project_id(world: World, name: str) -> int:
    with world.index.db.read() as session:
        project = find_project(session, name)
        assert project is not None
        return project.id


def _reads(world: World, token: str) -> list[str]:
    identity = _identity(world, token)
    with world.index.db.read() as session:
        return readable_projects(session, identity.token_id)


def test_the_read_audience_is_the_indexs_own_and_not_the_publishing_one(world: World) -> None:
    assert world.read_audience == read_audience(world.index.ctx.audience)
    assert world.read_audience != world.audience


def test_a_publishers_identity_mints_a_read_token_for_its_project_only(
    world: World, wheels: Callable[[str, str], Path]
) -> None:
    token = read_token(world, github("octo/widgets"))
    identity = _identity(world, token)
    assert identity.read_only
    assert identity.reader_identity is not None
    assert "octo/widgets" in identity.reader_identity
    with world.index.db.read() as session:
        assert may_read(session, identity.token_id, _project_id(world, "tr-target"))
        assert not may_read(session, identity.token_id, _project_id(world, "tr-other"))
        assert not may_read(session, identity.token_id, _project_id(world, "tr-policy"))
        row = session.get_one(Token, identity.token_id)
        assert row.read_only
        assert row.expires is not None
        assert row.expires - row.created == timedelta(minutes=15)
    # a read token never uploads, not even to the project its publisher publishes
    answer = world.index.upload(token, wheels("tr-target", "9.0"))
    assert answer.status_code == 403
    assert "read-only token" in answer.text
    # nor is it a user's token to list or revoke
    with world.index.db.read() as session:
        actions = session.scalars(
            select(JournalEntry.action).where(JournalEntry.project_name == "tr-target")
        ).all()
    assert any(f"minted read token {identity.token_id}" in action for action in actions)


def test_a_reader_policy_lets_an_identity_read_without_publishing(world: World) -> None:
    token = read_token(world, github("octo/consumer", workflow="test.yml"))
    assert _reads(world, token) == ["tr-policy"]
    # the same identity cannot publish: no publisher matches it
    upload = world.index.post(
        "/_/oidc/mint-token",
        content=json.dumps(
            {"token": world.issuer.mint(world.audience, github("octo/consumer", "test.yml"))}
        ),
    )
    assert upload.status_code == 422
    assert upload.json()["errors"][0]["code"] == "invalid-publisher"


def test_audiences_never_cross(world: World) -> None:
    """The same claims, asked for the other audience, are refused by each mint (oidc/verify's
    ``invalid-token``, as warehouse words a wrong ``aud``); asked for its own, accepted."""
    claims = github("octo/widgets")
    for_publishing = world.issuer.mint(world.audience, claims)
    refused = mint_read(world, for_publishing)
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"][0]["code"] == "invalid-token"
    for_reading = world.issuer.mint(world.read_audience, claims)
    answer = world.index.post("/_/oidc/mint-token", content=json.dumps({"token": for_reading}))
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["code"] == "invalid-token"
    # neither was spent by its refusal: each mint accepts its own
    assert mint_read(world, for_reading).status_code == 200
    published = world.index.post(
        "/_/oidc/mint-token", content=json.dumps({"token": for_publishing})
    )
    assert published.status_code == 200


def test_an_id_token_is_exchanged_once_across_both_mints(world: World) -> None:
    jti_claims = github("octo/widgets", jti="tr-once-1")
    token = world.issuer.mint(world.read_audience, jti_claims)
    assert mint_read(world, token).status_code == 200
    again = mint_read(world, token)
    assert again.status_code == 422
    assert again.json()["errors"][0]["code"] == "invalid-reuse-token"


def test_no_matching_identity_is_refused_and_journalled(world: World) -> None:
    answer = mint_read(world, world.issuer.mint(world.read_audience, github("evil/repo")))
    assert answer.status_code == 422
    assert answer.json()["message"] == "Token request failed"
    assert answer.json()["errors"][0]["code"] == "invalid-publisher"
    assert "reader policy" in answer.json()["errors"][0]["description"]
    with world.index.db.read() as session:
        actions = session.scalars(select(JournalEntry.action).order_by(JournalEntry.id)).all()
    assert any(a.startswith("trusted reading refused: invalid-publisher") for a in actions)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("not json", "invalid-payload"),
        ('{"token": 1}', "invalid-payload"),
        ("{}", "invalid-payload"),
    ],
)
def test_malformed_requests_are_refused(world: World, body: str, code: str) -> None:
    answer = world.index.post("/_/oidc/mint-read-token", content=body)
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["code"] == code


def test_removing_the_policy_takes_the_access_along(world: World) -> None:
    index = world.index
    with index.db.write() as session:
        policy = reader_policies.add_reader_policy(
            session,
            "tr-other",
            "github",
            {"repository": "octo/temporary", "workflow": "ci.yml", "issuer": world.issuer.url},
            actor="tr-owner",
        )
        policy_id = policy.id
    token = read_token(world, github("octo/temporary", workflow="ci.yml"))
    assert _reads(world, token) == ["tr-other"]
    with index.db.write() as session:
        reader_policies.remove_reader_policy(session, "tr-other", policy_id, actor="tr-owner")
    identity = _identity(world, token)
    with index.db.read() as session:
        assert not may_read(session, identity.token_id, _project_id(world, "tr-other"))
        assert (
            session.scalars(
                select(TokenReader).where(TokenReader.token_id == identity.token_id)
            ).all()
            == []
        )


def test_only_owners_manage_reader_policies(world: World) -> None:
    index = world.index
    config = {"repository": "octo/x", "workflow": "ci.yml", "issuer": world.issuer.url}
    with index.db.write() as session, pytest.raises(Forbidden):
        reader_policies.add_reader_policy(
            session, "tr-other", "github", config, actor="tr-maintainer"
        )
    with index.db.write() as session:
        with pytest.raises(Exception, match="no reader policy"):
            reader_policies.remove_reader_policy(session, "tr-other", 999999, actor="tr-owner")
        with pytest.raises(Exception, match="issuer"):
            reader_policies.add_reader_policy(
                session,
                "tr-other",
                "github",
                {**config, "issuer": "https://not-allowed.example"},
                actor="tr-owner",
            )


def test_reader_cli_adds_lists_and_removes(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    data = ["--data", str(world.index.data)]
    added = main(
        [
            "reader", "add", "tr-target", "github", "--repository", "octo/docs",
            "--workflow", "docs.yml", "--issuer", world.issuer.url, *data,
        ]
    )  # fmt: skip
    assert added == 0
    policy_id = int(capsys.readouterr().out.strip())
    assert main(["reader", "list", "tr-target", "--json", *data]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(p["id"], p["kind"]) for p in listed] == [(policy_id, "github")]
    assert "octo/docs" in listed[0]["description"]
    # the same policy twice is refused, naming the first
    again = main(
        [
            "reader", "add", "tr-target", "github", "--repository", "octo/docs",
            "--workflow", "docs.yml", "--issuer", world.issuer.url, *data,
        ]
    )  # fmt: skip
    assert again == 1
    assert f"already has this reader policy ({policy_id})" in capsys.readouterr().err
    assert main(["reader", "remove", "tr-target", str(policy_id), *data]) == 0
    capsys.readouterr()
    assert main(["reader", "list", "tr-target", *data]) == 0
    assert capsys.readouterr().out == ""


def test_disabled_trusted_publishing_disables_reading(tmp_path: Path, portal: Any) -> None:
    index = LocalIndex(tmp_path / "off", portal, trusted_publishing=False)
    try:
        assert index.get("/_/oidc/read-audience").status_code == 403
        answer = index.post("/_/oidc/mint-read-token", content='{"token": "x"}')
        assert answer.status_code == 422
        assert answer.json()["errors"][0]["code"] == "not-enabled"
    finally:
        index.close()


def test_export_carries_reader_policies_and_minted_readers(world: World, tmp_path: Path) -> None:
    read_token(world, github("octo/consumer", workflow="test.yml"))
    backup.export_index(world.index.db, world.index.ctx.storage, tmp_path / "export")
    manifest = json.loads((tmp_path / "export" / "manifest.json").read_text())
    assert manifest["tables"]["reader_policies"]["rows"] >= 1
    assert manifest["tables"]["token_readers"]["rows"] >= 1
    restored = LocalIndex(tmp_path / "restored", world.index.portal)
    try:
        backup.import_index(restored.db, restored.ctx.storage, tmp_path / "export")
        with restored.db.read() as session:
            assert reader_policies.list_reader_policies(session, "tr-policy", actor="tr-owner")
    finally:
        restored.close()


def test_read_mints_are_rate_limited_per_identity_apart_from_publishing(
    tmp_path: Path, local_issuer: LocalIssuer, portal: Any
) -> None:
    index = LocalIndex(tmp_path / "data", portal, mint_rate_per_publisher="1/1h")
    try:
        index.trust_issuer(local_issuer.url)
        index.create_user("tr-rate")
        with index.db.write() as session:
            projects.create_project(session, "tr-rate", owner="tr-rate")
            publishers.add_publisher(
                session,
                "tr-rate",
                "github",
                {"repository": "octo/rate", "workflow": "release.yml", "issuer": local_issuer.url},
                actor="tr-rate",
            )
        claims = github("octo/rate")
        read = read_audience(index.ctx.audience)
        for status in (200, 429):
            token = local_issuer.mint(read, claims)
            answer = index.post("/_/oidc/mint-read-token", content=json.dumps({"token": token}))
            assert answer.status_code == status, answer.text
        assert answer.json()["errors"][0]["code"] == "rate-limited"
        assert "Retry-After" in answer.headers
        # installing as often as allowed never uses up the job's publishing
        publish = local_issuer.mint(index.ctx.audience, claims)
        assert (
            index.post("/_/oidc/mint-token", content=json.dumps({"token": publish})).status_code
            == 200
        )
    finally:
        index.close()
