"""Trusted Publishing end to end: unmodified uv, id + twine (the publish action's way), over TLS.

A real ``trustyard serve --tls`` and the real development issuer play PyPI and GitHub/GitLab;
the clients run their own Trusted Publishing code, then pip installs what they published.
"""

from __future__ import annotations

import json
import subprocess
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import PYTHON, client_env, tool
from tests.dists.builders import build_sdist, build_wheel
from tests.e2e.conftest import TlsSite, pip_install, run, tls_site
from tests.index.conftest import request
from trustyard.oidc.devclaims import audience_env_var

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsSite]:
    with tls_site(tmp_path_factory.mktemp("tp-e2e")) as started:
        yield started


def _env(site: TlsSite, extra: dict[str, str]) -> dict[str, str]:
    env = client_env(site.tmp)
    env.update({"SSL_CERT_FILE": str(site.ca), "REQUESTS_CA_BUNDLE": str(site.ca)})
    env.update(extra)
    return env


def _uv_publish(
    site: TlsSite, ci: dict[str, str], files: list[Path], *, ok: bool = True
) -> subprocess.CompletedProcess[str]:
    """``uv publish --trusted-publishing always`` in the CI job ``ci``."""
    return run(
        [
            tool("uv"), "publish", "--publish-url", site.index.upload_url,
            "--trusted-publishing", "always", *map(str, files),
        ],
        _env(site, ci),
        ok=ok,
    )  # fmt: skip


def _pip_install(site: TlsSite, project: str, version: str) -> None:
    target = pip_install(site.index, site.tmp, f"{project}=={version}", client_env(site.tmp))
    module = project.replace("-", "_")
    assert f'__version__ = "{version}"' in (target / module / "__init__.py").read_text()


def test_server_speaks_https_and_prints_its_ca(site: TlsSite) -> None:
    assert site.index.url.startswith("https://")
    assert "TLS CA certificate: " + str(site.ca.resolve()) in site.index.log.read_text()


def test_uv_publish_github_mode(site: TlsSite) -> None:
    site.add_github_publisher(
        "tp-uv-github", "Octo/Widgets", "release.yml", "--environment", "pypi"
    )
    ci = site.issuer.env(
        "--repository", "octo/widgets", "--workflow", "release.yml",
        "--ref", "refs/tags/v1.0.0", "--environment", "pypi",
    )  # fmt: skip
    dist = site.tmp / "dist-gh"
    files = [build_wheel(dist, "tp-uv-github", "1.0.0"), build_sdist(dist, "tp-uv-github", "1.0.0")]
    result = _uv_publish(site, ci, files)
    assert "Failed to invalidate" not in result.stderr  # uv burns the token afterwards
    _pip_install(site, "tp-uv-github", "1.0.0")
    journal = site.index.cli("publisher", "list", "tp-uv-github").stdout
    assert "Octo/Widgets" in journal


def test_uv_publish_gitlab_mode(site: TlsSite) -> None:
    ci = site.add_gitlab_publisher("tp-uv-gitlab", "Group/Widgets")
    assert audience_env_var(site.index.audience) in ci  # TRUSTYARD_<its own>_ID_TOKEN
    _uv_publish(site, ci, [build_wheel(site.tmp / "dist-gl", "tp-uv-gitlab", "2.0.0")])
    _pip_install(site, "tp-uv-gitlab", "2.0.0")


def test_publish_action_flow_with_id_and_twine(site: TlsSite) -> None:
    """pypa/gh-action-pypi-publish: id.detect_credential, then the mint exchange, then twine."""
    site.add_github_publisher("tp-action", "octo/action", "publish.yml")
    ci = site.issuer.env(
        "--repository", "octo/action", "--workflow", "publish.yml", "--ref", "refs/tags/v3.0.0"
    )
    exchange = textwrap.dedent(
        f"""
        import id, requests, sys
        domain = {site.index.url!r}
        audience = requests.get(domain + "/_/oidc/audience", timeout=5).json()["audience"]
        oidc_token = id.detect_credential(audience=audience)
        if oidc_token is None:
            sys.exit("no ambient credential")
        response = requests.post(domain + "/_/oidc/mint-token", json={{"token": oidc_token}}, timeout=5)
        if not response.ok:
            sys.exit(response.text)
        print(response.json()["token"])
        """
    )
    env = _env(site, ci)
    token = run([PYTHON, "-c", exchange], env).stdout.strip()
    wheel = build_wheel(site.tmp / "dist-action", "tp-action", "3.0.0")
    run(
        [
            tool("twine"), "upload", "--non-interactive", "--disable-progress-bar",
            "--cert", str(site.ca), "--repository-url", site.index.upload_url,
            "-u", "__token__", "-p", token, str(wheel),
        ],
        env,
    )  # fmt: skip
    _pip_install(site, "tp-action", "3.0.0")


def test_pending_publisher_creates_the_project(site: TlsSite) -> None:
    site.index.cli(
        "publisher", "add-pending", "tp-pending", "github",
        "--repository", "octo/fresh", "--workflow", "release.yml",
        "--owner", "alice", "--issuer", site.issuer.url,
    )  # fmt: skip
    assert request(site.index, "GET", "/simple/tp-pending/").status == 404
    ci = site.issuer.env(
        "--repository", "octo/fresh", "--workflow", "release.yml", "--ref", "refs/tags/v0.1.0"
    )
    _uv_publish(site, ci, [build_wheel(site.tmp / "dist-pending", "tp-pending", "0.1.0")])
    _pip_install(site, "tp-pending", "0.1.0")
    listing = json.loads(site.index.cli("publisher", "list", "tp-pending", "--json").stdout)
    assert [(p["pending"], p["kind"]) for p in listing] == [(False, "github")]
    # The user who registered the pending publisher owns the project now.
    alice = site.index.create_token("alice", "--project", "tp-pending")
    assert alice.startswith("trustyard-")


def test_wrong_workflow_is_refused_by_uv(site: TlsSite) -> None:
    site.add_github_publisher("tp-refused", "octo/refused", "release.yml")
    ci = site.issuer.env(
        "--repository", "octo/refused", "--workflow", "ci.yml", "--ref", "refs/heads/main"
    )
    wheel = build_wheel(site.tmp / "dist-refused", "tp-refused", "1.0")
    result = _uv_publish(site, ci, [wheel], ok=False)
    assert "invalid-publisher" in result.stderr


def test_one_workflow_publishes_two_projects_with_uv(site: TlsSite) -> None:
    """A monorepo's one workflow is the trusted publisher of two projects: one ``uv publish``
    exchanges one CI token and uploads to both (issue 14, finding 17)."""
    for project in ("tp-mono-one", "tp-mono-two"):
        site.add_github_publisher(project, "octo/monorepo", "release.yml", "--environment", "pypi")
    ci = site.issuer.env(
        "--repository", "octo/monorepo", "--workflow", "release.yml",
        "--ref", "refs/tags/v1.0.0", "--environment", "pypi",
    )  # fmt: skip
    dist = site.tmp / "dist-mono"
    files = [build_wheel(dist, "tp-mono-one", "1.0.0"), build_wheel(dist, "tp-mono-two", "1.0.0")]
    _uv_publish(site, ci, files)
    _pip_install(site, "tp-mono-one", "1.0.0")
    _pip_install(site, "tp-mono-two", "1.0.0")
    minted = site.index.query(
        "SELECT count(*) FROM journal WHERE project_name = 'tp-mono-one'"
        " AND action LIKE 'trusted publishing: minted token%tp-mono-two%'"
    )
    assert minted == [(1,)]
