"""``trustyard release add-wheels`` end to end against real ``trustyard serve`` processes: a
release whose sdist is published gets the wheel of an installed CPython, built from that sdist,
on the test index and then production (with a token; and through Trusted Publishing in a
development GitHub Actions job, signed by the development Sigstore and checked by
``trustyard verify --cacert``); and the refusals: a tag without a release on the index, a
published sdist that is not what the tag builds to, a wheel filename the index has with other
bytes.
"""

from __future__ import annotations

import hashlib
import json
import re
import ssl
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import PYTHON, IndexServer, client_env, start_index
from tests.e2e.conftest import REPOSITORY, WORKFLOW, ReleaseSite, release_site
from tests.release.conftest import git, make_repo
from trustyard.attestations.statements import parse_provenance

pytestmark = pytest.mark.slow

PROJECT = "ty-sample-perpython"
SAMPLE = "hatchling_perpython"
MODULE = "ty_sample_perpython"


def wheel_name(version: str) -> str:
    return f"{MODULE}-{version}-cp311-cp311-manylinux_2_17_x86_64.whl"


def sdist_name(version: str) -> str:
    return f"{MODULE}-{version}.tar.gz"


def _tag(repo: Path, version: str, date: str = "2024-03-05T00:00:00+00:00") -> str:
    """Commit ``version`` into the sample and tag it ``v<version>``."""
    for path in (repo / "pyproject.toml", repo / f"src/{MODULE}/__init__.py"):
        text = path.read_text()
        path.write_text(re.sub(r'(version(?:__)? = )"[^"]+"', rf'\1"{version}"', text))
    git(repo, "commit", "--quiet", "--all", "--message", f"release {version}", date=date)
    git(repo, "tag", f"v{version}")
    return f"v{version}"


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, "-m", "trustyard", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def _served(
    index: IndexServer, version: str, context: ssl.SSLContext | None = None
) -> dict[str, str]:
    """filename -> sha256 of ``version``'s files, from the PEP 691 simple page."""
    request = urllib.request.Request(
        f"{index.simple_url}{PROJECT}/",
        headers={"Accept": "application/vnd.pypi.simple.v1+json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30, context=context) as response:
            page = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return {}
        raise
    return {
        f["filename"]: f["hashes"]["sha256"]
        for f in page["files"]
        if f["filename"].startswith(f"{MODULE}-{version}")
    }


@dataclass
class Plain:
    """Two plain-HTTP indexes with API tokens, and the sample's repository."""

    test: IndexServer
    production: IndexServer
    test_token: str
    token: str
    repo: Path
    tmp: Path
    caches: dict[str, str]  # the run's shared build caches (``build_caches``)

    def env(self) -> dict[str, str]:
        return {**client_env(self.tmp), **self.caches}

    def build(self, ref: str, out: Path) -> dict[str, Path]:
        """``trustyard build`` of ``ref``; filename -> path."""
        built = _run(self.env(), "build", str(self.repo), "--ref", ref, "--out", str(out))
        assert built.returncode == 0, built.stderr
        return {p.name: p for p in out.iterdir() if p.name.endswith((".whl", ".tar.gz"))}

    def publish(self, *files: Path) -> None:
        """Put ``files`` on production as a release published earlier would have."""
        done = _run(
            self.env(), "publish", *map(str, files),
            "--index", self.production.upload_url, "--token", self.token,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr

    def add_wheels(self, tag: str, dist: Path, *args: str) -> subprocess.CompletedProcess[str]:
        return _run(
            self.env(),
            "release", "add-wheels", "--ref", tag, "--python", "cp311",
            "--project", str(self.repo), "--dist", str(dist),
            "--test-index", self.test.upload_url, "--test-token", self.test_token,
            "--index", self.production.upload_url, "--token", self.token,
            *args,
        )  # fmt: skip


@pytest.fixture(scope="module")
def plain(
    tmp_path_factory: pytest.TempPathFactory, build_caches: dict[str, str]
) -> Iterator[Plain]:
    tmp = tmp_path_factory.mktemp("add-wheels")
    indexes: list[IndexServer] = []
    try:
        tokens = []
        for name in ("test", "production"):
            index = start_index(tmp / name)
            indexes.append(index)
            index.create_user("alice")
            tokens.append(index.create_token("alice"))
        repo = make_repo(SAMPLE, tmp / "repo")
        yield Plain(indexes[0], indexes[1], tokens[0], tokens[1], repo, tmp, build_caches)
    finally:
        for index in indexes:
            index.stop()


def test_add_wheels_with_a_token_builds_from_the_published_sdist(plain: Plain) -> None:
    # The release as published earlier: its sdist only (its wheel for 3.11 was never made).
    dist = plain.tmp / "dist-0.1.0"
    built = plain.build("v0.1.0", dist)
    wheel = built.pop(wheel_name("0.1.0"))
    expected = wheel.read_bytes()
    wheel.unlink()
    plain.publish(built[sdist_name("0.1.0")])
    assert set(_served(plain.production, "0.1.0")) == {sdist_name("0.1.0")}

    result = plain.add_wheels("v0.1.0", dist, "--yes", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    digest = report["added"][wheel_name("0.1.0")]
    assert report["release"] == f"{PROJECT}==0.1.0"
    assert report["sdist"]["filename"] == sdist_name("0.1.0")
    assert report["approved_by"] == "--yes"
    assert report["signed"] is False
    assert "not signed (no ambient CI identity" in result.stderr
    # The wheel is the one `trustyard build` makes from the tag: same bytes, on both indexes.
    assert (dist / wheel_name("0.1.0")).read_bytes() == expected
    assert _served(plain.test, "0.1.0") == {wheel_name("0.1.0"): digest}
    assert _served(plain.production, "0.1.0") == {
        sdist_name("0.1.0"): report["sdist"]["sha256"],
        wheel_name("0.1.0"): digest,
    }
    # Its own records: the build from the published sdist, checksums, provenance of just it.
    record = json.loads((dist / "cp311.build-env.json").read_text())
    assert record["source"]["sdist"] == report["sdist"]
    assert record["source"]["ref"] == "v0.1.0"
    assert record["python"]["version"].startswith("3.11.")
    release_record = json.loads((dist / "build-env.json").read_text())
    assert record["dependencies"] == release_record["dependencies"]  # the recorded environment
    assert (dist / "cp311.SHA256SUMS").read_text() == f"{digest}  {wheel_name('0.1.0')}\n"
    statement = parse_provenance((dist / "cp311.intoto.jsonl").read_text())
    assert [(s.name, s.sha256) for s in statement.subjects] == [(wheel_name("0.1.0"), digest)]
    source = statement.source()
    assert source is not None
    assert (source.commit, source.ref) == (report["commit"], "refs/tags/v0.1.0")
    # pip installs that wheel from production.
    target = plain.tmp / "installed"
    install = subprocess.run(
        [
            PYTHON, "-m", "pip", "install", "--quiet", "--only-binary", ":all:",
            "--target", str(target), "--index-url", plain.production.simple_url,
            f"{PROJECT}==0.1.0",
        ],
        capture_output=True, text=True, env=plain.env(), timeout=300, check=False,
    )  # fmt: skip
    assert install.returncode == 0, install.stderr
    assert (target / f"{MODULE}-0.1.0.dist-info/WHEEL").read_text().count("cp311-cp311-") == 1
    # trustyard verify rebuilds both files from the tag and finds them identical.
    verify = _run(
        plain.env(), "verify", f"{PROJECT}==0.1.0", "--index", plain.production.simple_url,
        "--source", str(plain.repo), "--ref", "v0.1.0",
    )  # fmt: skip
    assert verify.returncode == 0, verify.stdout + verify.stderr
    # A rerun finds everything in place and adds nothing.
    again = plain.add_wheels("v0.1.0", dist)
    assert again.returncode == 0, again.stderr
    assert "every wheel is already on the production index: nothing to add" in again.stderr
    assert f"{digest}  {wheel_name('0.1.0')}  already on the index" in again.stdout


def test_a_tag_without_a_release_on_the_index_is_refused(plain: Plain) -> None:
    tag = _tag(plain.repo, "0.2.0")
    dist = plain.tmp / "dist-0.2.0"
    result = plain.add_wheels(tag, dist, "--yes")
    assert result.returncode == 1
    assert (
        f"trustyard: error: the production index has no release {PROJECT}==0.2.0 (what v0.2.0 "
        "builds): "
    ) in result.stderr
    assert "publish the release first (trustyard release)" in result.stderr
    assert not dist.exists()
    assert _served(plain.test, "0.2.0") == {}
    # A release without its sdist cannot get wheels either: they come from the sdist.
    other = plain.build(tag, plain.tmp / "built-0.2.0")
    plain.publish(other[wheel_name("0.2.0")])
    result = plain.add_wheels(tag, dist, "--yes")
    assert result.returncode == 1
    assert (
        f"the production index has no sdist {sdist_name('0.2.0')} for {PROJECT}==0.2.0 "
        "(sdists there: none)"
    ) in result.stderr


def test_a_published_sdist_that_the_tag_does_not_build_to_is_refused(plain: Plain) -> None:
    tag = _tag(plain.repo, "0.3.0")
    # The same tree committed a day later builds to other bytes (another SOURCE_DATE_EPOCH);
    # that sdist is what the index got.
    git(
        plain.repo,
        "commit",
        "--quiet",
        "--allow-empty",
        "-m",
        "later",
        date="2024-03-06T00:00:00+00:00",
    )
    other = plain.build("HEAD", plain.tmp / "built-0.3.0-later")
    plain.publish(other[sdist_name("0.3.0")])
    dist = plain.tmp / "dist-0.3.0"
    result = plain.add_wheels(tag, dist, "--yes")
    assert result.returncode == 1
    assert (
        f"the index's {sdist_name('0.3.0')} (sha256 {_served(plain.production, '0.3.0')[sdist_name('0.3.0')]}) "
        f"is not what {tag} builds to"
    ) in result.stderr
    assert "wheels built from it would not come from the tagged source" in result.stderr
    assert "mtime" in result.stderr  # the member-by-member difference is shown
    assert not dist.exists()
    assert set(_served(plain.production, "0.3.0")) == {sdist_name("0.3.0")}
    assert _served(plain.test, "0.3.0") == {}


def test_a_wheel_filename_the_index_has_with_other_bytes_is_refused(plain: Plain) -> None:
    tag = _tag(plain.repo, "0.4.0")
    ours = plain.build(tag, plain.tmp / "built-0.4.0")
    git(
        plain.repo,
        "commit",
        "--quiet",
        "--allow-empty",
        "-m",
        "later",
        date="2024-03-07T00:00:00+00:00",
    )
    theirs = plain.build("HEAD", plain.tmp / "built-0.4.0-later")
    plain.publish(ours[sdist_name("0.4.0")], theirs[wheel_name("0.4.0")])
    served = _served(plain.production, "0.4.0")
    dist = plain.tmp / "dist-0.4.0"
    result = plain.add_wheels(tag, dist, "--yes")
    assert result.returncode == 1
    assert "already has these filenames with other bytes" in result.stderr
    digest = hashlib.sha256(ours[wheel_name("0.4.0")].read_bytes()).hexdigest()
    assert (
        f"{wheel_name('0.4.0')}: the index has sha256 {served[wheel_name('0.4.0')]}, the build "
        f"from the published sdist is {digest}"
    ) in result.stderr
    assert not dist.exists()
    assert _served(plain.production, "0.4.0") == served
    assert _served(plain.test, "0.4.0") == {}


def test_refused_approval_publishes_to_the_test_index_only_and_a_rerun_finishes(
    plain: Plain,
) -> None:
    tag = _tag(plain.repo, "0.5.0")
    built = plain.build(tag, plain.tmp / "built-0.5.0")
    plain.publish(built[sdist_name("0.5.0")])
    dist = plain.tmp / "dist-0.5.0"
    refused = plain.add_wheels(tag, dist)  # no --yes, no terminal
    assert refused.returncode == 1
    assert "approval needed before publishing to production" in refused.stderr
    digest = (dist / "cp311.SHA256SUMS").read_text().split()[0]
    assert _served(plain.test, "0.5.0") == {wheel_name("0.5.0"): digest}
    assert set(_served(plain.production, "0.5.0")) == {sdist_name("0.5.0")}
    wrong = plain.tmp / "approve-wrong"
    wrong.write_text(f"{'0' * 64}  {wheel_name('0.5.0')}\n")
    refused = plain.add_wheels(tag, dist, "--approve-file", str(wrong))
    assert refused.returncode == 1
    assert "does not approve these bytes" in refused.stderr
    approved = plain.add_wheels(tag, dist, "--approve-file", str(dist / "cp311.SHA256SUMS"))
    assert approved.returncode == 0, approved.stderr
    assert f"publish-test: {wheel_name('0.5.0')} skipped (already on the index)" in approved.stderr
    assert _served(plain.production, "0.5.0")[wheel_name("0.5.0")] == digest


# -- Trusted Publishing, signed ----------------------------------------------------------------


@pytest.fixture(scope="module")
def site(
    tmp_path_factory: pytest.TempPathFactory, build_caches: dict[str, str]
) -> Iterator[ReleaseSite]:
    tmp = tmp_path_factory.mktemp("add-wheels-tp")
    with release_site(tmp, PROJECT, SAMPLE, build_caches) as started:
        yield started


def test_add_wheels_through_trusted_publishing_signed_and_verified(site: ReleaseSite) -> None:
    tag = "v0.1.0"
    # The release as CI published it earlier: the sdist with its attestation, on production.
    early = site.tmp / "early"
    built = site.trustyard(tag, "build", str(site.repo), "--ref", tag, "--out", str(early))
    assert built.returncode == 0, built.stderr
    (early / wheel_name("0.1.0")).unlink()
    attest = site.trustyard(
        tag, "attest", str(early), "--source", str(site.repo),
        "--sigstore-trust-config", str(site.sigstore.trust_config_path),
    )  # fmt: skip
    assert attest.returncode == 0, attest.stderr
    sdist = early / sdist_name("0.1.0")
    publish = site.trustyard(
        tag, "publish", str(sdist), str(sdist) + ".publish.attestation",
        "--index", site.production.upload_url, "--trusted-publishing", "always",
        "--cacert", str(site.bundle),
    )  # fmt: skip
    assert publish.returncode == 0, publish.stderr

    dist = site.tmp / "dist"
    result = site.trustyard(
        tag, "release", "add-wheels", "--ref", tag, "--python", "cp311",
        "--project", str(site.repo), "--dist", str(dist),
        "--test-index", site.test.upload_url, "--index", site.production.upload_url,
        "--trusted-publishing", "always", "--cacert", str(site.bundle),
        "--sigstore-trust-config", str(site.sigstore.trust_config_path), "--yes", "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["signed"] is True
    wheel = wheel_name("0.1.0")
    assert (dist / f"{wheel}.publish.attestation").is_file()
    line = (dist / "cp311.intoto.jsonl").read_text()
    assert json.loads(line)["mediaType"].startswith("application/vnd.dev.sigstore.bundle")
    for index in (site.test, site.production):
        context = index.ssl_context()
        assert _served(index, "0.1.0", context)[wheel] == report["added"][wheel]
        request = urllib.request.Request(
            f"{index.url}/integrity/{PROJECT}/0.1.0/{wheel}/provenance",
            headers={"Accept": "application/vnd.pypi.integrity.v1+json"},
        )
        with urllib.request.urlopen(request, timeout=30, context=context) as response:
            (bundle,) = json.loads(response.read())["attestation_bundles"]
        assert bundle["publisher"]["kind"] == "GitHub"
        assert bundle["publisher"]["repository"] == REPOSITORY
        assert bundle["publisher"]["workflow"] == WORKFLOW
    # trustyard verify --cacert: both files rebuilt identical, both attested by the publisher,
    # with only the production index's CA trusted (no SSL_CERT_FILE).
    verify = [
        "verify", f"{PROJECT}==0.1.0", "--index", site.production.simple_url,
        "--source", str(site.repo), "--ref", tag, "--publisher", f"github:{REPOSITORY}/{WORKFLOW}",
        "--sigstore-trust-config", str(site.sigstore.trust_config_path), "--json",
    ]  # fmt: skip
    plain_env = {**client_env(site.tmp), **site.caches}
    checked = site.trustyard(tag, *verify, "--cacert", str(site.production.ca), env=plain_env)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    verdicts = json.loads(checked.stdout)
    assert {f["filename"]: f["verdict"] for f in verdicts["files"]} == {
        sdist_name("0.1.0"): "reproduced",
        wheel: "reproduced",
    }
    assert {a["status"] for a in verdicts["attestations"]} == {"attested by the expected publisher"}
    untrusted = site.trustyard(tag, *verify, env=plain_env)
    assert untrusted.returncode == 1
    assert "CERTIFICATE_VERIFY_FAILED" in untrusted.stderr
    missing = site.trustyard(tag, *verify, "--cacert", str(site.tmp / "no-such.pem"), env=plain_env)
    assert missing.returncode == 1
    assert f"--cacert {site.tmp / 'no-such.pem'}: cannot load CA certificates" in missing.stderr


def test_a_wheel_the_index_holds_is_reported_as_held_and_stops(site: ReleaseSite) -> None:
    """Publisher continuity on a Trusted-Publishing-only project (issue 18): the sdist came
    through Trusted Publishing, the wheel comes with an API token, so production stores it but
    holds it for an owner's approval. ``add-wheels`` says ``held``, fails, and goes no further;
    once an owner releases the file, a rerun finds it there."""
    tag = _tag(site.repo, "0.6.0")
    early = site.tmp / "early-0.6.0"
    built = site.trustyard(tag, "build", str(site.repo), "--ref", tag, "--out", str(early))
    assert built.returncode == 0, built.stderr
    published = site.trustyard(
        tag, "publish", str(early / sdist_name("0.6.0")),
        "--index", site.production.upload_url, "--trusted-publishing", "always",
        "--cacert", str(site.bundle),
    )  # fmt: skip
    assert published.returncode == 0, published.stderr

    # The test index holds nothing here: when an earlier test of this module published the
    # project there through Trusted Publishing, its owner has switched the hold off (else the
    # project does not exist there yet and nothing holds).
    switched = site.test.cli("policy", "hold-token-uploads", PROJECT, "off", check=False)
    assert switched.returncode == 0 or "no project" in switched.stderr, switched.stderr

    # A maintainer's machine: API tokens, no CI identity.
    env = {**client_env(site.tmp), **site.caches, "SSL_CERT_FILE": str(site.bundle)}
    dist = site.tmp / "dist-0.6.0"
    command = [
        "release", "add-wheels", "--ref", tag, "--python", "cp311",
        "--project", str(site.repo), "--dist", str(dist),
        "--test-index", site.test.upload_url, "--test-token", site.test.create_token("alice"),
        "--index", site.production.upload_url, "--token", site.production.create_token("alice"),
        "--trusted-publishing", "never", "--cacert", str(site.bundle), "--yes", "--json",
    ]  # fmt: skip
    result = site.trustyard(tag, *command, env=env)
    assert result.returncode == 1, result.stdout + result.stderr
    wheel = wheel_name("0.6.0")
    assert f"publish-test: {wheel} uploaded" in result.stderr
    assert f"publish: {wheel} held (" in result.stderr
    assert f"{wheel}: HELD by the index, not served:" in result.stderr
    assert "has only ever been published through Trusted Publishing" in result.stderr
    assert "held for an owner's approval" in result.stderr
    assert result.stdout == ""  # it stopped: no report of wheels added
    context = site.production.ssl_context()
    assert set(_served(site.production, "0.6.0", context)) == {sdist_name("0.6.0")}
    assert wheel in _served(site.test, "0.6.0", site.test.ssl_context())

    listed = site.production.cli("policy", "held", "list", "--json")
    (held,) = [row for row in json.loads(listed.stdout) if row["filename"] == wheel]
    site.production.cli("policy", "release", str(held["id"]), "--reason", "our own build")
    again = site.trustyard(tag, *command, env=env)
    assert again.returncode == 0, again.stderr
    assert "every wheel is already on the production index: nothing to add" in again.stderr
    assert wheel in _served(site.production, "0.6.0", context)
