"""Trusted Publishing at the HTTP level: the exchange, and an attack suite of misused tokens.

Every refusal must carry PyPI's 422 shape and code, mint nothing, and be written to the
journal. Tokens are made by the real development issuer, or forged with its key.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.conftest import IndexServer, start_index
from tests.dists.builders import build_wheel
from tests.index.conftest import Answer, request, upload_file
from tests.oidc.conftest import DevIssuer, start_dev_issuer
from tests.services import Backend
from trustyard.oidc.devclaims import GitHubRun
from trustyard.oidc.devkeys import load_signing_key, sign
from trustyard.oidc.verify import MAX_LIFETIME


@dataclass
class World:
    index: IndexServer
    issuer: DevIssuer
    tmp: Path
    alice: str
    audience: str  # the index's own (issue 14, finding 4)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, backend: Backend) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("tp")
    issuer = start_dev_issuer(tmp / "issuer")
    index = start_index(tmp / "data", backend=backend)
    try:
        index.trust_issuer(issuer.url)
        index.create_user("alice")
        alice = index.create_token("alice")
        for project in ("tp-target", "tp-other"):
            assert (
                upload_file(
                    index, alice, build_wheel(tmp / project, project, "0.1"), project, "0.1"
                ).status
                == 200
            )
        index.cli(
            "publisher",
            "add",
            "tp-target",
            "github",
            "--repository",
            "Octo/Widgets",
            "--workflow",
            "release.yml",
            "--environment",
            "pypi",
            "--owner-id",
            "1001",
            "--issuer",
            issuer.url,
        )
        index.cli(
            "publisher",
            "add",
            "tp-other",
            "github",
            "--repository",
            "octo/gadgets",
            "--workflow",
            "release.yml",
            "--issuer",
            issuer.url,
        )
        yield World(index, issuer, tmp, alice, index.audience)
    finally:
        index.stop()
        issuer.stop()


def claims(world: World, **overrides: Any) -> dict[str, Any]:
    """A valid GitHub token's claims for tp-target's publisher; ``None`` drops a claim."""
    run = GitHubRun(
        repository="octo/widgets",
        workflow="release.yml",
        ref="refs/tags/v1.0.0",
        environment="pypi",
    )
    now = int(time.time())
    result: dict[str, Any] = {
        **run.claims(),
        "iss": world.issuer.url,
        "aud": world.audience,
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        "jti": str(uuid.uuid4()),
    }
    result.update(overrides)
    return {k: v for k, v in result.items() if v is not None}


def forge(
    world: World,
    *,
    headers: dict[str, Any] | None = None,
    algorithm: str | None = None,
    **overrides: Any,
) -> str:
    return sign(
        claims(world, **overrides), world.issuer.key_path, headers=headers, algorithm=algorithm
    )


def exchange(world: World, body: bytes | str, path: str = "/_/oidc/mint-token") -> Answer:
    data = body.encode() if isinstance(body, str) else body
    return request(world.index, "POST", path, data, {"Content-Type": "application/json"})


def mint(world: World, token: str) -> Answer:
    return exchange(world, json.dumps({"token": token}))


def minted_tokens(world: World) -> int:
    [(count,)] = world.index.query("SELECT count(*) FROM tokens WHERE user_id IS NULL")
    return int(str(count))


def journal_actions(world: World) -> list[str]:
    return [str(row[0]) for row in world.index.query("SELECT action FROM journal ORDER BY id")]


def other_key_token(world: World) -> Answer:
    """Signed by a key of our own that claims the issuer's kid."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = world.tmp / "other-key.pem"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    kid = load_signing_key(world.issuer.key_path).kid
    return mint(world, sign(claims(world), path, headers={"kid": kid}))


Case = Callable[[World], Answer]

