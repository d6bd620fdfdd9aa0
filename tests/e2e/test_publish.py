"""``trustyard publish`` end to end: real ``trustyard serve`` processes, real dists, pip installs.

With an API token against a plain index; with Trusted Publishing against ``serve --tls`` while
the development issuer plays GitHub Actions and GitLab CI, as in ``test_trusted_publishing``.
"""

from __future__ import annotations

import json
import os
import pty
import re
import select
import shutil
import sqlite3
import subprocess
import urllib.request
from collections.abc import Iterator
from hashlib import sha256
from pathlib import Path

import pytest

from tests.attestations.vectors import PUBLISH, REPOSITORY, SDIST, SLSA, WORKFLOW, document
from tests.conftest import PYTHON, IndexServer
from tests.dists.builders import build_sdist, build_wheel
from tests.e2e.conftest import TlsSite, pip_install, run, tls_site
from tests.oidc.conftest import ci_free_env
from trustyard.release.publish import FileResult, publish_files

pytestmark = pytest.mark.slow

_MASK = re.compile(r"^::add-mask::(\S+)$", re.MULTILINE)


def publish(*args: str, env: dict[str, str], ok: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``trustyard publish ARGS``; it must succeed (or, with ``ok=False``, fail)."""
    return run([PYTHON, "-m", "trustyard", "publish", *args], env, ok=ok)


def json_files(index: IndexServer, project: str, version: str) -> list[dict[str, object]]:
    url = f"{index.url}/pypi/{project}/{version}/json"
    with urllib.request.urlopen(url, timeout=30, context=index.ssl_context()) as response:
        document = json.load(response)
    files: list[dict[str, object]] = document["urls"]
    return files


def journal(index: IndexServer) -> list[str]:
    db = sqlite3.connect(f"file:{index.data / 'trustyard.sqlite3'}?mode=ro", uri=True)
    try:
        return [row[0] for row in db.execute("SELECT action FROM journal ORDER BY id")]
    finally:
        db.close()


# --- with an API token, over plain HTTP ------------------------------------------------------


def test_token_upload_then_pip_install_then_rerun_skips(
    index: IndexServer, uploader: str, tmp_path: Path
) -> None:
    dist = tmp_path / "dist"
    sdist = build_sdist(dist, "pub-token", "1.0")
    wheel = build_wheel(dist, "pub-token", "1.0")
    (dist / "SHA256SUMS").write_text("not uploaded\n")
    env = ci_free_env(tmp_path)

    first = publish(str(dist), "--index", index.upload_url, "--token", uploader, env=env)
    assert "2 uploaded, 0 skipped, 0 failed" in first.stderr
    assert uploader not in first.stdout + first.stderr

    target = pip_install(index, tmp_path, "pub-token==1.0", env)
    assert (target / "pub_token" / "__init__.py").read_text() == '__version__ = "1.0"\n'

    # Wheels before the sdist: the index's upload times say so.
    times = {
        f["filename"]: str(f["upload_time_iso_8601"]) for f in json_files(index, "pub-token", "1.0")
    }
    assert set(times) == {wheel.name, sdist.name}
    assert times[wheel.name] < times[sdist.name]

    # A rerun (token from the environment this time) skips everything and succeeds.
    again = publish(
        str(dist),
        "--index",
        index.upload_url,
        "--check-url",
        index.simple_url,
        env={**env, "TRUSTYARD_PUBLISH_TOKEN": uploader},
    )
    assert f"{wheel.name}: skipping, already on the index" in again.stderr
    assert f"{sdist.name}: skipping, already on the index" in again.stderr
    assert "0 uploaded, 2 skipped, 0 failed" in again.stderr
    assert len(json_files(index, "pub-token", "1.0")) == 2


def test_same_filename_other_bytes_fails_loudly_and_uploads_nothing(
    index: IndexServer, uploader: str, tmp_path: Path
) -> None:
    env = ci_free_env(tmp_path)
    published = build_wheel(tmp_path / "first", "pub-clash", "1.0")
    publish(str(published), "--index", index.upload_url, "--token", uploader, env=env)

    rebuilt = tmp_path / "second"
    other = build_wheel(rebuilt, "pub-clash", "1.0", metadata_extra="Author: Someone Else\n")
    sdist = build_sdist(rebuilt, "pub-clash", "1.0")
    assert other.name == published.name
    old, new = (sha256(p.read_bytes()).hexdigest() for p in (published, other))
    assert old != new

    result = publish(
        str(rebuilt), "--index", index.upload_url, "--token", uploader, env=env, ok=False
    )
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("trustyard: error")]
    assert errors == [
        f"trustyard: error: {other.name}: the index already has this filename with other "
        f"bytes: index sha256 {old}, local sha256 {new}",
        f"trustyard: error: {sdist.name}: not uploaded: 1 file(s) conflict with the index",
    ]
    # Nothing was uploaded: the sdist is not there, the wheel is still the first one.
    files = json_files(index, "pub-clash", "1.0")
    assert [(f["filename"], f["digests"]["sha256"]) for f in files] == [(published.name, old)]  # type: ignore[index]


def test_a_failed_upload_of_bytes_that_got_there_anyway_counts_as_done(
    index: IndexServer, uploader: str, tmp_path: Path
) -> None:
    """uv's raced duplicate: re-checked after a failure, our sha256 on the index is success."""
    index.create_user("mallory")
    stranger = index.create_token("mallory")
    wheel = build_wheel(tmp_path, "pub-race", "1.0")

    class RacedBy:
        """Just before our upload starts, the project's owner uploads the same file."""

        raced = False

        def note(self, message: str) -> None:
            pass

        def start(self, filename: str, size: int) -> None:
            if not self.raced:
                self.raced = True
                other = publish_files(
                    [wheel], upload_url=index.upload_url, token=uploader, environ={}
                )
                assert [f.outcome for f in other.files] == ["uploaded"]

        def advance(self, filename: str, sent: int) -> None:
            pass

        def finish(self, result: FileResult) -> None:
            pass

    # mallory may not upload to alice's project: the index refuses, yet the file is there.
    report = publish_files(
        [wheel], upload_url=index.upload_url, token=stranger, environ={}, progress=RacedBy()
    )
    assert report.ok
    assert [(f.outcome, f.reason) for f in report.files] == [
        ("skipped", "already on the index (uploaded concurrently)")
    ]

    # A refusal for a file that is not there stays a failure, with the index's own words.
    late = build_wheel(tmp_path, "pub-race", "1.1")
    report = publish_files([late], upload_url=index.upload_url, token=stranger, environ={})
    assert not report.ok
    assert report.files[0].reason.startswith("the index refused the upload: 403 ")


# --- Trusted Publishing against serve --tls and the development issuer -----------------------


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsSite]:
    with tls_site(tmp_path_factory.mktemp("publish-tp")) as started:
        yield started


