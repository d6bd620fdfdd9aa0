"""``trustyard ci credentials``' client in-process (issue 20): the job's ambient identity from
GitHub Actions' token service (the development issuer on loopback, asked over real HTTP with
ACTIONS_ID_TOKEN_REQUEST_URL/TOKEN) exchanged at the real app for a read token, printed in the
forms uv, poetry and pip read. The app is reached through its ASGI transport; the same flow over
a real server and the real command is in ``tests/e2e/test_ci_credentials.py``."""

from __future__ import annotations

import io
import netrc
from collections.abc import Callable, Mapping
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.index.conftest import LocalIndex, LocalIssuer
from trustyard.errors import InvalidInput
from trustyard.index.services import accounts, publishers, reader_policies
from trustyard.index.services.trusted_reading import readable_projects
from trustyard.oidc.devclaims import (
    GitHubRun,
    GitLabJob,
    github_environ,
    gitlab_environ,
    request_token,
)
from trustyard.release.ci_credentials import (
    ReadCredentials,
    TrustedReadingError,
    checked_index_url,
    exchange_for_read_token,
    render,
)
from trustyard.release.upload_client import Answer

INDEX_URL = "http://localhost/simple/"


class ThroughApp:
    """The client interface of ``upload_client.HttpClient``, sent to the in-process app."""

    def __init__(self, index: LocalIndex) -> None:
        self.index = index
        self.urls: list[str] = []

    def request(self, method: str, url: str, *, headers: Mapping[str, str] | None = None) -> Answer:
        self.urls.append(url)
        answer = self.index.request(method, url, headers=dict(headers or {}))
        return Answer(
            answer.status_code,
            answer.reason_phrase,
            {k.lower(): v for k, v in answer.headers.items()},
            answer.content,
        )

    def post_json(self, url: str, document: object) -> Answer:
        self.urls.append(url)
        answer = self.index.post(url, json=document)
        return Answer(
            answer.status_code, answer.reason_phrase, dict(answer.headers), answer.content
        )


@pytest.fixture(scope="module")
def index(
    shared_index: LocalIndex, local_issuer: LocalIssuer, wheels: Callable[[str, str], Path]
) -> LocalIndex:
    shared_index.trust_issuer(local_issuer.url)
    shared_index.create_user("ci-owner")
    owner = shared_index.create_token("ci-owner")
    assert shared_index.upload(owner, wheels("ci-private", "1.0")).status_code == 200
    with shared_index.db.write() as session:
        publishers.add_publisher(
            session,
            "ci-private",
            "github",
            {"repository": "octo/app", "workflow": "release.yml", "issuer": local_issuer.url},
            actor="ci-owner",
        )
    return shared_index


def job_environ(issuer: LocalIssuer, repository: str = "octo/app") -> dict[str, str]:
    run = GitHubRun(repository=repository, workflow="release.yml", ref="refs/heads/main")
    return github_environ(run, issuer.url, request_token(run.claims()))


def test_a_github_job_gets_a_read_token_for_its_projects(
    index: LocalIndex, local_issuer: LocalIssuer
) -> None:
    client = ThroughApp(index)
    log = io.StringIO()
    credentials = exchange_for_read_token(client, INDEX_URL, job_environ(local_issuer), stderr=log)
    assert client.urls == [
        "http://localhost/_/oidc/read-audience",
        "http://localhost/_/oidc/mint-read-token",
    ]
    assert log.getvalue() == f"::add-mask::{credentials.token}\n"
    assert credentials.token not in repr(credentials)
    with index.db.read() as session:
        identity = accounts.authenticate_token(session, credentials.token)
        assert identity.read_only
        assert readable_projects(session, identity.token_id) == ["ci-private"]


def test_a_job_no_publisher_or_policy_names_is_told_why(
    index: LocalIndex, local_issuer: LocalIssuer
) -> None:
    with pytest.raises(TrustedReadingError) as refused:
        exchange_for_read_token(
            ThroughApp(index),
            INDEX_URL,
            job_environ(local_issuer, "evil/app"),
            stderr=io.StringIO(),
        )
    message = refused.value.message
    assert "refused to mint a read token" in message
    assert "invalid-publisher" in message
    assert "repository: evil/app" in message