CASES: dict[str, tuple[Case, str, str]] = {
    # -- the request --
    "body not JSON": (lambda w: exchange(w, b"token=abc"), "invalid-payload", "Invalid JSON"),
    "no token field": (lambda w: exchange(w, "{}"), "invalid-payload", "token: Field required"),
    "token not a string": (
        lambda w: exchange(w, '{"token": 42}'),
        "invalid-payload",
        "valid string",
    ),
    "garbage token": (lambda w: mint(w, "not.a.jwt"), "invalid-payload", "malformed JWT"),
    "lone surrogate in the token": (
        lambda w: exchange(w, b'{"token": "\\ud800.e30.c2ln"}'),
        "invalid-payload",
        "malformed JWT",
    ),
    "oversize token": (
        lambda w: mint(w, forge(w, padding="x" * 20000)),
        "invalid-payload",
        "longer than",
    ),
    "no iss": (lambda w: mint(w, forge(w, iss=None)), "invalid-payload", "malformed JWT"),
    # -- the issuer --
    "untrusted issuer": (
        lambda w: mint(w, forge(w, iss="https://evil.example.com")),
        "invalid-payload",
        "unknown trusted publishing issuer",
    ),
    "issuer with trailing slash": (
        lambda w: mint(w, forge(w, iss=w.issuer.url + "/")),
        "invalid-payload",
        "unknown trusted publishing issuer",
    ),
    "issuer in other case": (
        lambda w: mint(w, forge(w, iss=w.issuer.url.upper())),
        "invalid-payload",
        "unknown trusted publishing issuer",
    ),
    # -- the signature --
    "alg none": (
        lambda w: mint(w, forge(w, algorithm="none")),
        "invalid-token",
        "malformed or invalid token",
    ),
    "alg none lying as RS256": (
        lambda w: mint(w, forge(w, algorithm="none", headers={"alg": "RS256"})),
        "invalid-token",
        "malformed or invalid token",
    ),
    "HS256 with the public key": (
        lambda w: mint(w, forge(w, algorithm="HS256")),
        "invalid-token",
        "malformed or invalid token",
    ),
    "PS256 not allowed": (
        lambda w: mint(w, forge(w, algorithm="PS256")),
        "invalid-token",
        "malformed or invalid",
    ),
    "unknown kid": (
        lambda w: mint(w, forge(w, headers={"kid": "no-such-key"})),
        "invalid-token",
        "malformed or invalid",
    ),
    "no kid": (
        lambda w: mint(w, forge(w, headers={"kid": None})),
        "invalid-token",
        "malformed or invalid",
    ),
    "jku header": (
        lambda w: mint(w, forge(w, headers={"jku": "https://evil.example.com/jwks"})),
        "invalid-token",
        "malformed or invalid",
    ),
    "x5u header": (
        lambda w: mint(w, forge(w, headers={"x5u": "https://evil.example.com/cert"})),
        "invalid-token",
        "malformed or invalid",
    ),
    "signed by another key": (other_key_token, "invalid-token", "malformed or invalid"),
    "tampered payload": (
        lambda w: mint(w, _tamper(forge(w))),
        "invalid-token",
        "malformed or invalid",
    ),
    # -- registered claims --
    "wrong audience": (
        lambda w: mint(w, forge(w, aud="pypi")),
        "invalid-token",
        "malformed or invalid",
    ),
    "audience list": (
        lambda w: mint(w, forge(w, aud=[w.audience, "pypi"])),
        "invalid-token",
        "malformed or invalid",
    ),
    "expired": (
        lambda w: mint(w, forge(w, exp=int(time.time()) - 120, iat=int(time.time()) - 420)),
        "invalid-token",
        "malformed or invalid",
    ),
    "not yet valid (nbf)": (
        lambda w: mint(w, forge(w, nbf=int(time.time()) + 600)),
        "invalid-token",
        "malformed or invalid",
    ),
    "issued in the future": (
        lambda w: mint(w, forge(w, iat=int(time.time()) + 600, nbf=None)),
        "invalid-token",
        "malformed or invalid",
    ),
    "no exp": (lambda w: mint(w, forge(w, exp=None)), "invalid-token", "malformed or invalid"),
    "no iat": (lambda w: mint(w, forge(w, iat=None)), "invalid-token", "malformed or invalid"),
    "no aud": (lambda w: mint(w, forge(w, aud=None)), "invalid-token", "malformed or invalid"),
    # -- absurd dates (issue 14, finding 9: exp = 1e20 was a 500) --
    "exp 1e20": (
        lambda w: mint(w, forge(w, exp=1e20)),
        "invalid-token",
        "exp is not a NumericDate",
    ),
    "lifetime over the cap": (
        lambda w: mint(w, forge(w, exp=int(time.time()) + MAX_LIFETIME + 60)),
        "invalid-token",
        f"more than the {MAX_LIFETIME} s",
    ),
    "iat as a string": (
        lambda w: mint(w, forge(w, iat=str(int(time.time())))),
        "invalid-token",
        "iat is not a NumericDate",
    ),
    "nbf infinite": (
        lambda w: mint(w, forge(w, nbf=float("-inf"))),
        "invalid-token",
        "malformed or invalid",  # (PyJWT's own refusal: it cannot make an int of it)
    ),
    # -- the publisher's claims --
    "other repository": (
        lambda w: mint(w, forge(w, repository="octo/evil")),
        "invalid-publisher",
        "no corresponding publisher",
    ),
    "other owner": (
        lambda w: mint(w, forge(w, repository="evil/widgets", repository_owner="evil")),
        "invalid-publisher",
        "no corresponding publisher",
    ),
    "repository_owner disagrees with repository": (
        lambda w: mint(w, forge(w, repository_owner="evil")),
        "invalid-publisher",
        "Check failed for required claim 'repository_owner'",
    ),
    "other owner id": (
        lambda w: mint(w, forge(w, repository_owner_id="666")),
        "invalid-publisher",
        "Check failed for required claim 'repository_owner_id'",
    ),
    "other workflow": (
        lambda w: mint(
            w,
            forge(w, job_workflow_ref="octo/widgets/.github/workflows/deploy.yml@refs/tags/v1.0.0"),
        ),
        "invalid-publisher",
        "The job_workflow_ref claim does not match",
    ),
    "workflow smuggled through the ref": (
        lambda w: mint(
            w,
            forge(
                w,
                ref="refs/heads/x/release.yml",
                job_workflow_ref="octo/widgets/.github/workflows/evil.yml@refs/heads/x/release.yml",
            ),
        ),
        "invalid-publisher",
        "The job_workflow_ref claim does not match",
    ),
    "workflow path traversal": (
        lambda w: mint(
            w,
            forge(
                w, job_workflow_ref="octo/widgets/.github/workflows/../release.yml@refs/tags/v1.0.0"
            ),
        ),
        "invalid-publisher",
        "The job_workflow_ref claim does not match",
    ),
    "reusable workflow elsewhere": (
        lambda w: mint(
            w,
            forge(w, job_workflow_ref="evil/tools/.github/workflows/release.yml@refs/tags/v1.0.0"),
        ),
        "invalid-publisher",
        "The job_workflow_ref claim does not match",
    ),
    "ref differs from job_workflow_ref": (
        lambda w: mint(w, forge(w, ref="refs/heads/main")),
        "invalid-publisher",
        "The job_workflow_ref claim does not match",
    ),
    "other environment": (
        lambda w: mint(w, forge(w, environment="staging")),
        "invalid-publisher",
        "Check failed for optional claim 'environment'",
    ),
    "no environment": (
        lambda w: mint(w, forge(w, environment=None)),
        "invalid-publisher",
        "Check failed for optional claim 'environment'",
    ),
    "pull_request_target": (
        lambda w: mint(w, forge(w, event_name="pull_request_target")),
        "invalid-publisher",
        "pull_request_target",
    ),
    "no jti": (lambda w: mint(w, forge(w, jti=None)), "invalid-publisher", "Missing claim 'jti'"),
    "no sha": (lambda w: mint(w, forge(w, sha=None)), "invalid-publisher", "Missing claim 'sha'"),
}


