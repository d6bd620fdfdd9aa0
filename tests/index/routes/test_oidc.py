"""Trusted Publishing in-process: the audience, mint (GitHub, GitLab, generic and pending
publishers), upload with the minted token, burn, and the exchange's refusals.

Tokens come from the development issuer's own minting code; the index fetches the issuer's
JWKS over loopback HTTP from :func:`local_issuer`, a real issuer in a thread.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.dists.builders import build_wheel
from tests.index.conftest import LocalIndex, LocalIssuer
from tests.services import free_port
from trustyard.index.db.models import OidcKeySet
from trustyard.index.services import accounts, issuers, projects, publishers
from trustyard.index.services.trusted_publishing import DatabaseKeys
from trustyard.oidc.devclaims import GitHubRun, GitLabJob
from trustyard.oidc.devkeys import load_signing_key, sign


@dataclass
class World:
    index: LocalIndex
    issuer: LocalIssuer
    audience: str
    tmp: Path


@pytest.fixture(scope="module")
def world(
    shared_index: LocalIndex, local_issuer: LocalIssuer, tmp_path_factory: pytest.TempPathFactory
) -> World:
    index = shared_index
    tmp = tmp_path_factory.mktemp("oidc")
    index.trust_issuer(local_issuer.url)
    index.create_user("tp-alice")
    alice = index.create_token("tp-alice")
    for name in ("tp-target", "tp-lab", "tp-generic"):
        assert index.upload(alice, build_wheel(tmp / name, name, "0.1")).status_code == 200
    with index.db.write() as session:
        publishers.add_publisher(
            session,
            "tp-target",
            "github",
            {
                "repository": "Octo/Widgets",
                "workflow": "release.yml",
                "environment": "pypi",
                "issuer": local_issuer.url,
            },
            actor="tp-alice",
        )
        publishers.add_publisher(
            session,
            "tp-lab",
            "gitlab",
            {
                "project": "group/lab",
                "workflow_path": ".gitlab-ci.yml",
                "issuer": local_issuer.url,
            },
            actor="tp-alice",
        )
        publishers.add_publisher(
            session,
            "tp-generic",
            "oidc",
            {"issuer": local_issuer.url, "claims": json.dumps({"sub": "generic-runner"})},
            actor="tp-alice",
        )
    audience = index.get("/_/oidc/audience").json()["audience"]
    return World(index, local_issuer, audience, tmp)


def github(
    world: World,
    repository: str = "octo/widgets",
    environment: str | None = "pypi",
    **overrides: Any,
) -> dict[str, Any]:
    """A GitHub run's claims (``overrides`` replace claims; None drops one)."""
    run = GitHubRun(repository=repository, ref="refs/tags/v1", environment=environment)
    claims = {**run.claims(), **overrides}
    return {k: v for k, v in claims.items() if v is not None}


def exchange(world: World, body: bytes | str, path: str = "/_/oidc/mint-token") -> httpx.Response:
    data = body.encode() if isinstance(body, str) else body
    return world.index.post(path, content=data)


def mint(world: World, token: str) -> httpx.Response:
    return exchange(world, json.dumps({"token": token}))


def minted(world: World, claims: dict[str, Any]) -> str:
    answer = mint(world, world.issuer.mint(world.audience, claims))
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["token"]
    return token


def test_audience(world: World) -> None:
    answer = world.index.get("/_/oidc/audience")
    assert answer.status_code == 200
    assert answer.json()["audience"] == world.index.ctx.audience


def test_github_mint_upload_and_burn(world: World) -> None:
    token = minted(world, github(world))
    wheel = build_wheel(world.tmp / "gh", "tp-target", "1.0")
    assert world.index.upload(token, wheel).status_code == 200
    # the minted token may not upload to a project its publisher does not publish
    other = build_wheel(world.tmp / "gh-other", "tp-lab", "1.0")
    assert world.index.upload(token, other).status_code == 403
    # nor create one
    new = build_wheel(world.tmp / "gh-new", "tp-brand-new", "1.0")
    answer = world.index.upload(token, new)
    assert answer.status_code == 400
    burned = exchange(world, json.dumps({"token": token}), "/_/oidc/burn-token")
    assert burned.json() == {"success": True}
    again = build_wheel(world.tmp / "gh2", "tp-target", "1.1")
    assert world.index.upload(token, again).status_code == 403
    # the owner id was pinned at the first exchange
    with world.index.db.read() as session:
        (view,) = [
            v for v in publishers.list_publishers(session, "tp-target") if v.kind == "github"
        ]
    assert view.project == "tp-target"


def test_older_github_endpoint(world: World) -> None:
    token = world.issuer.mint(world.audience, github(world))
    answer = exchange(world, json.dumps({"token": token}), "/_/oidc/github/mint-token")
    assert answer.status_code == 200


