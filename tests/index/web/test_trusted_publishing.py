"""Trusted Publishing set up in the browser, used by a real client, seen in the browser.

A maintainer adds GitHub publishers in Chromium (a pending one that creates its project, and
one for an existing project), both naming the development issuer; then, outside the browser,
unmodified ``uv publish --trusted-publishing always`` runs as that GitHub workflow against
``serve --tls`` (as tests/e2e/test_trusted_publishing.py sets it up); then the browser shows the
new release, the file's provenance (the publisher its PEP 740 attestation names, linked to the
Integrity API) and the mint and upload in the project's audit log.

The attested file is the pypi-attestations project's real Sigstore-signed vector, so the GitHub
identity played is its publisher's (``trailofbits/pypi-attestation-models``, ``release.yml``).
One backend (the embedded default): what the browser shows does not depend on where the
catalogue lives, and the other web modules and tests/e2e already run on PostgreSQL + S3.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.attestations.vectors import MODELS_ATTESTATION, MODELS_REPOSITORY, MODELS_SDIST
from tests.conftest import IndexServer, client_env, start_index, tool
from tests.dists.builders import build_wheel
from tests.index.conftest import request
from tests.index.web.conftest import PASSWORD, SCREENSHOTS
from tests.index.web.conftest import Site as WebSite
from tests.index.web.test_browser import sign_in
from tests.index.web.webdriver import Browser
from tests.oidc.conftest import DevIssuer, start_dev_issuer

MODELS, MODELS_VERSION = "pypi-attestation-models", "0.0.4a2"
WORKFLOW = "release.yml"


@dataclass
class Site:
    """An HTTPS index with alice, the development issuer, and a scratch directory."""

    index: IndexServer
    issuer: DevIssuer
    tmp: Path

    @property
    def web(self) -> WebSite:
        return WebSite(self.index)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("web-tp")
    issuer = start_dev_issuer(tmp / "issuer")
    index = start_index(tmp / "data", "--tls")
    try:
        index.create_user("alice", PASSWORD)
        yield Site(index, issuer, tmp)
    finally:
        index.stop()
        issuer.stop()


@pytest.fixture(scope="module")
def tls_browser() -> Iterator[Browser]:
    """Chromium accepting the index's certificate (signed by the test's own CA)."""
    driver = Browser(SCREENSHOTS, accept_insecure_certs=True)
    yield driver
    driver.quit()


def _uv_publish(site: Site, files: list[Path], repository: str, *job: str) -> None:
    """``uv publish --trusted-publishing always`` inside that repository's release workflow."""
    assert site.index.ca is not None
    env = client_env(site.tmp)
    env["SSL_CERT_FILE"] = str(site.index.ca)
    env.update(
        site.issuer.env(
            "--repository", repository, "--workflow", WORKFLOW, "--ref", "refs/tags/v1.0.0", *job
        )
    )
    command = [
        tool("uv"),
        "publish",
        "--publish-url",
        site.index.upload_url,
        "--trusted-publishing",
        "always",
        *map(str, files),
    ]
    result = subprocess.run(
        command, capture_output=True, text=True, env=env, timeout=300, check=False
    )
    assert result.returncode == 0, f"uv publish:\n{result.stdout}\n{result.stderr}"