def _tamper(token: str) -> str:
    header, payload, signature = token.split(".")
    raw = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    raw["repository"] = "octo/widgets"
    raw["environment"] = "PyPI"
    forged = base64.urlsafe_b64encode(json.dumps(raw).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_refused_with_the_right_code_and_nothing_minted(world: World, case: str) -> None:
    make, code, description = CASES[case]
    before = minted_tokens(world)
    answer = make(world)
    assert answer.status == 422, answer.text
    document = json.loads(answer.body)
    assert document["message"] == "Token request failed"
    assert [e["code"] for e in document["errors"]] == [code], document
    assert description in document["errors"][0]["description"]
    assert minted_tokens(world) == before
    assert any(code in action for action in journal_actions(world)[-3:])


def test_at_least_thirty_attacks() -> None:
    assert len(CASES) >= 30


def test_the_same_token_twice_is_refused(world: World) -> None:
    token = forge(world)
    first = mint(world, token)
    assert first.status == 200, first.text
    again = mint(world, token)
    assert again.status == 422
    assert json.loads(again.body)["errors"][0]["code"] == "invalid-reuse-token"


def test_replay_is_refused_by_another_process_on_the_same_data(world: World) -> None:
    second = start_index(world.index.data)
    try:
        token = forge(world)
        assert mint(world, token).status == 200
        replay = request(
            second, "POST", "/_/oidc/mint-token", json.dumps({"token": token}).encode()
        )
        assert replay.status == 422
        assert json.loads(replay.body)["errors"][0]["code"] == "invalid-reuse-token"
    finally:
        second.stop()


def test_audience_and_alias_and_methods(world: World) -> None:
    answer = request(world.index, "GET", "/_/oidc/audience")
    assert json.loads(answer.body) == {"audience": world.audience}
    alias = exchange(world, json.dumps({"token": forge(world)}), "/_/oidc/github/mint-token")
    assert alias.status == 200
    assert request(world.index, "GET", "/_/oidc/mint-token").status == 405


def _minted(world: World, **overrides: Any) -> dict[str, Any]:
    answer = mint(world, forge(world, **overrides))
    assert answer.status == 200, answer.text
    document: dict[str, Any] = json.loads(answer.body)
    return document


def test_minted_token_shape_and_lifetime(world: World) -> None:
    document = _minted(world)
    assert document["success"] is True
    assert document["token"].startswith("trustyard-")
    assert 890 <= document["expires"] - time.time() <= 905  # 15 minutes, as PyPI's


def test_minted_token_publishes_only_its_project(world: World) -> None:
    token = _minted(world)["token"]
    wheel = build_wheel(world.tmp / "mine", "tp-target", "1.0")
    assert upload_file(world.index, token, wheel, "tp-target", "1.0").status == 200
    other = upload_file(
        world.index, token, build_wheel(world.tmp / "o", "tp-other", "1.0"), "tp-other", "1.0"
    )
    assert other.status == 403
    new = upload_file(
        world.index,
        token,
        build_wheel(world.tmp / "n", "tp-brand-new", "1.0"),
        "tp-brand-new",
        "1.0",
    )
    assert new.status == 400
    assert new.reason.startswith("Non-user identities cannot create new projects.")


def test_minted_token_dies_after_fifteen_minutes(world: World) -> None:
    token = _minted(world)["token"]
    token_id = token.removeprefix("trustyard-").split(".")[0]
    # Fifteen minutes pass for this token: it expires when it was made.
    world.index.execute("UPDATE tokens SET expires = created WHERE id = :id", id=token_id)
    late = upload_file(
        world.index, token, build_wheel(world.tmp / "late", "tp-target", "1.1"), "tp-target", "1.1"
    )
    assert late.status == 403
    assert late.reason == "Invalid API Token: token is expired"


def test_burnt_token_is_dead(world: World) -> None:
    token = _minted(world)["token"]
    burn = exchange(world, json.dumps({"token": token}), "/_/oidc/burn-token")
    assert burn.status == 200
    dead = upload_file(
        world.index, token, build_wheel(world.tmp / "burnt", "tp-target", "1.2"), "tp-target", "1.2"
    )
    assert dead.status == 403
    assert dead.reason == "Invalid API Token: token has been revoked"
    assert exchange(world, json.dumps({"token": world.alice}), "/_/oidc/burn-token").status == 422


def test_the_host_revokes_a_minted_upload_token_under_its_projects(world: World) -> None:
    token = _minted(world)["token"]
    token_id = token.removeprefix("trustyard-").split(".")[0]
    world.index.cli("admin", "token", "revoke", token_id)
    dead = upload_file(
        world.index,
        token,
        build_wheel(world.tmp / "revoked", "tp-target", "1.3"),
        "tp-target",
        "1.3",
    )
    assert dead.status == 403
    assert dead.reason == "Invalid API Token: token has been revoked"
    entries = world.index.query(
        "SELECT project_name FROM journal WHERE action LIKE :action",
        action=f"trusted publishing: token {token_id} of % revoked by an admin",
    )
    assert [row[0] for row in entries] == ["tp-target"]


def test_removed_publisher_takes_its_tokens_along(world: World) -> None:
    world.index.cli(
        "publisher",
        "add",
        "tp-other",
        "github",
        "--repository",
        "octo/temp",
        "--workflow",
        "release.yml",
        "--issuer",
        world.issuer.url,
    )
    listing = json.loads(world.index.cli("publisher", "list", "tp-other", "--json").stdout)
    temp = next(p for p in listing if "octo/temp" in p["description"])
    token = _minted(
        world,
        repository="octo/temp",
        repository_owner="octo",
        job_workflow_ref="octo/temp/.github/workflows/release.yml@refs/tags/v1.0.0",
        environment=None,
    )["token"]
    world.index.cli("publisher", "remove", "tp-other", str(temp["id"]))
    refused = upload_file(
        world.index, token, build_wheel(world.tmp / "rm", "tp-other", "2.0"), "tp-other", "2.0"
    )
    assert refused.status == 403


def test_pending_publisher_of_a_disabled_owner_creates_nothing(world: World) -> None:
    world.index.create_user("dora")
    world.index.cli(
        "publisher",
        "add-pending",
        "tp-pending",
        "github",
        "--repository",
        "octo/pending",
        "--workflow",
        "release.yml",
        "--issuer",
        world.issuer.url,
        "--owner",
        "dora",
    )
    pending_claims: dict[str, Any] = {
        "repository": "octo/pending",
        "repository_owner": "octo",
        "job_workflow_ref": "octo/pending/.github/workflows/release.yml@refs/tags/v1.0.0",
        "environment": None,
    }
    world.index.cli("admin", "user", "disable", "dora")
    before = minted_tokens(world)
    refused = mint(world, forge(world, **pending_claims))
    assert refused.status == 422, refused.text
    (error,) = json.loads(refused.body)["errors"]
    assert error["code"] == "invalid-pending-publisher"
    assert "owner is disabled" in error["description"]
    assert minted_tokens(world) == before
    assert world.index.query("SELECT id FROM projects WHERE normalized_name = 'tp-pending'") == []
    # Enabled again, the same publisher creates its project, owned by dora.
    world.index.cli("admin", "user", "enable", "dora")
    assert _minted(world, **pending_claims)["success"] is True
    owners = world.index.query(
        "SELECT users.username FROM roles JOIN users ON users.id = roles.user_id"
        " JOIN projects ON projects.id = roles.project_id"
        " WHERE projects.normalized_name = 'tp-pending' AND roles.role = 'owner'"
    )
    assert owners == [("dora",)]


def test_a_namespace_reserved_after_a_pending_publisher_stops_it(world: World) -> None:
    """PEP 752: only a namespace's owners create projects in it, also by a pending publisher
    registered before the reservation; owning the namespace lets it create its project."""
    world.index.create_user("nora")
    world.index.cli(
        "publisher",
        "add-pending",
        "tpns-tool",
        "github",
        "--repository",
        "octo/tpns-tool",
        "--workflow",
        "release.yml",
        "--issuer",
        world.issuer.url,
        "--owner",
        "nora",
    )
    added = world.index.cli("admin", "namespace", "add", "tpns", "--owner", "alice")
    assert "pending publisher" in added.stdout
    assert "tpns-tool (added by nora)" in added.stdout
    claims: dict[str, Any] = {
        "repository": "octo/tpns-tool",
        "repository_owner": "octo",
        "job_workflow_ref": "octo/tpns-tool/.github/workflows/release.yml@refs/tags/v1.0.0",
        "environment": None,
    }
    before = minted_tokens(world)
    refused = mint(world, forge(world, **claims))
    assert refused.status == 422, refused.text
    (error,) = json.loads(refused.body)["errors"]
    assert error["code"] == "invalid-pending-publisher"
    assert "reserved namespace 'tpns'" in error["description"]
    assert minted_tokens(world) == before
    assert world.index.query("SELECT id FROM projects WHERE normalized_name = 'tpns-tool'") == []
    world.index.cli("admin", "namespace", "owner", "add", "tpns", "nora")
    assert _minted(world, **claims)["success"] is True


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["disable", "nobody"], "no user named 'nobody'"),
        (["enable", "alice"], "alice is already enabled"),
    ],
)
def test_disable_and_enable_refuse_bad_input(world: World, args: list[str], problem: str) -> None:
    result = world.index.cli("admin", "user", *args, check=False)
    assert result.returncode == 1, result.stderr
    assert problem in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