def test_github_trusted_publishing_end_to_end_and_the_token_is_burnt(site: TlsSite) -> None:
    site.add_github_publisher("pub-gh", "octo/pub-gh", "release.yml")
    ci = site.issuer.env(
        "--repository", "octo/pub-gh", "--workflow", "release.yml", "--ref", "refs/tags/v1.0.0"
    )
    assert ci["GITHUB_ACTIONS"] == "true"
    dist = site.tmp / "dist-gh"
    build_sdist(dist, "pub-gh", "1.0.0")
    build_wheel(dist, "pub-gh", "1.0.0")
    env = ci_free_env(site.tmp, ci)  # the CA comes from --cacert, not the environment
    burnt_before = sum("burned token" in a for a in journal(site.index))

    result = publish(
        str(dist),
        "--index",
        site.index.upload_url,
        "--trusted-publishing",
        "always",
        "--cacert",
        str(site.ca),
        env=env,
    )
    assert "2 uploaded, 0 skipped, 0 failed" in result.stderr
    assert "Trusted Publishing: github identity exchanged" in result.stderr
    assert "warning" not in result.stderr
    masked = _MASK.findall(result.stderr)
    assert len(masked) == 1
    token = masked[0]
    assert result.stderr.count(token) == 1  # only in the mask command, never elsewhere
    assert token not in result.stdout
    assert sum("burned token" in a for a in journal(site.index)) == burnt_before + 1

    pip_install(site.index, site.tmp, "pub-gh==1.0.0", ci_free_env(site.tmp))

    # The minted token died with the publish: it cannot upload anything any more.
    later = build_wheel(site.tmp / "dist-gh-later", "pub-gh", "1.0.1")
    refused = publish(
        str(later),
        "--index",
        site.index.upload_url,
        "--token",
        token,
        "--cacert",
        str(site.ca),
        env=ci_free_env(site.tmp),
        ok=False,
    )
    assert f"trustyard: error: {later.name}: the index refused the upload: 403 " in refused.stderr