def test_gitlab_and_generic_publishers(world: World) -> None:
    job = GitLabJob(project="group/lab")
    lab = minted(world, dict(job.claims(world.issuer.url)))
    assert world.index.upload(lab, build_wheel(world.tmp / "gl", "tp-lab", "1.0")).status_code == (
        200
    )
    generic = minted(world, {"sub": "generic-runner"})
    wheel = build_wheel(world.tmp / "gen", "tp-generic", "1.0")
    assert world.index.upload(generic, wheel).status_code == 200


def test_pending_publisher_creates_its_project(world: World) -> None:
    index = world.index
    index.create_user("tp-pending")
    with index.db.write() as session:
        publishers.add_pending_publisher(
            index.db,
            session,
            "tp-created",
            "github",
            {"repository": "octo/fresh", "workflow": "release.yml", "issuer": world.issuer.url},
            owner="tp-pending",
            limit=3,
        )
    token = minted(world, github(world, repository="octo/fresh", environment=None))
    wheel = build_wheel(world.tmp / "pending", "tp-created", "1.0")
    assert index.upload(token, wheel).status_code == 200
    with index.db.read() as session:
        assert publishers.pending_publishers_of(session, "tp-pending") == []


def test_pending_publisher_whose_name_was_taken_is_removed(world: World) -> None:
    index = world.index
    index.create_user("tp-late")
    with index.db.write() as session:
        publishers.add_pending_publisher(
            index.db,
            session,
            "tp-taken",
            "github",
            {"repository": "octo/taken", "workflow": "release.yml", "issuer": world.issuer.url},
            owner="tp-late",
            limit=3,
        )
    alice = index.create_token("tp-alice")
    assert index.upload(alice, build_wheel(world.tmp / "taken", "tp-taken", "1")).status_code == (
        200
    )
    answer = mint(world, world.issuer.mint(world.audience, github(world, repository="octo/taken")))
    assert answer.status_code == 422
    assert "project already exists" in answer.text
    with index.db.read() as session:
        assert publishers.pending_publishers_of(session, "tp-late") == []


def test_pending_publisher_of_a_disabled_owner(world: World) -> None:
    index = world.index
    index.create_user("tp-off")
    with index.db.write() as session:
        publishers.add_pending_publisher(
            index.db,
            session,
            "tp-never",
            "github",
            {"repository": "octo/never", "workflow": "release.yml", "issuer": world.issuer.url},
            owner="tp-off",
            limit=3,
        )
        accounts.set_disabled(session, "tp-off", disabled=True, actor=None)
    answer = mint(world, world.issuer.mint(world.audience, github(world, repository="octo/never")))
    assert answer.status_code == 422
    assert "disabled" in answer.text


def _forged(world: World, **overrides: Any) -> str:
    payload = world.issuer.mint(world.audience, github(world)).split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims.update(overrides)
    return sign({k: v for k, v in claims.items() if v is not None}, world.issuer.key_path)


Case = Callable[[World], httpx.Response]