# -- one CI identity, several projects (issue 14, findings 6 and 17) ----------------------------


def _github(world: World, project: str, repository: str, *extra: str) -> int:
    """Add a GitHub publisher (workflow release.yml) to ``project``; its id."""
    return int(
        world.index.cli(
            "publisher", "add", project, "github", "--repository", repository,
            "--workflow", "release.yml", "--issuer", world.issuer.url, *extra,
        ).stdout
    )  # fmt: skip


def _project(world: World, name: str, owner: str = "alice") -> None:
    world.index.cli("admin", "project", "create", name, "--owner", owner)


def _run_of(repository: str, environment: str | None = "pypi") -> dict[str, Any]:
    owner = repository.split("/", maxsplit=1)[0]
    return {
        "repository": repository,
        "repository_owner": owner,
        "job_workflow_ref": f"{repository}/.github/workflows/release.yml@refs/tags/v1.0.0",
        "environment": environment,
    }


def _upload(world: World, token: str, project: str, version: str) -> Answer:
    wheel = build_wheel(world.tmp / f"{project}-{version}", project, version)
    return upload_file(world.index, token, wheel, project, version)


def test_a_more_specific_publisher_elsewhere_does_not_capture_the_mint(world: World) -> None:
    """Finding 6: mallory's publisher bound to the victim's environment, on mallory's own
    project, used to win the match; the victim's upload then failed and its jti was spent."""
    _project(world, "tp-victim")
    _github(world, "tp-victim", "octo/shadowed")
    world.index.create_user("mallory")
    _project(world, "tp-shadow", owner="mallory")
    _github(world, "tp-shadow", "octo/shadowed", "--environment", "pypi")
    token = _minted(world, **_run_of("octo/shadowed"))["token"]
    assert _upload(world, token, "tp-victim", "1.0").status == 200


