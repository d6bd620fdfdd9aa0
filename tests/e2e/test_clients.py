"""Whole flows with the real clients: twine and uv publish in, pip and uv install out."""

from __future__ import annotations

import hashlib
import json
import subprocess
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import PYTHON, IndexServer, client_env, tool, twine_command
from tests.dists.builders import build_sdist, build_wheel
from tests.e2e.conftest import installed_version, run

pytestmark = pytest.mark.slow


def twine_upload(
    index: IndexServer, token: str, files: list[Path], env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    return run(twine_command(index.upload_url, token, files), env)


def uv_publish(
    index: IndexServer, token: str, files: list[Path], env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    return run(
        [
            tool("uv"),
            "publish",
            "--publish-url",
            index.upload_url,
            "--token",
            token,
            "--trusted-publishing",
            "never",
            *map(str, files),
        ],
        env,
    )


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return client_env(tmp_path)


def test_twine_upload_then_pip_install_binary_and_source(
    index: IndexServer, uploader: str, tmp_path: Path, env: dict[str, str]
) -> None:
    dist = tmp_path / "dist"
    files = [
        build_wheel(dist, "e2e-twine", "1.0"),
        build_sdist(dist, "e2e-twine", "1.0"),
        build_wheel(dist, "e2e-twine", "1.1"),
    ]
    twine_upload(index, uploader, files, env)

    binary = tmp_path / "binary"
    run(
        [
            PYTHON,
            "-m",
            "pip",
            "install",
            "--target",
            str(binary),
            "--index-url",
            index.simple_url,
            "--only-binary",
            ":all:",
            "e2e-twine==1.0",
        ],
        env,
    )
    assert installed_version(binary, "e2e_twine") == "1.0"

    source = tmp_path / "source"
    run(
        [
            PYTHON,
            "-m",
            "pip",
            "install",
            "--target",
            str(source),
            "--index-url",
            index.simple_url,
            "--no-binary",
            ":all:",
            "e2e-twine",
        ],
        env,
    )
    assert installed_version(source, "e2e_twine") == "1.0"  # 1.1 has no sdist

    latest = tmp_path / "latest"
    run(
        [
            PYTHON,
            "-m",
            "pip",
            "install",
            "--target",
            str(latest),
            "--index-url",
            index.simple_url,
            "E2E_Twine",
        ],
        env,
    )
    assert installed_version(latest, "e2e_twine") == "1.1"


def test_uv_publish_then_uv_pip_install(
    index: IndexServer, uploader: str, tmp_path: Path, env: dict[str, str]
) -> None:
    dist = tmp_path / "dist"
    dist.mkdir()
    files = [build_wheel(dist, "e2e-uv", "2.0"), build_sdist(dist, "e2e-uv", "2.0")]
    uv_publish(index, uploader, files, env)

    venv = tmp_path / "venv"
    run([tool("uv"), "venv", "--python", PYTHON, str(venv)], env)
    run(
        [
            tool("uv"),
            "pip",
            "install",
            "--python",
            str(venv / "bin" / "python"),
            "--index-url",
            index.simple_url,
            "--only-binary",
            ":all:",
            "e2e-uv",
        ],
        env,
    )
    site = next((venv / "lib").glob("python3*/site-packages"))
    assert installed_version(site, "e2e_uv") == "2.0"

    venv2 = tmp_path / "venv2"
    run([tool("uv"), "venv", "--python", PYTHON, str(venv2)], env)
    run(
        [
            tool("uv"),
            "pip",
            "install",
            "--python",
            str(venv2 / "bin" / "python"),
            "--index-url",
            index.simple_url,
            "--no-binary",
            ":all:",
            "e2e-uv==2.0",
        ],
        env,
    )
    site2 = next((venv2 / "lib").glob("python3*/site-packages"))
    assert installed_version(site2, "e2e_uv") == "2.0"

    # Publishing the same files again is a no-op success, as on PyPI.
    uv_publish(index, uploader, files, env)


def test_pip_download_verifies_hashes(
    index: IndexServer, uploader: str, tmp_path: Path, env: dict[str, str]
) -> None:
    dist = tmp_path / "dist"
    wheel = build_wheel(dist, "e2e-hashes", "0.3")
    twine_upload(index, uploader, [wheel], env)
    good = hashlib.sha256(wheel.read_bytes()).hexdigest()

    requirements = tmp_path / "requirements.txt"
    requirements.write_text(f"e2e-hashes==0.3 --hash=sha256:{good}\n")
    out = tmp_path / "out"
    run(
        [
            PYTHON,
            "-m",
            "pip",
            "download",
            "--dest",
            str(out),
            "--index-url",
            index.simple_url,
            "--require-hashes",
            "-r",
            str(requirements),
        ],
        env,
    )
    assert (out / wheel.name).read_bytes() == wheel.read_bytes()

    requirements.write_text(f"e2e-hashes==0.3 --hash=sha256:{'0' * 64}\n")
    bad = run(
        [
            PYTHON,
            "-m",
            "pip",
            "download",
            "--dest",
            str(tmp_path / "out2"),
            "--index-url",
            index.simple_url,
            "--require-hashes",
            "-r",
            str(requirements),
        ],
        env,
        ok=False,
    )
    assert "THESE PACKAGES DO NOT MATCH THE HASHES" in bad.stderr


def test_pip_reads_the_html_page_too(
    index: IndexServer, uploader: str, tmp_path: Path, env: dict[str, str]
) -> None:
    """--find-links fetches the project page as HTML (PEP 503), not JSON."""
    dist = tmp_path / "dist"
    twine_upload(index, uploader, [build_wheel(dist, "e2e-html", "5.0")], env)
    target = tmp_path / "target"
    run(
        [
            PYTHON,
            "-m",
            "pip",
            "install",
            "--target",
            str(target),
            "--no-index",
            "--find-links",
            f"{index.simple_url}e2e-html/",
            "e2e-html",
        ],
        env,
    )
    assert installed_version(target, "e2e_html") == "5.0"


def test_yanked_release_is_skipped_unless_pinned(
    index: IndexServer, uploader: str, tmp_path: Path, env: dict[str, str]
) -> None:
    dist = tmp_path / "dist"
    twine_upload(
        index,
        uploader,
        [build_wheel(dist, "e2e-yank", "1.0"), build_wheel(dist, "e2e-yank", "2.0")],
        env,
    )
    index.cli("admin", "project", "yank", "e2e-yank", "2.0", "--reason", "broken build")

    target = tmp_path / "t1"
    run(
        [
            PYTHON,
            "-m",
            "pip",
            "install",
            "--target",
            str(target),
            "--index-url",
            index.simple_url,
            "e2e-yank",
        ],
        env,
    )
    assert installed_version(target, "e2e_yank") == "1.0"

    pinned = tmp_path / "t2"
    result = run(
        [
            PYTHON,
            "-m",
            "pip",
            "install",
            "--target",
            str(pinned),
            "--index-url",
            index.simple_url,
            "e2e-yank==2.0",
        ],
        env,
    )
    assert installed_version(pinned, "e2e_yank") == "2.0"
    assert "broken build" in result.stderr  # pip warns with the yank reason

    venv = tmp_path / "venv"
    run([tool("uv"), "venv", "--python", PYTHON, str(venv)], env)
    run(
        [
            tool("uv"),
            "pip",
            "install",
            "--python",
            str(venv / "bin" / "python"),
            "--index-url",
            index.simple_url,
            "e2e-yank",
        ],
        env,
    )
    site = next((venv / "lib").glob("python3*/site-packages"))
    assert installed_version(site, "e2e_yank") == "1.0"


def test_core_metadata_is_fetched_instead_of_the_wheel(
    index: IndexServer, uploader: str, tmp_path: Path, env: dict[str, str]
) -> None:
    """PEP 658: resolvers read <file>.metadata and never download wheels they reject."""
    dist = tmp_path / "dist"
    wheels = [
        build_wheel(dist, "e2e-lazy", "1.0"),
        build_wheel(
            dist, "e2e-lazy", "2.0", metadata_extra="Requires-Dist: e2e-missing-dependency\n"
        ),
    ]
    twine_upload(index, uploader, wheels, env)
    page = json.loads(
        urllib.request.urlopen(
            urllib.request.Request(
                f"{index.simple_url}e2e-lazy/",
                headers={"Accept": "application/vnd.pypi.simple.v1+json"},
            )
        ).read()
    )
    assert all(f["core-metadata"] for f in page["files"])
    before = index.log.read_text().count("e2e_lazy-2.0-py3-none-any.whl ")

    report = tmp_path / "report.json"
    run(
        [
            PYTHON,
            "-m",
            "pip",
            "install",
            "--dry-run",
            "--ignore-installed",
            "--report",
            str(report),
            "--index-url",
            index.simple_url,
            "e2e-lazy==2.0",
            "--no-deps",
        ],
        env,
    )
    log = index.log.read_text()
    served = 302 if index.storage else 200  # S3: a redirect to the bucket
    assert f'e2e_lazy-2.0-py3-none-any.whl.metadata HTTP/1.1" {served}' in log
    # The dry run needed only the metadata: the wheel itself was never fetched.
    assert log.count("e2e_lazy-2.0-py3-none-any.whl ") == before
    chosen = json.loads(report.read_text())["install"][0]
    assert chosen["metadata"]["version"] == "2.0"
    assert chosen["metadata"]["requires_dist"] == ["e2e-missing-dependency"]


def test_pip_lazy_wheel_reads_metadata_with_range_requests(
    index: IndexServer, uploader: str, tmp_path: Path, env: dict[str, str]
) -> None:
    """pip's lazy wheel (fast-deps) reads a wheel's METADATA through HTTP range requests."""
    dist = tmp_path / "dist"
    payload = {"e2e_ranges/blob.bin": bytes(range(256)) * 4096}  # make the wheel worth skipping
    wheel = build_wheel(dist, "e2e-ranges", "1.0", files=payload)
    twine_upload(index, uploader, [wheel], env)
    page = json.loads(
        urllib.request.urlopen(
            urllib.request.Request(
                f"{index.simple_url}e2e-ranges/",
                headers={"Accept": "application/vnd.pypi.simple.v1+json"},
            )
        ).read()
    )
    url = index.url + page["files"][0]["url"].removeprefix("../..")
    report = tmp_path / "report.json"
    run(
        [
            PYTHON,
            "-m",
            "pip",
            "install",
            "--dry-run",
            "--ignore-installed",
            "--no-deps",
            "--use-feature=fast-deps",
            "--report",
            str(report),
            f"e2e-ranges @ {url}",
        ],
        env,
    )
    log = index.log.read_text()
    ranged = 302 if index.storage else 206  # S3: ranges are redirected to the bucket
    assert f'{wheel.name} HTTP/1.1" {ranged}' in log
    assert json.loads(report.read_text())["install"][0]["metadata"]["version"] == "1.0"


def test_uv_publish_check_url_skips_what_is_there(
    index: IndexServer, uploader: str, tmp_path: Path, env: dict[str, str]
) -> None:
    """uv compares the simple page's first hash with the local file before uploading."""
    dist = tmp_path / "dist"
    wheel = build_wheel(dist, "e2e-check", "1.0")
    uv_publish(index, uploader, [wheel], env)
    again = run(
        [
            tool("uv"),
            "publish",
            "--publish-url",
            index.upload_url,
            "--token",
            uploader,
            "--trusted-publishing",
            "never",
            "--check-url",
            index.simple_url,
            str(wheel),
        ],
        env,
    )
    assert "already exists" in again.stderr
    other = build_wheel(
        tmp_path / "other", "e2e-check", "1.0", files={"e2e_check/x.py": b"x = 1\n"}
    )
    clash = run(
        [
            tool("uv"),
            "publish",
            "--publish-url",
            index.upload_url,
            "--token",
            uploader,
            "--trusted-publishing",
            "never",
            "--check-url",
            index.simple_url,
            str(other),
        ],
        env,
        ok=False,
    )
    assert "do not match" in clash.stderr


def test_twine_shows_the_index_error(
    index: IndexServer, uploader: str, tmp_path: Path, env: dict[str, str]
) -> None:
    """twine prints the status line; PyPI's message must be in it."""
    dist = tmp_path / "dist"
    wheel = build_wheel(dist, "e2e-twine-error", "1.0", tag="cp311-cp311-linux_x86_64")
    result = run(
        [
            tool("twine"),
            "upload",
            "--non-interactive",
            "--disable-progress-bar",
            "--repository-url",
            index.upload_url,
            "-u",
            "__token__",
            "-p",
            uploader,
            str(wheel),
        ],
        env,
        ok=False,
    )
    output = " ".join((result.stdout + result.stderr).split())
    assert "unsupported platform tag 'linux_x86_64'" in output
