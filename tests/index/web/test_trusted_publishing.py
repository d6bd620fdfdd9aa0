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

import base64
import hashlib
import json
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from playwright.sync_api import Browser, Page, Playwright, expect

from tests.attestations.vectors import MODELS_ATTESTATION, MODELS_REPOSITORY, MODELS_SDIST
from tests.conftest import IndexServer, client_env, start_index, tool
from tests.dists.builders import build_wheel
from tests.index.conftest import request
from tests.index.web.conftest import PASSWORD, Screenshot, launch_chromium, sign_in, submit
from tests.oidc.conftest import DevIssuer, start_dev_issuer

MODELS, MODELS_VERSION = "pypi-attestation-models", "0.0.4a2"
WORKFLOW = "release.yml"


@dataclass
class Site:
    """An HTTPS index with alice, the development issuer, and a scratch directory."""

    index: IndexServer
    issuer: DevIssuer
    tmp: Path


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("web-tp")
    issuer = start_dev_issuer(tmp / "issuer")
    index = start_index(tmp / "data", "--tls")
    try:
        index.trust_issuer(issuer.url)
        index.create_user("alice", PASSWORD)
        yield Site(index, issuer, tmp)
    finally:
        index.stop()
        issuer.stop()


@pytest.fixture(scope="module")
def browser(playwright: Playwright, site: Site) -> Iterator[Browser]:
    """Chromium trusting this index's certificate and no other: its public key on Chromium's
    allow-list (``--ignore-certificate-errors-spki-list``, the base64 SHA-256 of the
    SubjectPublicKeyInfo), since the test's CA is in no trust store Chromium reads."""
    assert site.index.ca is not None
    leaf = x509.load_pem_x509_certificate((site.index.ca.parent / "cert.pem").read_bytes())
    spki = leaf.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    pin = base64.b64encode(hashlib.sha256(spki).digest()).decode()
    chromium = launch_chromium(playwright, f"--ignore-certificate-errors-spki-list={pin}")
    yield chromium
    chromium.close()


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
    page: Page, site: Site, screenshot: Screenshot
) -> None:
    sign_in(page, "alice")
    (cookie,) = [c for c in page.context.cookies() if c["name"] == "trustyard_session"]
    assert cookie.get("secure") is True  # under TLS
    page.get_by_role("link", name="Publishing: trusted publishers").click()
    expect(page).to_have_url("/manage/account/publishing/")
    github = page.get_by_role("form", name="GitHub Actions", exact=True)
    github.get_by_label("Project name").fill(MODELS)
    github.get_by_label("Repository (OWNER/REPO)").fill(MODELS_REPOSITORY)
    github.get_by_label("Workflow file name").fill(WORKFLOW)
    github.get_by_label("Issuer").fill(site.issuer.url)
    submit(github.get_by_role("button", name="Add pending GitHub publisher"))
    expect(page).to_have_url("/manage/account/publishing/")
    row = page.locator("table.pending tbody tr")
    expect(row).to_have_count(1)
    for text in (MODELS, MODELS_REPOSITORY, site.issuer.url):
        expect(row).to_contain_text(text)
    screenshot(page, "publishing")
    assert request(site.index, "GET", f"/project/{MODELS}/").status == 404  # not yet created

    # A release job of that repository publishes the sdist and its PEP 740 attestation.
    dist = site.tmp / "dist-models"
    dist.mkdir()
    shutil.copyfile(MODELS_SDIST, dist / MODELS_SDIST.name)
    shutil.copyfile(MODELS_ATTESTATION, dist / (MODELS_SDIST.name + ".publish.attestation"))
    _uv_publish(site, sorted(dist.iterdir()), MODELS_REPOSITORY)  # uv pairs them itself

    page.goto(f"/project/{MODELS}/")
    title = page.get_by_role("heading", level=1).first  # its README brings another h1
    expect(title).to_have_text(f"{MODELS} {MODELS_VERSION}")
    file_row = page.locator(f'tr[data-filename="{MODELS_SDIST.name}"]')
    provenance = file_row.locator("td.provenance").get_by_role("link")
    expect(provenance).to_have_text(f"GitHub {MODELS_REPOSITORY}, workflow {WORKFLOW}")
    integrity = f"/integrity/{MODELS}/{MODELS_VERSION}/{MODELS_SDIST.name}/provenance"
    expect(provenance).to_have_attribute("href", integrity)
    screenshot(page, "project-provenance")
    provenance.click()  # the Integrity API's document, as the browser shows it
    expect(page).to_have_url(integrity)
    expect(page.locator("body")).to_contain_text(MODELS_REPOSITORY)
    # The document names the same publisher.
    served = request(site.index, "GET", integrity)
    assert served.status == 200
    (bundle,) = json.loads(served.body)["attestation_bundles"]
    assert bundle["publisher"]["repository"] == MODELS_REPOSITORY

    # The pending publisher became the project's, and alice its owner.
    page.goto("/manage/account/publishing/")
    expect(page.locator("table.pending")).to_have_count(0)
    page.goto(f"/manage/project/{MODELS}/")
    active = page.locator("table.publishers tbody tr")
    expect(active).to_have_count(1)
    expect(active).to_contain_text(MODELS_REPOSITORY)
    expect(active).not_to_contain_text("(pending)")
    page.goto(f"/manage/project/{MODELS}/history/")
    actions = page.locator("table.history tbody tr .action").all_inner_texts()
    assert any(MODELS_SDIST.name in action for action in actions), actions
    assert any("mint" in action for action in actions), actions
    screenshot(page, "manage-history-trusted-publishing")


def test_publisher_added_to_an_existing_project_in_the_browser(
    page: Page, site: Site, screenshot: Screenshot
) -> None:
    site.index.cli("admin", "project", "create", "tp-web", "--owner", "alice")
    sign_in(page, "alice")
    page.goto("/manage/project/tp-web/")
    github = page.get_by_role("form", name="GitHub Actions", exact=True)
    github.get_by_label("Repository (OWNER/REPO)").fill("Octo/TP-Web")
    github.get_by_label("Workflow file name").fill(WORKFLOW)
    github.get_by_label("Environment (optional)").fill("pypi")
    github.get_by_label("Issuer").fill(site.issuer.url)
    submit(github.get_by_role("button", name="Add GitHub publisher"))
    row = page.locator("table.publishers tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Octo/TP-Web")
    screenshot(page, "manage-project-dev-issuer")

    # A release job of that repository, in its "pypi" environment, publishes a wheel.
    wheel = build_wheel(site.tmp / "dist-web", "tp-web", "1.0.0")
    _uv_publish(site, [wheel], "octo/tp-web", "--environment", "pypi")

    page.goto("/project/tp-web/")
    expect(page.get_by_role("heading", level=1)).to_have_text("tp-web 1.0.0")
    file_row = page.locator(f'tr[data-filename="{wheel.name}"]')
    expect(file_row.locator("td.provenance")).to_have_text("none")  # no attestation was sent
    page.goto("/manage/project/tp-web/history/")
    texts = page.locator("table.history tbody tr").all_inner_texts()[:4]
    assert any(wheel.name in t for t in texts), texts