def test_without_a_ci_identity(index: LocalIndex) -> None:
    with pytest.raises(TrustedReadingError, match="needs a CI identity"):
        exchange_for_read_token(ThroughApp(index), INDEX_URL, {})
    with pytest.raises(TrustedReadingError, match="id-token: write"):
        exchange_for_read_token(ThroughApp(index), INDEX_URL, {"GITHUB_ACTIONS": "true"})


def test_an_index_without_trusted_reading(tmp_path: Path, portal: object) -> None:
    off = LocalIndex(tmp_path / "off", portal, trusted_publishing=False)  # type: ignore[arg-type]
    try:
        with pytest.raises(TrustedReadingError, match="disabled"):
            exchange_for_read_token(ThroughApp(off), INDEX_URL, {})
    finally:
        off.close()


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://index.example/simple/", "in clear"),
        ("ftp://index.example/simple/", "give the index's URL"),
        ("https://u:p@index.example/simple/", "without credentials"),
        ("simple", "give the index's URL"),
    ],
)
def test_index_urls_that_would_leak_or_are_not_urls(url: str, problem: str) -> None:
    with pytest.raises(InvalidInput, match=problem):
        checked_index_url(url)


def test_loopback_http_and_https_are_accepted() -> None:
    assert checked_index_url("http://127.0.0.1:8000/simple") == "http://127.0.0.1:8000/simple/"
    assert checked_index_url("https://pkgs.example/simple/") == "https://pkgs.example/simple/"


CREDENTIALS = ReadCredentials(
    index_url="https://pkgs.example:8443/simple/", token="trustyard-abc.DEF_gh-1", expires=0
)


def test_env_form_names_uv_and_poetry_variables() -> None:
    lines = render(CREDENTIALS, "env", name="corp-pkgs").splitlines()
    assert lines == [
        "UV_INDEX_CORP_PKGS_USERNAME=__token__",
        "UV_INDEX_CORP_PKGS_PASSWORD=trustyard-abc.DEF_gh-1",
        "POETRY_HTTP_BASIC_CORP_PKGS_USERNAME=__token__",
        "POETRY_HTTP_BASIC_CORP_PKGS_PASSWORD=trustyard-abc.DEF_gh-1",
    ]


def test_netrc_form_is_read_by_pythons_netrc(tmp_path: Path) -> None:
    path = tmp_path / "netrc"
    path.write_text(render(CREDENTIALS, "netrc", name="x"))
    path.chmod(0o600)
    assert netrc.netrc(str(path)).authenticators("pkgs.example") == (
        "__token__",
        "",
        "trustyard-abc.DEF_gh-1",
    )


def test_pip_url_form_carries_the_credentials() -> None:
    url = render(CREDENTIALS, "pip-url", name="x").strip()
    parts = urlsplit(url)
    assert (parts.username, parts.password) == ("__token__", "trustyard-abc.DEF_gh-1")
    assert (parts.hostname, parts.port, parts.path) == ("pkgs.example", 8443, "/simple/")


def test_unknown_form_and_empty_name_are_refused() -> None:
    with pytest.raises(InvalidInput, match="unknown format"):
        render(CREDENTIALS, "yaml", name="x")
    with pytest.raises(InvalidInput, match="--name"):
        render(CREDENTIALS, "env", name="")


def test_a_gitlab_job_reads_through_a_reader_policy(
    index: LocalIndex, local_issuer: LocalIssuer
) -> None:
    """GitLab gives the ID token in the job's ``id_tokens`` variable named after the read
    audience; a reader policy of the ``gitlab`` kind lets that job read, and only read."""
    with index.db.write() as session:
        reader_policies.add_reader_policy(
            session,
            "ci-private",
            "gitlab",
            {
                "project": "group/consumer",
                "workflow_path": ".gitlab-ci.yml",
                "issuer": local_issuer.url,
            },
            actor="ci-owner",
        )
    read = index.get("/_/oidc/read-audience").json()["audience"]
    job = GitLabJob(project="group/consumer")
    id_token = local_issuer.mint(read, dict(job.claims(local_issuer.url)))
    environ = gitlab_environ(job, read, id_token)
    log = io.StringIO()
    credentials = exchange_for_read_token(ThroughApp(index), INDEX_URL, environ, stderr=log)
    assert log.getvalue() == ""  # ::add-mask:: is GitHub's
    with index.db.read() as session:
        identity = accounts.authenticate_token(session, credentials.token)
        assert identity.reader_identity is not None
        assert identity.reader_identity.startswith("gitlab:")
        assert readable_projects(session, identity.token_id) == ["ci-private"]
