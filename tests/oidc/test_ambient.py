"""Ambient CI identity: GitHub Actions' token request (against the real development issuer) and
GitLab CI's ID-token variables, with the refusals uv and ``id`` give."""

from __future__ import annotations

import base64
import json

import pytest

from tests.oidc.conftest import DevIssuer
from trustyard.oidc.ambient import (
    AmbientIdentityError,
    detect_ambient_token,
    gitlab_token_variable,
    unverified_claims,
)


def _jwt(claims: object) -> str:
    def part(value: object) -> str:
        raw = json.dumps(value).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    return f"{part({'alg': 'none'})}.{part(claims)}.c2ln"


def test_no_ci_means_no_token() -> None:
    assert detect_ambient_token("pypi", {}) is None
    assert detect_ambient_token("pypi", {"GITHUB_ACTIONS": "1", "GITLAB_CI": "yes"}) is None


def test_github_actions_token_comes_from_the_token_service(dev_issuer: DevIssuer) -> None:
    env = dev_issuer.env("--repository", "octo/proj", "--workflow", "release.yml")
    found = detect_ambient_token("trustyard", env)
    assert found is not None
    assert found.provider == "github"
    claims = unverified_claims(found.token)
    assert claims["aud"] == "trustyard"
    assert claims["repository"] == "octo/proj"
    assert "redacted" in repr(found)
    assert found.token not in repr(found)


def test_github_actions_without_permission_is_explained() -> None:
    with pytest.raises(AmbientIdentityError, match="id-token: write"):
        detect_ambient_token("pypi", {"GITHUB_ACTIONS": "true"})


def test_github_actions_refused_request_names_the_status(dev_issuer: DevIssuer) -> None:
    env = dev_issuer.env("--repository", "octo/proj")
    env["ACTIONS_ID_TOKEN_REQUEST_TOKEN"] = "not-a-request-token"
    with pytest.raises(AmbientIdentityError, match=r"refused the OIDC token request \(4\d\d\)"):
        detect_ambient_token("pypi", env)


def test_github_actions_unreachable_service() -> None:
    env = {
        "GITHUB_ACTIONS": "true",
        "ACTIONS_ID_TOKEN_REQUEST_URL": "http://127.0.0.1:9/token",
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "x",
    }
    with pytest.raises(AmbientIdentityError, match="cannot reach"):
        detect_ambient_token("pypi", env, timeout=2)


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://host/x", "not a url"])
def test_github_actions_non_http_url_is_refused(url: str) -> None:
    env = {
        "GITHUB_ACTIONS": "true",
        "ACTIONS_ID_TOKEN_REQUEST_URL": url,
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "x",
    }
    with pytest.raises(AmbientIdentityError, match="not an http"):
        detect_ambient_token("pypi", env)


@pytest.mark.parametrize(
    ("audience", "variable"),
    [
        ("pypi", "PYPI_ID_TOKEN"),
        ("testpypi", "TESTPYPI_ID_TOKEN"),
        ("my-index.x", "MY_INDEX_X_ID_TOKEN"),
    ],
)
def test_gitlab_variable_names(audience: str, variable: str) -> None:
    assert gitlab_token_variable(audience) == variable


def test_gitlab_token_from_variable() -> None:
    token = _jwt({"aud": "trustyard", "project_path": "ns/proj"})
    found = detect_ambient_token("trustyard", {"GITLAB_CI": "true", "TRUSTYARD_ID_TOKEN": token})
    assert found is not None
    assert (found.provider, found.token) == ("gitlab", token)


def test_gitlab_without_variable_says_what_to_declare() -> None:
    with pytest.raises(AmbientIdentityError, match="TRUSTYARD_ID_TOKEN"):
        detect_ambient_token("trustyard", {"GITLAB_CI": "true"})


def test_token_for_another_audience_is_refused() -> None:
    token = _jwt({"aud": "pypi"})
    with pytest.raises(AmbientIdentityError, match="audience 'pypi', not 'trustyard'"):
        detect_ambient_token("trustyard", {"GITLAB_CI": "true", "TRUSTYARD_ID_TOKEN": token})


def test_audience_list_is_accepted() -> None:
    token = _jwt({"aud": ["other", "trustyard"]})
    env = {"GITLAB_CI": "true", "TRUSTYARD_ID_TOKEN": token}
    assert detect_ambient_token("trustyard", env) is not None


@pytest.mark.parametrize(
    "token",
    [
        "",
        "abc",
        "a.b",
        "a.b.c.d",
        "a.!!!.c",
        "a." + base64.urlsafe_b64encode(b"[1]").decode() + ".c",
    ],
)
def test_malformed_tokens_are_refused(token: str) -> None:
    env = {"GITLAB_CI": "true", "PYPI_ID_TOKEN": token}
    with pytest.raises(AmbientIdentityError):
        detect_ambient_token("pypi", env)


def test_empty_audience_is_refused() -> None:
    with pytest.raises(AmbientIdentityError, match="audience is required"):
        detect_ambient_token("", {})
