"""PEP 740 end to end: real clients upload real attestations through Trusted Publishing (the
development issuer playing GitHub Actions, ``serve --tls``), the index verifies them offline and
serves them back; real clients see PyPI's refusals.

The attestations are the pypi-attestations project's real, Sigstore-signed vectors, so the
publishers the tests play are theirs (``trailofbits/pypi-attestations`` and
``trailofbits/pypi-attestation-models``, workflow ``release.yml``). Unmodified ``uv publish``
uploads the models sdist with its publish attestation. ``pypi_attestations-0.0.19.tar.gz``
cannot go through uv: its PKG-INFO says Metadata-Version 2.1 but carries ``License-File``
(setuptools wrote it), uv sends that field, and PyPI's metadata check (packaging's, as here)
refuses a 2.4 field in 2.1 metadata; twine drops the field below 2.4, so that file and both its
attestations go up the way pypa/gh-action-pypi-publish sends them: the token exchanged with
``id``, then ``twine upload --attestations``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.attestations.vectors import (
    MODELS_ATTESTATION,
    MODELS_REPOSITORY,
    MODELS_SDIST,
    PUBLISH,
    REPOSITORY,
    SDIST,
    SLSA,
    WORKFLOW,
    document,
)
from tests.conftest import PYTHON, IndexServer, client_env, start_index, tool
from tests.e2e.conftest import run
from tests.index.conftest import request
from tests.oidc.conftest import DevIssuer, start_dev_issuer

pytestmark = pytest.mark.slow

PROJECT, VERSION = "pypi-attestations", "0.0.19"
MODELS, MODELS_VERSION = "pypi-attestation-models", "0.0.4a2"
REF = "refs/tags/v0.0.19"


@dataclass
class Site:
    issuer: DevIssuer
    index: IndexServer  # accepts the vectors
    refusing: IndexServer  # where they are refused, and so never stored
    tmp: Path


def _publisher(index: IndexServer, issuer: DevIssuer, project: str, repo: str, flow: str) -> None:
    index.cli(
        "publisher",
        "add",
        project,
        "github",
        "--repository",
        repo,
        "--workflow",
        flow,
        "--issuer",
        issuer.url,
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("attest-e2e")
    issuer = start_dev_issuer(tmp / "issuer")
    index = start_index(tmp / "data", "--tls")
    refusing = start_index(tmp / "refusing", "--tls")
    try:
        for server in (index, refusing):
            server.trust_issuer(issuer.url)
            server.create_user("alice")
            server.cli("admin", "project", "create", PROJECT, "--owner", "alice")
        index.cli("admin", "project", "create", MODELS, "--owner", "alice")
        _publisher(index, issuer, PROJECT, REPOSITORY, WORKFLOW)
        _publisher(index, issuer, MODELS, MODELS_REPOSITORY, WORKFLOW)
        # Registered for another workflow of the same repository: tokens mint, attestations fail.
        refusing.cli("admin", "project", "create", MODELS, "--owner", "alice")
        _publisher(refusing, issuer, PROJECT, REPOSITORY, "deploy.yml")
        _publisher(refusing, issuer, MODELS, MODELS_REPOSITORY, "deploy.yml")
        yield Site(issuer, index, refusing, tmp)
    finally:
        refusing.stop()
        index.stop()
        issuer.stop()


def _env(site: Site, server: IndexServer, extra: dict[str, str] | None = None) -> dict[str, str]:
    assert server.ca is not None
    env = client_env(site.tmp)
    env.update({"SSL_CERT_FILE": str(server.ca), "REQUESTS_CA_BUNDLE": str(server.ca)})
    env.update(extra or {})
    return env


def _dist_dir(site: Site, name: str, files: dict[Path, str]) -> list[Path]:
    """A fresh ``dist/`` holding ``files`` under the given names, as a release job has it."""
    folder = site.tmp / name
    folder.mkdir()
    for source, filename in files.items():
        shutil.copyfile(source, folder / filename)
    return sorted(folder.iterdir())


def _uv_publish(
    site: Site, server: IndexServer, workflow: str, repository: str, files: list[Path], ok: bool
) -> subprocess.CompletedProcess[str]:
    ci = site.issuer.env("--repository", repository, "--workflow", workflow, "--ref", REF)
    return run(
        [
            tool("uv"),
            "publish",
            "--publish-url",
            server.upload_url,
            "--trusted-publishing",
            "always",
            *map(str, files),
        ],
        _env(site, server, ci),
        ok=ok,
    )


def _provenance(server: IndexServer, project: str, version: str, filename: str) -> Any:
    answer = request(server, "GET", f"/integrity/{project}/{version}/{filename}/provenance")
    assert answer.status == 200, answer.text
    return json.loads(answer.body)


def _canonical(documents: list[dict[str, Any]]) -> list[str]:
    return sorted(json.dumps(d, sort_keys=True) for d in documents)


def _exchange(site: Site, server: IndexServer, repository: str, workflow: str) -> str:
    """The publish action's ``oidc-exchange.py`` steps: audience, ambient token, mint."""
    ci = site.issuer.env("--repository", repository, "--workflow", workflow, "--ref", REF)
    script = textwrap.dedent(
        f"""
        import id, requests, sys
        domain = {server.url!r}
        audience = requests.get(domain + "/_/oidc/audience", timeout=5).json()["audience"]
        oidc_token = id.detect_credential(audience=audience)
        response = requests.post(domain + "/_/oidc/mint-token", json={{"token": oidc_token}})
        if not response.ok:
            sys.exit(response.text)
        print(response.json()["token"])
        """
    )
    return run([PYTHON, "-c", script], _env(site, server, ci)).stdout.strip()