# case: (request, status, code, words of the description)
REFUSALS: dict[str, tuple[Case, int, str, str]] = {
    "not JSON": (lambda w: exchange(w, b"token=abc"), 422, "invalid-payload", "Invalid JSON"),
    "no token": (lambda w: exchange(w, "{}"), 422, "invalid-payload", "Field required"),
    "token not a string": (lambda w: exchange(w, '{"token": 1}'), 422, "invalid-payload", "string"),
    "too large": (
        lambda w: exchange(w, json.dumps({"token": "x" * 70000})),
        413,
        "request-too-large",
        "too large",
    ),
    "garbage": (lambda w: mint(w, "not.a.jwt"), 422, "invalid-payload", "malformed"),
    "unknown issuer": (
        lambda w: mint(w, _forged(w, iss="https://evil.example.com")),
        422,
        "invalid-payload",
        "unknown trusted publishing issuer",
    ),
    "wrong audience": (
        lambda w: mint(w, w.issuer.mint("someone-else", github(w))),
        422,
        "invalid-token",
        "",
    ),
    "no publisher": (
        lambda w: mint(w, w.issuer.mint(w.audience, github(w, repository="octo/nothing"))),
        422,
        "invalid-publisher",
        "no corresponding publisher",
    ),
    "wrong environment": (
        lambda w: mint(w, w.issuer.mint(w.audience, github(w, environment="staging"))),
        422,
        "invalid-publisher",
        "no corresponding publisher",
    ),
    "no jti": (lambda w: mint(w, _forged(w, jti=None)), 422, "invalid-publisher", ""),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_exchange_refusals(world: World, case: str) -> None:
    send, status, code, message = REFUSALS[case]
    answer = send(world)
    assert answer.status_code == status, answer.text
    (error,) = answer.json()["errors"]
    assert error["code"] == code, error
    assert message in error["description"]


def test_a_token_is_exchanged_once(world: World) -> None:
    token = world.issuer.mint(world.audience, github(world))
    assert mint(world, token).status_code == 200
    again = mint(world, token)
    assert again.json()["errors"][0]["code"] == "invalid-reuse-token"


def test_burn_refusals(world: World) -> None:
    for body in ('{"token": 1}', '{"token": "nope"}', '{"token": "trustyard-' + "0" * 24 + '.x"}'):
        answer = exchange(world, body, "/_/oidc/burn-token")
        assert answer.status_code == 422, body
    user_token = world.index.create_token("tp-alice")
    answer = exchange(world, json.dumps({"token": user_token}), "/_/oidc/burn-token")
    assert answer.json()["errors"][0]["code"] == "invalid-token"


def test_disabled_trusted_publishing(
    tmp_path: Path, local_issuer: LocalIssuer, portal: Any
) -> None:
    index = LocalIndex(tmp_path / "data", portal, trusted_publishing=False)
    try:
        assert index.get("/_/oidc/audience").status_code == 403
        answer = index.post("/_/oidc/mint-token", content=b"{}")
        assert answer.json()["errors"][0]["code"] == "not-enabled"
    finally:
        index.close()


def test_mint_rate_limit_per_address(tmp_path: Path, portal: Any) -> None:
    index = LocalIndex(tmp_path / "data", portal, mint_rate_per_address="1/1h")
    try:
        assert index.post("/_/oidc/mint-token", content=b"{}").status_code == 422
        limited = index.post("/_/oidc/mint-token", content=b"{}")
        assert limited.status_code == 429
        assert "retry-after" in limited.headers
    finally:
        index.close()


def test_issuer_keys_are_fetched_cached_and_kept(world: World, tmp_path: Path) -> None:
    """``DatabaseKeys``: only allow-listed issuers are asked; keys are remembered; a kid not
    in them waits for the cooldown; an unreachable issuer keeps what was cached."""
    db = world.index.db
    keys = DatabaseKeys(db)
    kid = load_signing_key(world.issuer.key_path).kid
    assert keys("https://not-listed.example.com", kid) is None
    assert keys(world.issuer.url, kid) is not None
    assert keys(world.issuer.url, kid) is not None  # remembered
    assert keys(world.issuer.url, "another-kid") is None  # within the cooldown: not fetched
    closed = f"http://127.0.0.1:{free_port()}"
    world.index.trust_issuer(closed)
    assert keys(closed, kid) is None
    with db.read() as session:
        stored = session.get(OidcKeySet, closed)
        assert stored is not None
        assert stored.keys == {}
    with db.write() as session:
        issuers.remove_issuer(session, closed, actor=None)
    assert keys(closed, kid) is None


def test_keys_are_fetched_again_after_the_cooldown(world: World) -> None:
    keys = DatabaseKeys(world.index.db)
    kid = load_signing_key(world.issuer.key_path).kid
    assert keys(world.issuer.url, kid) is not None
    with world.index.db.write() as session:
        stored = session.get(OidcKeySet, world.issuer.url)
        assert stored is not None
        stored.fetched = stored.fetched.replace(year=2000)
    fresh = DatabaseKeys(world.index.db)
    assert fresh(world.issuer.url, "not-a-kid") is None
    with world.index.db.read() as session:
        stored = session.get(OidcKeySet, world.issuer.url)
        assert stored is not None
        assert stored.fetched.year > 2000


def test_two_pending_publishers_matching_one_token(world: World) -> None:
    index = world.index
    index.create_user("tp-twice")
    with index.db.write() as session:
        publishers.add_pending_publisher(
            index.db,
            session,
            "tp-twice-a",
            "github",
            {"repository": "octo/twice", "workflow": "release.yml", "issuer": world.issuer.url},
            owner="tp-twice",
            limit=3,
        )
        publishers.add_pending_publisher(
            index.db,
            session,
            "tp-twice-b",
            "oidc",
            {"issuer": world.issuer.url, "claims": json.dumps({"repository": "octo/twice"})},
            owner="tp-twice",
            limit=3,
        )
    answer = mint(world, world.issuer.mint(world.audience, github(world, "octo/twice", None)))
    assert answer.status_code == 422
    (error,) = answer.json()["errors"]
    assert error["code"] == "invalid-pending-publisher"
    assert "more than one pending publisher" in error["description"]


def test_mint_rate_limit_per_publisher(
    tmp_path: Path, local_issuer: LocalIssuer, portal: Any
) -> None:
    index = LocalIndex(tmp_path / "data", portal, mint_rate_per_publisher="1/1h")
    try:
        index.trust_issuer(local_issuer.url)
        index.create_user("tp-rate")
        with index.db.write() as session:
            projects.create_project(session, "tp-rate", owner="tp-rate")
            publishers.add_publisher(
                session,
                "tp-rate",
                "github",
                {"repository": "octo/rate", "workflow": "release.yml", "issuer": local_issuer.url},
                actor="tp-rate",
            )
        audience = index.ctx.audience
        claims = GitHubRun(repository="octo/rate", ref="refs/tags/v1").claims()
        for status in (200, 429):
            token = local_issuer.mint(audience, claims)
            answer = index.post("/_/oidc/mint-token", content=json.dumps({"token": token}))
            assert answer.status_code == status, answer.text
        assert answer.json()["errors"][0]["code"] == "rate-limited"
    finally:
        index.close()
