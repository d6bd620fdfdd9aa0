"""A release with PEP 740 provenance moved from the embedded default to PostgreSQL + S3.

The embedded index (SQLite + files) takes two attested uploads through Trusted Publishing: the
pypi-attestations project's real Sigstore-signed vectors (while it trusts the public Sigstore),
and a sample built by ``trustyard build`` from a real git tag, attested with the development
Sigstore and published by ``trustyard publish --trusted-publishing always`` (while it trusts
that one, and serves TLS). ``admin export`` → ``admin import`` moves it into a real PostgreSQL and SeaweedFS;
the new index then serves every provenance object byte for byte as the old one did, pip
installs the sample from it, and ``trustyard verify`` rebuilds the tag and checks both its
hashes and its attestations against the expected publisher there.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.attestations.vectors import PUBLISH, REPOSITORY, SDIST, SLSA, WORKFLOW, field
from tests.conftest import PYTHON, IndexServer, client_env, start_index
from tests.devsigstore import GITHUB_ISSUER, DevSigstore, start_dev_sigstore
from tests.index.conftest import request
from tests.index.test_attestations import add_github_publisher, mint, upload
from tests.oidc.conftest import DevIssuer, start_dev_issuer
from tests.release.conftest import git, make_repo

pytestmark = pytest.mark.slow

SAMPLE = "ty-sample-hatchling"
SAMPLE_REPOSITORY = "octo/sample"
TAG = "v0.1.0"
VECTOR_PROJECT, VECTOR_VERSION = "pypi-attestations", "0.0.19"
JSON_TYPE = "application/vnd.pypi.simple.v1+json"
INTEGRITY_TYPE = "application/vnd.pypi.integrity.v1+json"


@dataclass
class Served:
    """What one index answers for a file: its provenance body and its simple-API entry."""

    provenance: bytes
    content_type: str
    entry: dict[str, object]


@dataclass
class Moved:
    """The embedded source (stopped), what it served, the export, and the sample's source."""

    source: Path
    served: dict[str, Served]
    export: Path
    repo: Path
    issuer: DevIssuer
    sigstore: DevSigstore
    tmp: Path


