"""``trustyard ci credentials`` end to end: a GitHub Actions job (the development issuer's
``issuer env``) runs the real command against ``trustyard serve --tls``, and real pip and uv
install with what it printed; the read token cannot upload.

Until the read check (private indexes) is merged, the index does not *require* the
credentials to read; what this proves is that each printed form is taken by its client and
that the token is a read token.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import PYTHON, client_env, tool
from tests.dists.builders import build_wheel
from tests.e2e.conftest import TlsSite, run, tls_site
from tests.index.conftest import upload_built

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsSite]:
    with tls_site(tmp_path_factory.mktemp("ci-creds")) as started:
        started.add_github_publisher("ci-private", "octo/app", "release.yml")
        alice = started.index.create_token("alice")
        wheel = build_wheel(started.tmp / "dist", "ci-private", "1.0")
        assert upload_built(started.index, alice, wheel).status == 200
        yield started


def _credentials(site: TlsSite, form: str) -> str:
    job = site.issuer.env(
        "--repository", "octo/app", "--workflow", "release.yml", "--ref", "refs/heads/main"
    )
    env = {**client_env(site.tmp), **job}
    result = run(
        [
            PYTHON, "-m", "trustyard", "ci", "credentials", "--index", site.index.simple_url,
            "--cacert", str(site.ca), "--format", form, "--name", "corp",
        ],
        env,
    )  # fmt: skip
    assert "::add-mask::trustyard-" in result.stderr
    assert "valid until" in result.stderr
    return result.stdout


def test_pip_installs_with_the_pip_url(site: TlsSite) -> None:
    url = _credentials(site, "pip-url").strip()
    assert url.startswith("https://__token__:trustyard-")
    target = site.tmp / "pip-target"
    env = {
        **client_env(site.tmp),
        "SSL_CERT_FILE": str(site.ca),
        "REQUESTS_CA_BUNDLE": str(site.ca),
    }
    run(
        [PYTHON, "-m", "pip", "install", "--target", str(target), "--index-url", url, "ci-private"],
        env,
    )
    assert (target / "ci_private" / "__init__.py").exists()


def test_uv_installs_with_the_env_lines(site: TlsSite) -> None:
    lines = dict(line.split("=", 1) for line in _credentials(site, "env").splitlines())
    assert lines["UV_INDEX_CORP_USERNAME"] == "__token__"
    assert lines["POETRY_HTTP_BASIC_CORP_PASSWORD"] == lines["UV_INDEX_CORP_PASSWORD"]
    target = site.tmp / "uv-target"
    env = {**client_env(site.tmp), "SSL_CERT_FILE": str(site.ca), **lines}
    run(
        [
            tool("uv"), "pip", "install", "--target", str(target), "--no-cache",
            "--index", f"corp={site.index.simple_url}", "--index-strategy", "first-index",
            "ci-private",
        ],
        env,
    )  # fmt: skip
    assert (target / "ci_private" / "__init__.py").exists()


def test_the_printed_token_cannot_upload(site: TlsSite) -> None:
    line = _credentials(site, "netrc").strip()
    machine, host, login, user, password, token = line.split()
    assert (machine, login, user, password) == ("machine", "login", "__token__", "password")
    assert host == "127.0.0.1"
    wheel = build_wheel(site.tmp / "dist2", "ci-private", "2.0")
    answer = upload_built(site.index, token, wheel)
    assert answer.status == 403
    assert "read-only token" in answer.reason + answer.text