def test_one_workflow_publishes_every_project_it_is_the_publisher_of(world: World) -> None:
    """Finding 17: a monorepo's workflow is the publisher of two projects; its one token
    uploads to both, and the journal of each project names both."""
    for name in ("tp-mono-a", "tp-mono-b"):
        _project(world, name)
        _github(world, name, "octo/mono", "--environment", "pypi")
    token = _minted(world, **_run_of("octo/mono"))["token"]
    assert _upload(world, token, "tp-mono-a", "1.0").status == 200
    assert _upload(world, token, "tp-mono-b", "1.0").status == 200
    for name in ("tp-mono-a", "tp-mono-b"):
        rows = world.index.query(
            "SELECT action FROM journal WHERE project_name = :name AND action LIKE :minted",
            name=name,
            minted="trusted publishing: minted token%",
        )
        assert len(rows) == 1, rows
        assert "tp-mono-a" in str(rows[0][0])
        assert "tp-mono-b" in str(rows[0][0])


def test_removing_one_projects_publisher_ends_the_tokens_access_to_that_project(
    world: World,
) -> None:
    ids = {}
    for name in ("tp-split-a", "tp-split-b"):
        _project(world, name)
        ids[name] = _github(world, name, "octo/split")
    token = _minted(world, **_run_of("octo/split", environment=None))["token"]
    world.index.cli("publisher", "remove", "tp-split-b", str(ids["tp-split-b"]))
    before = world.index.snapshot()
    refused = _upload(world, token, "tp-split-b", "1.0")
    assert refused.status == 403, refused.text
    after = world.index.snapshot()
    assert after.tables["releases"] == before.tables["releases"]
    assert after.files == before.files
    assert _upload(world, token, "tp-split-a", "1.0").status == 200