def test_gitlab_trusted_publishing_in_auto_mode(site: TlsSite) -> None:
    ci = site.add_gitlab_publisher("pub-gl", "group/pub-gl")
    env = ci_free_env(site.tmp, {**ci, "SSL_CERT_FILE": str(site.ca)})
    burnt_before = sum("burned token" in a for a in journal(site.index))
    wheel = build_wheel(site.tmp / "dist-gl", "pub-gl", "2.0.0")

    result = publish(str(wheel), "--index", site.index.upload_url, env=env)  # auto: no token
    assert "Trusted Publishing: gitlab identity exchanged" in result.stderr
    assert "1 uploaded, 0 skipped, 0 failed" in result.stderr
    assert "::add-mask::" not in result.stderr  # only GitHub Actions understands that
    assert sum("burned token" in a for a in journal(site.index)) == burnt_before + 1
    pip_install(site.index, site.tmp, "pub-gl==2.0.0", ci_free_env(site.tmp))


def test_refused_mint_shows_the_index_codes_and_the_claims(site: TlsSite) -> None:
    site.add_github_publisher("pub-refused", "octo/pub-refused", "release.yml")
    ci = site.issuer.env(
        "--repository",
        "octo/pub-refused",
        "--workflow",
        "other.yml",
        "--ref",
        "refs/tags/v1.0.0",
        "--owner-id",
        "4242",
    )
    wheel = build_wheel(site.tmp / "dist-refused", "pub-refused", "1.0.0")
    env = ci_free_env(site.tmp, {**ci, "SSL_CERT_FILE": str(site.ca)})
    result = publish(
        str(wheel),
        "--index",
        site.index.upload_url,
        "--trusted-publishing",
        "always",
        env=env,
        ok=False,
    )
    err = result.stderr
    assert err.startswith(
        "trustyard: error: the index refused to mint an upload token (422 Unprocessable"
    )
    assert "  * invalid-publisher: valid token, but no corresponding publisher" in err
    assert "  * repository: octo/pub-refused\n" in err
    assert "  * repository_owner: octo\n" in err
    assert "  * repository_owner_id: 4242\n" in err
    assert (
        "  * workflow_ref: octo/pub-refused/.github/workflows/other.yml@refs/tags/v1.0.0\n" in err
    )
    assert "  * ref: refs/tags/v1.0.0\n" in err
    assert "  * environment: MISSING" in err
    assert "  * sub: repo:octo/pub-refused:ref:refs/tags/v1.0.0\n" in err
    assert json_files_or_none(site.index, "pub-refused") is None  # nothing uploaded


