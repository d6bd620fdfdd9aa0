"""``trustyard release`` end to end: two ``serve --tls`` indexes (test and production), the
development issuer playing GitHub Actions, the development Sigstore signing, a real git
repository with tags; then pip installs from production and ``trustyard verify`` checks both.
Failure paths: bytes tampered on the test index, a refused approval, an interrupted publish.
"""

from __future__ import annotations

import json
import re
import shutil
import ssl
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import PYTHON, IndexServer, client_env
from tests.e2e.conftest import REPOSITORY, WORKFLOW, release_site
from tests.e2e.conftest import ReleaseSite as Site
from tests.release.conftest import git
from trustyard.release.verify import passing_verdicts

pytestmark = pytest.mark.slow

PROJECT = "ty-sample-hatchling"


def _tag(repo: Path, version: str) -> str:
    """Commit ``version`` into the sample and tag it ``v<version>``."""
    for path in (repo / "pyproject.toml", repo / "src/ty_sample_hatchling/__init__.py"):
        text = path.read_text()
        path.write_text(re.sub(r'(version(?:__)? = )"[^"]+"', rf'\1"{version}"', text))
    git(repo, "commit", "--quiet", "--all", "--message", f"release {version}")
    git(repo, "tag", f"v{version}")
    return f"v{version}"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, build_caches: dict[str, str]) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("release-e2e")
    with release_site(tmp, PROJECT, "hatchling", build_caches) as started:
        yield started


def _get(site: Site, url: str, accept: str) -> object:
    context = ssl.create_default_context(cafile=str(site.bundle))
    request = urllib.request.Request(url, headers={"Accept": accept})
    with urllib.request.urlopen(request, timeout=30, context=context) as response:
        return json.loads(response.read())


def _served(site: Site, index: IndexServer, version: str) -> dict[str, str]:
    """filename -> sha256 of ``version``'s files, from the PEP 691 simple page."""
    page = _get(site, index.simple_url + f"{PROJECT}/", "application/vnd.pypi.simple.v1+json")
    assert isinstance(page, dict)
    return {
        f["filename"]: f["hashes"]["sha256"]
        for f in page["files"]
        if f"-{version}" in f["filename"]
    }


def _state(dist: Path) -> dict[str, object]:
    document = json.loads((dist / "release-state.json").read_text())
    assert isinstance(document, dict)
    return document


def test_release_publishes_the_same_attested_bytes_to_both_indexes(site: Site) -> None:
    dist = site.tmp / "dist-0.1.0"
    publisher = f"github:{REPOSITORY}/{WORKFLOW}"
    result = site.release("v0.1.0", dist, "--yes", "--publisher", publisher)
    assert result.returncode == 0, result.stderr
    state = _state(dist)
    files = state["files"]
    assert isinstance(files, dict)
    assert len(files) == 2
    assert _served(site, site.test, "0.1.0") == files
    assert _served(site, site.production, "0.1.0") == files
    done = state["done"]
    assert isinstance(done, dict)
    assert list(done) == [
        "build", "attest", "publish-test", "verify-test", "approve", "publish", "verify"
    ]  # fmt: skip
    assert done["attest"]["signed"] is True
    assert done["approve"]["by"] == "--yes"
    assert done["publish"]["trusted_publishing"] is True
    for stage in ("verify-test", "verify"):
        assert (done[stage]["publisher"], done[stage]["attested"]) == (publisher, 2)
        # every file proven by a passing grade, equivalent ones not accepted
        assert set(done[stage]["verdicts"]) == set(files)
        assert set(done[stage]["verdicts"].values()) <= passing_verdicts(accept_equivalent=False)
        assert done[stage]["accept_equivalent"] is False
    # Every file carries its PEP 740 provenance on production, naming the publisher.
    for filename in files:
        provenance = _get(
            site,
            f"{site.production.url}/integrity/{PROJECT}/0.1.0/{filename}/provenance",
            "application/vnd.pypi.integrity.v1+json",
        )
        assert isinstance(provenance, dict)
        (bundle,) = provenance["attestation_bundles"]
        assert bundle["publisher"]["kind"] == "GitHub"
        assert bundle["publisher"]["repository"] == REPOSITORY
    # pip installs the release from production.
    target = site.tmp / "installed"
    install = subprocess.run(
        [
            PYTHON, "-m", "pip", "install", "--quiet", "--target", str(target),
            "--cert", str(site.bundle), "--index-url", site.production.simple_url,
            f"{PROJECT}==0.1.0",
        ],
        capture_output=True, text=True, env=site.env("v0.1.0"), timeout=300, check=False,
    )  # fmt: skip
    assert install.returncode == 0, install.stderr
    assert '__version__ = "0.1.0"' in (target / "ty_sample_hatchling/__init__.py").read_text()
    # trustyard verify passes against both indexes, with the expected publisher.
    for index in (site.test, site.production):
        verify = subprocess.run(
            [
                PYTHON, "-m", "trustyard", "verify", f"{PROJECT}==0.1.0",
                "--index", index.simple_url, "--source", str(site.repo), "--ref", "v0.1.0",
                "--publisher", f"github:{REPOSITORY}/{WORKFLOW}",
                "--sigstore-trust-config", str(site.sigstore.trust_config_path),
            ],
            capture_output=True, text=True, env=site.env("v0.1.0"), timeout=600, check=False,
        )  # fmt: skip
        assert verify.returncode == 0, verify.stdout + verify.stderr
    # A rerun has nothing left to do.
    again = site.release("v0.1.0", dist, "--yes")
    assert again.returncode == 0, again.stderr
    assert again.stderr.count("done earlier, skipped") == 7