def _twine(
    site: Site, server: IndexServer, token: str, files: list[Path], *, ok: bool
) -> subprocess.CompletedProcess[str]:
    assert server.ca is not None
    return run(
        [
            tool("twine"),
            "upload",
            "--non-interactive",
            "--disable-progress-bar",
            "--attestations",
            "--cert",
            str(server.ca),
            "--repository-url",
            server.upload_url,
            "-u",
            "__token__",
            "-p",
            token,
            *map(str, files),
        ],
        _env(site, server),
        ok=ok,
    )


def test_publish_action_flow_uploads_both_attestations_and_the_index_serves_them(
    site: Site,
) -> None:
    files = _dist_dir(
        site,
        "dist-both",
        {SDIST: SDIST.name, PUBLISH: PUBLISH.name, SLSA: SLSA.name},
    )
    token = _exchange(site, site.index, REPOSITORY, WORKFLOW)
    _twine(site, site.index, token, files, ok=True)
    provenance = _provenance(site.index, PROJECT, VERSION, SDIST.name)
    [bundle] = provenance["attestation_bundles"]
    assert bundle["publisher"] == {
        "kind": "GitHub",
        "repository": REPOSITORY,
        "workflow": WORKFLOW,
        "environment": None,
    }
    # Both files in one field; the index keeps them as they were.
    assert _canonical(bundle["attestations"]) == _canonical([document(PUBLISH), document(SLSA)])
    simple = request(
        site.index,
        "GET",
        f"/simple/{PROJECT}/",
        headers={"Accept": "application/vnd.pypi.simple.v1+json"},
    )
    [entry] = json.loads(simple.body)["files"]
    assert entry["provenance"].endswith(f"/integrity/{PROJECT}/{VERSION}/{SDIST.name}/provenance")
    html = request(site.index, "GET", f"/simple/{PROJECT}/").text
    assert f'data-provenance="{entry["provenance"]}"' in html


def test_uv_publish_uploads_the_publish_attestation_next_to_the_dist(site: Site) -> None:
    # The vector is named ``<dist>.attestation``; uv looks for ``<dist>.<kind>.attestation``.
    files = _dist_dir(
        site,
        "dist-models",
        {
            MODELS_SDIST: MODELS_SDIST.name,
            MODELS_ATTESTATION: MODELS_SDIST.name + ".publish.attestation",
        },
    )
    _uv_publish(site, site.index, WORKFLOW, MODELS_REPOSITORY, files, ok=True)
    provenance = _provenance(site.index, MODELS, MODELS_VERSION, MODELS_SDIST.name)
    [bundle] = provenance["attestation_bundles"]
    assert bundle["publisher"]["repository"] == MODELS_REPOSITORY
    assert bundle["attestations"] == [document(MODELS_ATTESTATION)]
    html = request(site.index, "GET", f"/project/{MODELS}/{MODELS_VERSION}/").text
    assert f"GitHub {MODELS_REPOSITORY}, workflow {WORKFLOW}" in html


def _nothing_stored(server: IndexServer, project: str = PROJECT) -> None:
    page = request(
        server,
        "GET",
        f"/simple/{project}/",
        headers={"Accept": "application/vnd.pypi.simple.v1+json"},
    )
    assert json.loads(page.body)["files"] == []


def test_uv_shows_the_refusal_for_another_registered_workflow(site: Site) -> None:
    files = _dist_dir(
        site,
        "dist-refused",
        {
            MODELS_SDIST: MODELS_SDIST.name,
            MODELS_ATTESTATION: MODELS_SDIST.name + ".publish.attestation",
        },
    )
    result = _uv_publish(site, site.refusing, "deploy.yml", MODELS_REPOSITORY, files, ok=False)
    stderr = " ".join(result.stderr.split())
    assert (
        "Invalid attestations supplied during upload: Could not verify the uploaded artifact"
        " using the included attestation: Verification failed: Certificate's Build Config URI"
    ) in stderr
    assert f"does not match expected Trusted Publisher (deploy.yml @ {MODELS_REPOSITORY})" in (
        stderr
    )
    _nothing_stored(site.refusing, MODELS)


def test_uv_sends_license_file_of_2_1_metadata_which_pypi_refuses(site: Site) -> None:
    """The finding that keeps this vector away from uv: the same refusal as PyPI's."""
    files = _dist_dir(site, "dist-uv-license", {SDIST: SDIST.name, PUBLISH: PUBLISH.name})
    result = _uv_publish(site, site.refusing, "deploy.yml", REPOSITORY, files, ok=False)
    assert (
        "'LICENSE' is an invalid value for License-File. Error: license-file introduced in"
        " metadata version 2.4, not 2.1."
    ) in " ".join(result.stderr.split())
    _nothing_stored(site.refusing)


def test_twine_attestations_with_an_api_token_are_refused(site: Site) -> None:
    token = site.refusing.create_token("alice")
    files = _dist_dir(site, "dist-twine", {SDIST: SDIST.name, PUBLISH: PUBLISH.name})
    result = _twine(site, site.refusing, token, files, ok=False)
    assert (
        "Invalid attestations supplied during upload: Attestations are only supported when"
        " using Trusted Publishing"
    ) in " ".join((result.stdout + result.stderr).split())
    _nothing_stored(site.refusing)