def json_files_or_none(index: IndexServer, project: str) -> list[object] | None:
    url = f"{index.url}/simple/{project}/"
    request = urllib.request.Request(url, headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    with urllib.request.urlopen(request, timeout=30, context=index.ssl_context()) as response:
        files: list[object] = json.load(response)["files"]
    return files or None


def test_always_without_a_ci_identity_fails_clearly(site: TlsSite) -> None:
    wheel = build_wheel(site.tmp / "dist-no-ci", "pub-no-ci", "1.0")
    env = ci_free_env(site.tmp, {"SSL_CERT_FILE": str(site.ca)})
    result = publish(
        str(wheel),
        "--index",
        site.index.upload_url,
        "--trusted-publishing",
        "always",
        env=env,
        ok=False,
    )
    assert result.stderr.startswith(
        "trustyard: error: Trusted Publishing needs a CI identity, and none was found"
    )
    # auto without a token and outside CI: no credentials, said as such.
    result = publish(str(wheel), "--index", site.index.upload_url, env=env, ok=False)
    assert result.stderr.startswith("trustyard: error: no credentials: pass --token")


def test_github_actions_without_id_token_permission(site: TlsSite) -> None:
    wheel = build_wheel(site.tmp / "dist-no-perm", "pub-no-perm", "1.0")
    env = ci_free_env(site.tmp, {"SSL_CERT_FILE": str(site.ca), "GITHUB_ACTIONS": "true"})
    result = publish(str(wheel), "--index", site.index.upload_url, env=env, ok=False)
    assert "insufficient permissions to request an OIDC token" in result.stderr
    assert "id-token: write" in result.stderr


def test_a_progress_bar_per_file_on_a_terminal(
    index: IndexServer, uploader: str, tmp_path: Path
) -> None:
    dist = tmp_path / "dist"
    wheel = build_wheel(dist, "pub-tty", "1.0")
    sdist = build_sdist(dist, "pub-tty", "1.0")
    controller, terminal = pty.openpty()
    with subprocess.Popen(
        [PYTHON, "-m", "trustyard", "publish", str(dist), "--index", index.upload_url],
        stdout=terminal,
        stderr=terminal,
        env={**ci_free_env(tmp_path), "TRUSTYARD_PUBLISH_TOKEN": uploader, "TERM": "xterm"},
    ) as process:
        os.close(terminal)
        screen = b""
        while select.select([controller], [], [], 120)[0]:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # the terminal closed with the process
                break
            if not chunk:
                break
            screen += chunk
        assert process.wait(timeout=60) == 0, screen.decode("utf-8", "replace")
    os.close(controller)
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen.decode("utf-8", "replace"))
    for path in (wheel, sdist):
        size = path.stat().st_size
        assert f"{path.name} (uploaded)" in text
        assert f"{size}/{size} bytes" in text  # rich's bar, filled
    assert "━" in text


def test_an_upload_url_that_redirects_is_named_not_followed(
    index: IndexServer, uploader: str, tmp_path: Path
) -> None:
    wheel = build_wheel(tmp_path, "pub-redirect", "1.0")
    result = publish(
        str(wheel),
        "--index",
        f"{index.url}/legacy",
        "--token",
        uploader,
        env=ci_free_env(tmp_path),
        ok=False,
    )
    assert (
        f"trustyard: error: {wheel.name}: the index answered 308 Permanent Redirect "
        f"(redirect to {index.url}/legacy/)"
    ) in result.stderr


def test_real_attestations_go_up_with_trusted_publishing_and_are_served_back(site: TlsSite) -> None:
    """The pypi-attestations vectors, published as their GitHub publisher: provenance served."""
    site.add_github_publisher("pypi-attestations", REPOSITORY, WORKFLOW)
    release = site.tmp / "dist-attested"
    release.mkdir()
    for vector in (SDIST, PUBLISH, SLSA):
        shutil.copy(vector, release / vector.name)
    ci = site.issuer.env(
        "--repository", REPOSITORY, "--workflow", WORKFLOW, "--ref", "refs/tags/v0.0.19"
    )
    env = ci_free_env(site.tmp, {**ci, "SSL_CERT_FILE": str(site.ca)})
    result = publish(str(release), "--index", site.index.upload_url, env=env)
    assert "1 uploaded, 0 skipped, 0 failed" in result.stderr

    url = f"{site.index.url}/integrity/pypi-attestations/0.0.19/{SDIST.name}/provenance"
    with urllib.request.urlopen(url, timeout=30, context=site.index.ssl_context()) as response:
        provenance = json.load(response)
    (bundle,) = provenance["attestation_bundles"]
    assert bundle["publisher"]["repository"] == REPOSITORY
    assert bundle["attestations"] == [document(PUBLISH), document(SLSA)]


def test_attestations_are_left_out_with_an_api_token(
    index: IndexServer, uploader: str, tmp_path: Path
) -> None:
    dist = tmp_path / "dist"
    wheel = build_wheel(dist, "pub-unattested", "1.0")
    shutil.copy(PUBLISH, dist / f"{wheel.name}.publish.attestation")
    result = publish(
        str(dist), "--index", index.upload_url, "--token", uploader, env=ci_free_env(tmp_path)
    )
    assert (
        "warning: attestations are only accepted with Trusted Publishing; not sending them "
        "with an API token"
    ) in result.stderr
    assert "1 uploaded, 0 skipped, 0 failed" in result.stderr