def test_bytes_tampered_on_the_test_index_stop_before_production(site: Site) -> None:
    tag = _tag(site.repo, "0.2.0")
    # The same reproducible bytes reach the test index first (built and published by hand)...
    early = site.tmp / "early-0.2.0"
    build = subprocess.run(
        [PYTHON, "-m", "trustyard", "build", str(site.repo), "--ref", tag, "--out", str(early)],
        capture_output=True, text=True, env=site.env(tag), timeout=600, check=False,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr
    token = site.test.create_token("alice")
    # The project is Trusted-Publishing-only: an API-token upload would be held for approval
    # (publisher continuity, tested on its own); here its owner has switched that off.
    site.test.cli("policy", "hold-token-uploads", PROJECT, "off")
    wheel = next(early.glob("*.whl"))
    publish = subprocess.run(
        [
            PYTHON, "-m", "trustyard", "publish", str(wheel), str(next(early.glob("*.tar.gz"))),
            "--index", site.test.upload_url, "--token", token, "--cacert", str(site.bundle),
        ],
        capture_output=True, text=True, env=client_env(site.tmp), timeout=300, check=False,
    )  # fmt: skip
    assert publish.returncode == 0, publish.stderr
    # ... and then someone changes the stored wheel on the test index's disk.
    stored = [
        p
        for p in (site.tmp / "test").rglob("*")
        if p.is_file() and p.read_bytes() == wheel.read_bytes()
    ]
    assert len(stored) == 1
    data = bytearray(stored[0].read_bytes())
    data[len(data) // 2] ^= 0xFF
    stored[0].write_bytes(bytes(data))

    dist = site.tmp / "dist-0.2.0"
    result = site.release(tag, dist, "--yes")
    assert result.returncode != 0
    assert "verify-test" in result.stderr
    assert wheel.name in result.stderr
    assert _served(site, site.production, "0.2.0") == {}
    done = _state(dist)["done"]
    assert isinstance(done, dict)
    assert "verify-test" not in done
    assert "publish" not in done


def test_refused_approval_stops_and_an_approval_file_resumes(site: Site) -> None:
    tag = _tag(site.repo, "0.3.0")
    dist = site.tmp / "dist-0.3.0"
    # A GitHub job without an environment has had no reviewer: it may not go on by itself.
    refused = site.release(tag, dist)
    assert refused.returncode != 0
    assert "no environment, so no reviewer approved it" in refused.stderr
    assert _served(site, site.production, "0.3.0") == {}
    state = _state(dist)
    files = state["files"]
    assert isinstance(files, dict)
    assert _served(site, site.test, "0.3.0") == files
    # An approval file for other bytes is refused too.
    wrong = site.tmp / "approve-wrong"
    wrong.write_text("".join(f"{'0' * 64}  {name}\n" for name in sorted(files)))
    refused_again = site.release(tag, dist, "--approve-file", str(wrong))
    assert refused_again.returncode != 0
    assert "does not approve these bytes" in refused_again.stderr
    # The right hashes resume the pipeline from the approval.
    right = site.tmp / "approve-right"
    right.write_text((dist / "SHA256SUMS").read_text())
    approved = site.release(tag, dist, "--approve-file", str(right))
    assert approved.returncode == 0, approved.stderr
    assert "build: done earlier, skipped" in approved.stderr
    assert "publish-test: done earlier, skipped" in approved.stderr
    assert _served(site, site.production, "0.3.0") == files


def test_rerun_after_an_interrupted_publish_completes_without_duplicates(site: Site) -> None:
    tag = _tag(site.repo, "0.4.0")
    dist = site.tmp / "dist-0.4.0"
    # Stop at the approval, then put only the wheel on production, as a publish that died after
    # its first upload would have left it.
    assert site.release(tag, dist).returncode != 0
    wheel = next(dist.glob("*.whl"))
    token = site.production.create_token("alice")
    site.production.cli("policy", "hold-token-uploads", PROJECT, "off")  # as above
    partial = subprocess.run(
        [
            PYTHON, "-m", "trustyard", "publish", str(wheel),
            "--index", site.production.upload_url, "--token", token, "--cacert", str(site.bundle),
        ],
        capture_output=True, text=True, env=client_env(site.tmp), timeout=300, check=False,
    )  # fmt: skip
    assert partial.returncode == 0, partial.stderr
    result = site.release(tag, dist, "--yes")
    assert result.returncode == 0, result.stderr
    done = _state(dist)["done"]
    assert isinstance(done, dict)
    assert done["publish"]["skipped"] == [wheel.name]
    assert len(done["publish"]["uploaded"]) == 1
    served = _served(site, site.production, "0.4.0")
    assert served == _state(dist)["files"]
    shutil.rmtree(dist)