def _trustyard(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, "-m", "trustyard", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def _ci_env(tmp: Path, issuer: DevIssuer, repo: Path, caches: dict[str, str]) -> dict[str, str]:
    """A GitHub Actions job of the sample's release workflow on TAG (its builds use ``caches``)."""
    commit = git(repo, "rev-parse", f"{TAG}^{{commit}}").strip()
    job = [
        "--repository", SAMPLE_REPOSITORY, "--workflow", WORKFLOW,
        "--ref", f"refs/tags/{TAG}", "--sha", commit,
    ]  # fmt: skip
    env = {**client_env(tmp), **caches}
    env.update(issuer.env(*job))
    return env


def _serving(index: IndexServer, project: str, version: str) -> dict[str, Served]:
    """filename -> what ``index`` serves for every file of ``project`` ``version``."""
    page = request(index, "GET", f"/simple/{project}/", headers={"Accept": JSON_TYPE})
    assert page.status == 200, page.text
    served = {}
    for entry in json.loads(page.body)["files"]:
        filename = entry["filename"]
        answer = request(
            index,
            "GET",
            f"/integrity/{project}/{version}/{filename}/provenance",
            headers={"Accept": INTEGRITY_TYPE},
        )
        assert answer.status == 200, answer.text
        # Links are absolute: keep only the path, which must not change with the host.
        entry["url"] = entry["url"].removeprefix(index.url)
        entry["provenance"] = entry["provenance"].removeprefix(index.url)
        served[filename] = Served(answer.body, answer.headers["content-type"], entry)
    return served


def _publish_vectors(index: IndexServer, issuer: DevIssuer) -> None:
    """The real vectors through Trusted Publishing, on an index trusting the public Sigstore."""
    index.cli("admin", "project", "create", VECTOR_PROJECT, "--owner", "alice")
    add_github_publisher(index, issuer, VECTOR_PROJECT, REPOSITORY, WORKFLOW)
    answer = upload(index, mint(index, issuer, REPOSITORY), SDIST, [field(PUBLISH, SLSA)])
    assert answer.status == 200, answer.text


def _release_sample(
    index: IndexServer,
    issuer: DevIssuer,
    sigstore: DevSigstore,
    repo: Path,
    tmp: Path,
    caches: dict[str, str],
) -> None:
    """build → attest (development Sigstore) → publish with Trusted Publishing."""
    index.cli("admin", "project", "create", SAMPLE, "--owner", "alice")
    add_github_publisher(index, issuer, SAMPLE, SAMPLE_REPOSITORY, WORKFLOW)
    env = _ci_env(tmp, issuer, repo, caches)
    dist = tmp / "dist"
    trust = str(sigstore.trust_config_path)
    built = _trustyard(env, "build", str(repo), "--ref", TAG, "--out", str(dist))
    assert built.returncode == 0, built.stderr
    attested = _trustyard(
        env, "attest", str(dist), "--source", str(repo), "--sigstore-trust-config", trust
    )
    assert attested.returncode == 0, attested.stderr
    files = sorted(p for p in dist.iterdir() if p.name.endswith((".whl", ".tar.gz")))
    attestations = [Path(f"{p}.publish.attestation") for p in files]
    assert all(a.is_file() for a in attestations), sorted(p.name for p in dist.iterdir())
    published = _trustyard(
        env, "publish", *map(str, files + attestations),
        "--index", index.upload_url, "--trusted-publishing", "always", "--cacert", str(index.ca),
    )  # fmt: skip
    assert published.returncode == 0, published.stderr


@pytest.fixture(scope="module")
def moved(
    tmp_path_factory: pytest.TempPathFactory, build_caches: dict[str, str]
) -> Iterator[Moved]:
    tmp = tmp_path_factory.mktemp("export-import")
    issuer = start_dev_issuer(tmp / "issuer")
    sigstore = start_dev_sigstore(tmp / "sigstore", issuer_map={issuer.url: GITHUB_ISSUER})
    source = tmp / "embedded"
    try:
        public = start_index(source)  # trusts the public Sigstore: the vectors' signer
        try:
            public.create_user("alice")
            _publish_vectors(public, issuer)
        finally:
            public.stop()
        # The same data directory, now trusting the development Sigstore for the sample.
        # (over TLS: Trusted Publishing clients always call https://.../_/oidc/).
        trust = str(sigstore.trust_config_path)
        private = start_index(source, "--tls", "--sigstore-trust-config", trust)
        try:
            repo = make_repo("hatchling", tmp / "repo", tag=TAG)
            _release_sample(private, issuer, sigstore, repo, tmp, build_caches)
            served = {
                **_serving(private, VECTOR_PROJECT, VECTOR_VERSION),
                **_serving(private, SAMPLE, "0.1.0"),
            }
            export = tmp / "export"
            result = private.cli("admin", "export", str(export))
            assert "exported to" in result.stderr, result.stderr
        finally:
            private.stop()
        yield Moved(source, served, export, repo, issuer, sigstore, tmp)
    finally:
        sigstore.stop()
        issuer.stop()


def test_provenance_pip_install_and_verify_survive_the_move_to_postgresql_and_s3(
    moved: Moved, database_url: str, storage_url: str, build_caches: dict[str, str]
) -> None:
    assert len(moved.served) == 3  # the vector sdist, the sample's wheel and sdist
    manifest = json.loads((moved.export / "manifest.json").read_text())
    assert manifest["tables"]["provenance"]["rows"] == 3

    target = moved.tmp / "scaled"
    target.mkdir()
    (target / "trustyard.toml").write_text(
        f"database = {json.dumps(database_url)}\nstorage = {json.dumps(storage_url)}\n"
    )
    imported = _trustyard(client_env(moved.tmp), "admin", "import", str(moved.export),
                          "--data", str(target))  # fmt: skip
    assert imported.returncode == 0, imported.stderr
    server = start_index(target)
    try:
        after = {
            **_serving(server, VECTOR_PROJECT, VECTOR_VERSION),
            **_serving(server, SAMPLE, "0.1.0"),
        }
        assert set(after) == set(moved.served)
        for filename, before in moved.served.items():
            # Byte for byte: key order included, so signatures' documents read the same.
            assert after[filename].provenance == before.provenance, filename
            assert after[filename].content_type == before.content_type
            assert after[filename].entry == before.entry, filename
        (vector,) = json.loads(after[SDIST.name].provenance)["attestation_bundles"]
        assert vector["publisher"]["repository"] == REPOSITORY
        assert len(vector["attestations"]) == 2  # publish and SLSA

        installed = moved.tmp / "installed"
        pip = subprocess.run(
            [
                PYTHON, "-m", "pip", "install", "--quiet", "--target", str(installed),
                "--index-url", server.simple_url, f"{SAMPLE}==0.1.0",
            ],
            capture_output=True, text=True, env=client_env(moved.tmp), timeout=300, check=False,
        )  # fmt: skip
        assert pip.returncode == 0, pip.stdout + pip.stderr
        assert (installed / "ty_sample_hatchling" / "__init__.py").is_file()

        verify = _trustyard(
            _ci_env(moved.tmp, moved.issuer, moved.repo, build_caches),
            "verify", f"{SAMPLE}==0.1.0", "--index", server.simple_url,
            "--source", str(moved.repo), "--ref", TAG,
            "--publisher", f"github:{SAMPLE_REPOSITORY}/{WORKFLOW}",
            "--sigstore-trust-config", str(moved.sigstore.trust_config_path), "--json",
        )  # fmt: skip
        assert verify.returncode == 0, verify.stdout + verify.stderr
        verdicts = json.loads(verify.stdout)
        assert len(verdicts["files"]) == 2
    finally:
        server.stop()