def test_pending_publisher_added_in_the_browser_creates_the_project_with_provenance(
    tls_browser: Browser, site: Site
) -> None:
    browser = tls_browser
    browser.delete_cookies()
    sign_in(browser, site.web, "alice")
    browser.get(site.index.url + "/manage/account/publishing/")
    browser.find("#pgh-project").type(MODELS)
    browser.find("#pgh-repository").type(MODELS_REPOSITORY)
    browser.find("#pgh-workflow").type(WORKFLOW)
    browser.find("#pgh-issuer").type(site.issuer.url)
    browser.find("#pending-github button").click_and_load()
    assert browser.url == site.index.url + "/manage/account/publishing/"
    (row,) = browser.find_all("table.pending tbody tr")
    assert MODELS in row.text
    assert MODELS_REPOSITORY in row.text
    assert site.issuer.url in row.text
    assert request(site.index, "GET", f"/project/{MODELS}/").status == 404  # not yet created

    # A release job of that repository publishes the sdist and its PEP 740 attestation.
    dist = site.tmp / "dist-models"
    dist.mkdir()
    shutil.copyfile(MODELS_SDIST, dist / MODELS_SDIST.name)
    shutil.copyfile(MODELS_ATTESTATION, dist / (MODELS_SDIST.name + ".publish.attestation"))
    _uv_publish(site, sorted(dist.iterdir()), MODELS_REPOSITORY)  # uv pairs them itself

    browser.get(site.index.url + f"/project/{MODELS}/")
    assert browser.text("h1") == f"{MODELS} {MODELS_VERSION}"
    file_row = f'tr[data-filename="{MODELS_SDIST.name}"]'
    provenance = browser.find(f"{file_row} td.provenance a")
    assert provenance.text == f"GitHub {MODELS_REPOSITORY}, workflow {WORKFLOW}"
    link = provenance.attribute("href") or ""
    assert link.endswith(f"/integrity/{MODELS}/{MODELS_VERSION}/{MODELS_SDIST.name}/provenance")
    browser.get(site.index.url + f"/project/{MODELS}/#files-h")  # the files, in view
    browser.screenshot("project-provenance")
    # The link is the Integrity API's document, naming the same publisher.
    served = request(site.index, "GET", link.removeprefix(site.index.url))
    assert served.status == 200
    (bundle,) = json.loads(served.body)["attestation_bundles"]
    assert bundle["publisher"]["repository"] == MODELS_REPOSITORY

    # The pending publisher became the project's, and alice its owner.
    browser.get(site.index.url + "/manage/account/publishing/")
    assert browser.find_all("table.pending") == []
    browser.get(site.index.url + f"/manage/project/{MODELS}/")
    (active,) = browser.find_all("table.publishers tbody tr")
    assert MODELS_REPOSITORY in active.text
    assert "(pending)" not in active.text
    browser.get(site.index.url + f"/manage/project/{MODELS}/history/")
    actions = [e.text for e in browser.find_all("table.history tbody tr .action")]
    assert any(MODELS_SDIST.name in action for action in actions), actions
    assert any("mint" in action for action in actions), actions
    browser.screenshot("manage-history-trusted-publishing")


def test_publisher_added_to_an_existing_project_in_the_browser(
    tls_browser: Browser, site: Site
) -> None:
    site.index.cli("admin", "project", "create", "tp-web", "--owner", "alice")
    browser = tls_browser
    browser.delete_cookies()
    sign_in(browser, site.web, "alice")
    browser.get(site.index.url + "/manage/project/tp-web/")
    browser.find("#gh-repository").type("Octo/TP-Web")
    browser.find("#gh-workflow").type(WORKFLOW)
    browser.find("#gh-environment").type("pypi")
    browser.find("#gh-issuer").type(site.issuer.url)
    browser.find("#add-github button").click_and_load()
    (row,) = browser.find_all("table.publishers tbody tr")
    assert "Octo/TP-Web" in row.text
    browser.screenshot("manage-project-dev-issuer")

    # A release job of that repository, in its "pypi" environment, publishes a wheel.
    wheel = build_wheel(site.tmp / "dist-web", "tp-web", "1.0.0")
    _uv_publish(site, [wheel], "octo/tp-web", "--environment", "pypi")

    browser.get(site.index.url + "/project/tp-web/")
    assert browser.text("h1") == "tp-web 1.0.0"
    file_row = f'tr[data-filename="{wheel.name}"]'
    assert browser.text(f"{file_row} td.provenance") == "none"  # no attestation was sent
    browser.get(site.index.url + "/manage/project/tp-web/history/")
    newest = browser.find_all("table.history tbody tr")
    texts = [r.text for r in newest[:4]]
    assert any(wheel.name in t for t in texts), texts
