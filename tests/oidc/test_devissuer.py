"""The development issuer: discovery, JWKS, signed tokens with GitHub's or GitLab's claims,
the environments that make unmodified clients (the ``id`` package) fetch them, and refusals."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import stat
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from tests.conftest import PYTHON
from tests.oidc.conftest import DevIssuer, ci_free_env, start_dev_issuer, trustyard_env
from trustyard.errors import InvalidInput
from trustyard.oidc.devclaims import (
    BadRequestToken,
    GitHubRun,
    GitLabJob,
    TokenRequest,
    audience_env_var,
    request_token,
)
from trustyard.oidc.devissuer import IssuerUnreachable, fetch_token
from trustyard.oidc.devkeys import generate_key_file, sign

AUDIENCE = "trustyard-test"


def get_json(url: str, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def verify(
    issuer: DevIssuer,
    token: str,
    audience: str = AUDIENCE,
    require: tuple[str, ...] = ("iss", "aud", "exp", "iat", "nbf", "jti"),
) -> dict[str, Any]:
    """Verify as a relying party would: key from the JWKS named in discovery, RS256 only."""
    _, discovery = get_json(issuer.url + "/.well-known/openid-configuration")
    signing_key = jwt.PyJWKClient(discovery["jwks_uri"]).get_signing_key_from_jwt(token)
    claims: dict[str, Any] = jwt.decode(
        token,
        signing_key.key,
        algorithms=["RS256"],
        audience=audience,
        issuer=discovery["issuer"],
        options={"require": list(require)},
    )
    return claims


def rfc7638_thumbprint(jwk: dict[str, str]) -> str:
    canonical = json.dumps(
        {k: jwk[k] for k in ("e", "kty", "n")}, sort_keys=True, separators=(",", ":")
    )
    return (
        base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()
    )


def detect_credential(
    env: dict[str, str], tmp_path: Path, audience: str = AUDIENCE
) -> subprocess.CompletedProcess[str]:
    """The ``id`` package, unmodified, in a process that has only ``env``."""
    return subprocess.run(
        [PYTHON, "-c", f"import id; print(id.detect_credential({audience!r}))"],
        env=ci_free_env(tmp_path, env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_discovery_names_the_issuer_and_its_keys(dev_issuer: DevIssuer) -> None:
    status, discovery = get_json(dev_issuer.url + "/.well-known/openid-configuration")
    assert status == 200
    assert discovery["issuer"] == dev_issuer.url
    assert not discovery["issuer"].endswith("/")
    assert discovery["jwks_uri"] == dev_issuer.url + "/.well-known/jwks"
    assert discovery["id_token_signing_alg_values_supported"] == ["RS256"]
    assert discovery["response_types_supported"] == ["id_token"]
    assert "job_workflow_ref" in discovery["claims_supported"]


def test_jwks_serves_the_key_with_its_thumbprint_as_kid(dev_issuer: DevIssuer) -> None:
    status, jwks = get_json(dev_issuer.url + "/.well-known/jwks")
    assert status == 200
    [key] = jwks["keys"]
    assert key["kty"] == "RSA"
    assert key["alg"] == "RS256"
    assert key["use"] == "sig"
    assert key["kid"] == rfc7638_thumbprint(key)
    assert jwt.PyJWK(key).key.key_size == 2048
    assert get_json(dev_issuer.url + "/oauth/discovery/keys") == (200, jwks)
    assert stat.S_IMODE(dev_issuer.key_path.stat().st_mode) == 0o600


@pytest.mark.slow
def test_the_key_survives_a_restart(tmp_path: Path) -> None:
    first = start_dev_issuer(tmp_path / "issuer")
    try:
        _, before = get_json(first.url + "/.well-known/jwks")
    finally:
        first.stop()
    second = start_dev_issuer(tmp_path / "issuer")
    try:
        _, after = get_json(second.url + "/.well-known/jwks")
    finally:
        second.stop()
    assert after == before


def test_token_endpoint_signs_github_claims(dev_issuer: DevIssuer) -> None:
    run = GitHubRun(
        repository="Octo-Org/widget", workflow="release.yml", ref="refs/tags/v1.0.0", owner_id="42"
    )
    status, body = get_json(
        f"{dev_issuer.url}/token?api-version=2.0&audience={AUDIENCE}",
        {"Authorization": f"Bearer {request_token(run.claims())}"},
    )
    assert status == 200
    token = body["value"]
    claims = verify(dev_issuer, token)
    assert (
        jwt.get_unverified_header(token)["kid"]
        == get_json(dev_issuer.url + "/.well-known/jwks")[1]["keys"][0]["kid"]
    )
    assert claims["iss"] == dev_issuer.url
    assert claims["aud"] == AUDIENCE
    assert claims["sub"] == "repo:Octo-Org/widget:ref:refs/tags/v1.0.0"
    assert claims["repository"] == "Octo-Org/widget"
    assert claims["repository_owner"] == "Octo-Org"
    assert claims["repository_owner_id"] == "42"
    assert (
        claims["workflow_ref"] == "Octo-Org/widget/.github/workflows/release.yml@refs/tags/v1.0.0"
    )
    assert claims["job_workflow_ref"] == claims["workflow_ref"]
    assert claims["ref_type"] == "tag"
    assert claims["ref_protected"] == "false"
    assert claims["event_name"] == "push"
    assert claims["runner_environment"] == "github-hosted"
    assert "environment" not in claims
    assert claims["exp"] - claims["iat"] == 300
    assert claims["nbf"] == claims["iat"]
    assert uuid.UUID(claims["jti"]).version == 4
    assert claims["jti"] != verify(dev_issuer, dev_issuer.mint(AUDIENCE, run.claims()))["jti"]


def test_subject_follows_environment_then_pull_request_then_ref(dev_issuer: DevIssuer) -> None:
    with_env = GitHubRun(repository="o/r", environment="pypi")
    assert (
        verify(dev_issuer, dev_issuer.mint(AUDIENCE, with_env.claims()))["sub"]
        == "repo:o/r:environment:pypi"
    )
    assert with_env.claims()["environment"] == "pypi"
    pull = GitHubRun(repository="o/r", event_name="pull_request", ref="refs/pull/7/merge")
    assert pull.claims()["sub"] == "repo:o/r:pull_request"
    assert (
        GitHubRun(repository="o/r", event_name="pull_request", environment="e").claims()["sub"]
        == "repo:o/r:environment:e"
    )


def test_cli_token_with_overrides_and_drops(dev_issuer: DevIssuer) -> None:
    token = dev_issuer.token(
        AUDIENCE,
        "--repository", "o/r",
        "--environment", "pypi",
        "--job-workflow-ref", "other/shared/.github/workflows/publish.yml@refs/heads/main",
        "--claim", "repository_owner_id=99",
        "--claim-json", "run_attempt=2",
        "--drop-claim", "environment",
        "--drop-claim", "nbf",
    )  # fmt: skip
    claims = verify(dev_issuer, token, require=("iss", "aud", "exp", "iat", "jti"))
    assert claims["repository_owner_id"] == "99"
    assert claims["run_attempt"] == 2
    assert "environment" not in claims
    assert "nbf" not in claims
    assert claims["sub"] == "repo:o/r:environment:pypi"
    assert (
        claims["job_workflow_ref"] == "other/shared/.github/workflows/publish.yml@refs/heads/main"
    )

    listed = dev_issuer.token(AUDIENCE, "--repository", "o/r", "--claim-json", 'aud=["a","b"]')
    assert jwt.decode(listed, options={"verify_signature": False})["aud"] == ["a", "b"]


def test_lifetime_and_time_shift_make_expired_and_future_tokens(dev_issuer: DevIssuer) -> None:
    claims = GitHubRun(repository="o/r").claims()
    expired = dev_issuer.token(AUDIENCE, "--repository", "o/r", "--time-shift", "-3600")
    with pytest.raises(jwt.ExpiredSignatureError):
        verify(dev_issuer, expired)
    future = dev_issuer.mint(AUDIENCE, claims, shift=3600, lifetime=600)
    with pytest.raises(jwt.ImmatureSignatureError):
        verify(dev_issuer, future)
    payload = jwt.decode(future, options={"verify_signature": False})
    assert payload["exp"] - payload["iat"] == 600
    assert payload["iat"] > time.time() + 3000


def test_gitlab_claims(dev_issuer: DevIssuer) -> None:
    token = dev_issuer.token(
        AUDIENCE,
        "--gitlab",
        "--project",
        "group/sub/proj",
        "--ref",
        "refs/tags/v1.0.0",
        "--environment",
        "release",
    )
    claims = verify(dev_issuer, token)
    host = dev_issuer.url.removeprefix("http://")
    assert claims["sub"] == "project_path:group/sub/proj:ref_type:tag:ref:v1.0.0"
    assert claims["namespace_path"] == "group/sub"
    assert claims["project_path"] == "group/sub/proj"
    assert claims["ref"] == "v1.0.0"
    assert claims["ref_path"] == "refs/tags/v1.0.0"
    assert claims["ref_type"] == "tag"
    assert claims["ci_config_ref_uri"] == f"{host}/group/sub/proj//.gitlab-ci.yml@refs/tags/v1.0.0"
    assert claims["environment"] == "release"
    assert claims["environment_protected"] == "false"
    assert isinstance(claims["runner_id"], int)
    assert "repository" not in claims
    branch = GitLabJob(project="ns/p", ref="main", workflow_path="ci/release.yml").claims(
        "https://gitlab.example.test"
    )
    assert branch["sub"] == "project_path:ns/p:ref_type:branch:ref:main"
    assert branch["ci_config_ref_uri"] == "gitlab.example.test/ns/p//ci/release.yml@refs/heads/main"
    assert "environment" not in branch


def test_id_detect_credential_works_unmodified_in_github_mode(
    dev_issuer: DevIssuer, tmp_path: Path
) -> None:
    env = dev_issuer.env(
        "--repository", "o/r", "--workflow", "release.yml", "--ref", "refs/tags/v1.0.0",
        "--environment", "pypi", "--event", "release", "--sha", "a" * 40,
    )  # fmt: skip
    assert env["GITHUB_ACTIONS"] == "true"
    assert env["ACTIONS_ID_TOKEN_REQUEST_URL"] == f"{dev_issuer.url}/token?api-version=2.0"
    assert env["GITHUB_REPOSITORY"] == "o/r"
    assert env["GITHUB_REF"] == "refs/tags/v1.0.0"
    assert env["GITHUB_SHA"] == "a" * 40
    assert env["GITHUB_WORKFLOW_REF"] == "o/r/.github/workflows/release.yml@refs/tags/v1.0.0"
    assert env["GITHUB_EVENT_NAME"] == "release"

    result = detect_credential(env, tmp_path)
    assert result.returncode == 0, result.stderr
    claims = verify(dev_issuer, result.stdout.strip())
    assert claims["sub"] == "repo:o/r:environment:pypi"
    assert claims["event_name"] == "release"
    assert claims["sha"] == "a" * 40
    # id added the audience to the query the URL already had, as GitHub's runner expects.
    assert f"GET /token?api-version=2.0&audience={AUDIENCE} " in dev_issuer.log.read_text()

    without_token = detect_credential({**env, "ACTIONS_ID_TOKEN_REQUEST_TOKEN": ""}, tmp_path)
    assert without_token.returncode != 0
    assert "ACTIONS_ID_TOKEN_REQUEST_TOKEN" in without_token.stderr


def test_gitlab_mode_exports_the_audience_variable(dev_issuer: DevIssuer, tmp_path: Path) -> None:
    env = dev_issuer.env(
        "--gitlab", "--project", "ns/proj", "--audience", AUDIENCE, "--ref", "refs/tags/v2.0"
    )
    assert env["GITLAB_CI"] == "true"
    assert "GITHUB_ACTIONS" not in env
    assert env["CI_PROJECT_PATH"] == "ns/proj"
    claims = verify(dev_issuer, env["TRUSTYARD_TEST_ID_TOKEN"])
    assert claims["sub"] == "project_path:ns/proj:ref_type:tag:ref:v2.0"
    result = detect_credential(env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == env["TRUSTYARD_TEST_ID_TOKEN"]

    assert audience_env_var("pypi") == "PYPI_ID_TOKEN"
    assert audience_env_var("testpypi") == "TESTPYPI_ID_TOKEN"
    assert audience_env_var("pypi.example:8443") == "PYPI_EXAMPLE_8443_ID_TOKEN"

    missing = dev_issuer.cli("env", "--gitlab", "--project", "ns/proj", check=False)
    assert missing.returncode != 0
    assert "--audience" in missing.stderr


def test_env_values_are_shell_quoted(dev_issuer: DevIssuer, tmp_path: Path) -> None:
    ref = 'refs/heads/it\'s $(touch pwned) `touch pwned2` "x"; echo'
    result = dev_issuer.cli("env", "--repository", "o/r", "--ref", ref)
    shell = subprocess.run(
        ["sh", "-c", result.stdout + 'printf %s "$GITHUB_REF"'],
        cwd=tmp_path, capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    assert shell.stdout == ref
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("headers", "status", "message"),
    [
        ({}, 401, "Authorization: Bearer"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, 401, "Authorization: Bearer"),
        ({"Authorization": "Bearer !!not-base64!!"}, 401, "not base64url JSON"),
        (
            {"Authorization": "Bearer " + base64.urlsafe_b64encode(b"[1]").decode()},
            401,
            "not a JSON object",
        ),
        (
            {
                "Authorization": "Bearer "
                + base64.urlsafe_b64encode(b'{"claims": 1, "x": 2}').decode()
            },
            401,
            "unknown fields x",
        ),
    ],
    ids=["missing", "basic", "garbage", "array", "bad-fields"],
)
def test_bad_token_requests_are_refused(
    dev_issuer: DevIssuer, headers: dict[str, str], status: int, message: str
) -> None:
    code, body = get_json(f"{dev_issuer.url}/token?audience={AUDIENCE}", headers)
    assert code == status
    assert body["error"] == "invalid_token"
    assert message in body["message"]


def test_missing_audience_wrong_path_and_method(dev_issuer: DevIssuer) -> None:
    good = {"Authorization": f"Bearer {request_token({'sub': 'x'})}"}
    assert get_json(f"{dev_issuer.url}/token?api-version=2.0", good)[0] == 400
    assert "audience" in get_json(f"{dev_issuer.url}/token?audience=", good)[1]["message"]
    assert get_json(f"{dev_issuer.url}/nothing-here")[0] == 404
    request = urllib.request.Request(f"{dev_issuer.url}/token?audience=a", data=b"{}", headers=good)
    with pytest.raises(urllib.error.HTTPError) as post:
        urllib.request.urlopen(request, timeout=10)
    assert post.value.code == 405
    post.value.close()
    with pytest.raises(IssuerUnreachable, match="refused the token request \\(401\\)"):
        fetch_token(dev_issuer.url, AUDIENCE, "garbage!")


def test_fetch_token_reports_an_issuer_that_is_not_there() -> None:
    with pytest.raises(IssuerUnreachable, match="cannot reach"):
        fetch_token("http://127.0.0.1:1", AUDIENCE, request_token({}))
    with pytest.raises(InvalidInput, match="not an http"):
        fetch_token("file:///etc/passwd", AUDIENCE, request_token({}))


def test_public_addresses_need_insecure_public(tmp_path: Path) -> None:
    everywhere = "0.0.0.0"  # noqa: S104 - the point: it must be refused
    result = subprocess.run(
        [PYTHON, "-m", "trustyard", "issuer", "serve", "--host", everywhere, "--port", "0", "--data", str(tmp_path)],
        capture_output=True, text=True, env=trustyard_env(), timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert "--insecure-public" in result.stderr
    assert not (tmp_path / "issuer-key.pem").exists()


def test_help_says_it_is_for_development_only() -> None:
    result = subprocess.run(
        [PYTHON, "-m", "trustyard", "issuer", "serve", "--help"],
        capture_output=True, text=True, env=trustyard_env(), timeout=60, check=True,
    )  # fmt: skip
    assert "DEVELOPMENT AND TESTS ONLY" in result.stdout


def test_sign_forges_tokens_with_any_header(dev_issuer: DevIssuer, tmp_path: Path) -> None:
    claims = {
        "iss": dev_issuer.url,
        "aud": AUDIENCE,
        "sub": "x",
        "iat": int(time.time()),
        "exp": int(time.time()) + 60,
        "nbf": int(time.time()),
        "jti": "j",
    }
    genuine = sign(claims, dev_issuer.key_path)
    assert verify(dev_issuer, genuine)["sub"] == "x"

    unsigned = sign(claims, dev_issuer.key_path, algorithm="none")
    assert unsigned.endswith(".")
    assert jwt.get_unverified_header(unsigned)["alg"] == "none"

    lying = sign(
        claims,
        dev_issuer.key_path,
        algorithm="none",
        headers={"alg": "RS256", "kid": None, "jku": "http://evil.test/jwks"},
    )
    header = jwt.get_unverified_header(lying)
    assert header == {"alg": "RS256", "typ": "JWT", "jku": "http://evil.test/jwks"}

    confused = sign(claims, dev_issuer.key_path, algorithm="HS256")
    signing_input, _, signature = confused.rpartition(".")
    public_key = jwt.PyJWK(get_json(dev_issuer.url + "/.well-known/jwks")[1]["keys"][0]).key
    public_pem = public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    expected = hmac.new(public_pem, signing_input.encode(), "sha256").digest()
    assert base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)) == expected

    ec_key = generate_key_file(tmp_path / "ec.pem", "ES256")
    es = sign(claims, tmp_path / "ec.pem")
    assert jwt.get_unverified_header(es)["kid"] == ec_key.kid
    assert (
        jwt.decode(es, jwt.PyJWK(ec_key.public_jwk()).key, algorithms=["ES256"], audience=AUDIENCE)[
            "sub"
        ]
        == "x"
    )

    other = generate_key_file(tmp_path / "other.pem")
    assert other.kid != jwt.get_unverified_header(genuine)["kid"]
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(
            sign(
                claims,
                tmp_path / "other.pem",
                headers={"kid": jwt.get_unverified_header(genuine)["kid"]},
            ),
            jwt.PyJWKClient(dev_issuer.url + "/.well-known/jwks")
            .get_signing_key_from_jwt(genuine)
            .key,
            algorithms=["RS256"],
            audience=AUDIENCE,
        )


def test_request_tokens_round_trip_and_builders_validate() -> None:
    request = TokenRequest(claims={"a": [1, {"b": None}]}, drop=("nbf",), lifetime=10, shift=-5)
    assert TokenRequest.decode(request.encode()) == request
    with pytest.raises(BadRequestToken, match="'lifetime' must be an integer"):
        TokenRequest.decode(base64.urlsafe_b64encode(b'{"claims": {}, "lifetime": "1"}').decode())
    with pytest.raises(InvalidInput) as bad:
        GitHubRun(repository="no-slash", ref="main", workflow="a/b.yml")
    assert "OWNER/REPO" in bad.value.message
    assert "full ref" in bad.value.message
    assert "workflow" in bad.value.message
    with pytest.raises(InvalidInput, match="NAMESPACE/PROJECT"):
        GitLabJob(project="lonely")