def test_a_publisher_without_environment_matches_any_and_one_with_only_its_own(
    world: World,
) -> None:
    _project(world, "tp-env-any")
    _github(world, "tp-env-any", "octo/envs")
    _project(world, "tp-env-prod")
    _github(world, "tp-env-prod", "octo/envs", "--environment", "prod")
    token = _minted(world, **_run_of("octo/envs", environment="staging"))["token"]
    assert _upload(world, token, "tp-env-any", "1.0").status == 200
    assert _upload(world, token, "tp-env-prod", "1.0").status == 403


# -- pending publishers (finding 1) --------------------------------------------------------------


def test_several_matching_pending_publishers_refuse_the_mint(world: World) -> None:
    """Two pending publishers (left from before registration refused overlaps) match one
    token: nothing is picked, nothing created, and the refusal names both in the journal."""
    world.index.create_user("pat")
    first = int(
        world.index.cli(
            "publisher", "add-pending", "tp-pend-one", "github",
            "--repository", "octo/twice", "--workflow", "release.yml",
            "--issuer", world.issuer.url, "--owner", "pat",
        ).stdout
    )  # fmt: skip
    world.index.execute(
        "INSERT INTO publishers (project_id, pending_name, kind, issuer, lookup, config,"
        " added_by, created) SELECT project_id, 'tp-pend-two', kind, issuer, lookup, config,"
        " 'mallory', created FROM publishers WHERE id = :id",
        id=first,
    )
    before = world.index.snapshot()
    refused = mint(world, forge(world, **_run_of("octo/twice", environment=None)))
    assert refused.status == 422, refused.text
    (error,) = json.loads(refused.body)["errors"]
    assert error["code"] == "invalid-pending-publisher"
    assert "more than one pending publisher" in error["description"]
    after = world.index.snapshot()
    for table in ("projects", "publishers", "tokens", "roles"):
        assert after.tables[table] == before.tables[table], table
    last = journal_actions(world)[-1]
    assert "tp-pend-one" in last
    assert "tp-pend-two" in last


# -- GitHub owner (finding 13) ---------------------------------------------------------------------


def test_owner_id_is_pinned_at_the_first_mint(world: World) -> None:
    """A publisher registered without --owner-id takes the owner id of its first successful
    mint; a token of a resurrected owner (same name, other id) is refused afterwards."""
    _project(world, "tp-pinned")
    publisher = _github(world, "tp-pinned", "octo/pinned")
    run = _run_of("octo/pinned", environment=None)
    assert _minted(world, **run, repository_owner_id="7007")["success"] is True
    [(config,)] = world.index.query("SELECT config FROM publishers WHERE id = :id", id=publisher)
    stored = json.loads(config) if isinstance(config, str) else config
    assert isinstance(stored, dict)
    assert stored["owner_id"] == "7007"
    assert any(
        "pin" in action and "7007" in action and str(publisher) in action
        for action in journal_actions(world)[-3:]
    )
    before = minted_tokens(world)
    refused = mint(world, forge(world, **run, repository_owner_id="8008"))
    assert refused.status == 422, refused.text
    assert "repository_owner_id" in json.loads(refused.body)["errors"][0]["description"]
    assert minted_tokens(world) == before
    assert _minted(world, **run, repository_owner_id="7007")["success"] is True
