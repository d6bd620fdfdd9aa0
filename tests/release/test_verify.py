"""``trustyard verify`` against a real trustyard index: honest releases, tampered ones, and
releases built elsewhere with plain ``python -m build``."""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from packaging.version import Version

from tests.conftest import IndexServer, client_env
from tests.dists.builders import build_wheel
from tests.index.conftest import upload_built
from tests.release.conftest import COMMIT_EPOCH, git, make_repo
from trustyard.cli.main import main
from trustyard.release.build import BuildOptions, build_release
from trustyard.release.normalize import normalize_archive, read_members
from trustyard.release.simple_client import ACCEPT_HTML, ACCEPT_JSON_FIRST, release_files

pytestmark = pytest.mark.usefixtures("in_tmp_dir")

NAME = "ty-sample-hatchling"
INIT = "src/ty_sample_hatchling/__init__.py"


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The hatchling sample, tagged v0.1.0 .. v0.4.0."""
    path = make_repo("hatchling", tmp_path_factory.mktemp("verify") / "repo")
    for minor in (2, 3, 4):
        for file in ("pyproject.toml", INIT):
            text = (path / file).read_text().replace(f"0.{minor - 1}.0", f"0.{minor}.0")
            (path / file).write_text(text)
        git(
            path,
            "commit",
            "-qam",
            f"release 0.{minor}.0",
            date=f"2024-0{minor + 3}-01T00:00:00+00:00",
        )
        git(path, "tag", f"v0.{minor}.0")
    return path


def build_tag(repo: Path, tag: str, root: Path, uv_cache: Path) -> tuple[Path, Path]:
    result = build_release(
        BuildOptions(repo, ref=tag, cache_dir=uv_cache), root / "out", root / "work"
    )
    sdist, wheel = result.artifacts
    return sdist, wheel


def publish(index: IndexServer, token: str, *files: Path) -> None:
    for path in files:
        answer = upload_built(index, token, path)
        assert answer.status == 200, answer.text


def verify(
    index: IndexServer, spec: str, source: str, capsys: pytest.CaptureFixture[str], *extra: str
) -> tuple[int, dict[str, object]]:
    code = main(["verify", spec, "--index", index.simple_url, "--source", source, "--json", *extra])
    return code, json.loads(capsys.readouterr().out)


def verdicts(report: dict[str, object]) -> dict[str, str]:
    files = report["files"]
    assert isinstance(files, list)
    return {f["filename"]: f["verdict"] for f in files}


def rewrite(
    path: Path, dest: Path, change: dict[str, bytes | None], add: dict[str, bytes] | None = None
) -> Path:
    """Copy a wheel, replacing (or with None, dropping) members and adding others."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(dest, "w") as out:
        for info in src.infolist():
            data = change.get(info.filename, src.read(info))
            if data is not None:
                out.writestr(info, data)
        for name, data in (add or {}).items():
            out.writestr(name, data)
    return dest


def test_honest_release_verifies_and_foreign_platform_wheel_is_not_counted(
    repo: Path,
    index: IndexServer,
    uploader: str,
    tmp_path: Path,
    uv_cache: Path,
    cli_cache: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sdist, wheel = build_tag(repo, "v0.1.0", tmp_path, uv_cache)
    windows = build_wheel(tmp_path / "win", NAME, "0.1.0", tag="cp311-cp311-win_amd64")
    publish(index, uploader, sdist, wheel, windows)
    code, report = verify(index, f"{NAME}==0.1.0", str(repo), capsys)
    assert code == 0, report
    assert report["verified"] is True
    assert report["ref"] == "v0.1.0"
    assert verdicts(report) == {
        sdist.name: "reproduced",
        wheel.name: "reproduced",
        windows.name: "not rebuilt (platform wheel)",
    }

    # the same, from a git URL and with the recorded environment
    code, report = verify(
        index,
        f"{NAME}==0.1.0",
        f"file://{repo}",
        capsys,
        "--build-env",
        str(tmp_path / "out" / "build-env.json"),
    )
    assert code == 0, report

    # the human format: a table and a verdict
    assert (
        main(["verify", f"{NAME}==0.1.0", "--index", index.simple_url, "--source", str(repo)]) == 0
    )
    out = capsys.readouterr().out
    assert "not rebuilt (platform wheel)" in out
    assert out.rstrip().endswith("verified")


LISTED = "ty-listed"


@pytest.fixture(scope="module")
def listed(index: IndexServer, uploader: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A project with three files of 1.0 on the index, published by this fixture, so tests
    that only read listings do not depend on another test having uploaded first."""
    root = tmp_path_factory.mktemp("listed")
    for tag in ("py3-none-any", "cp311-cp311-win_amd64", "cp311-cp311-macosx_11_0_arm64"):
        publish(index, uploader, build_wheel(root, LISTED, "1.0", tag=tag))
    return LISTED


def test_html_fallback_reads_the_same_files(index: IndexServer, listed: str) -> None:
    as_json = release_files(index.simple_url, listed, Version("1.0"), accept=ACCEPT_JSON_FIRST)
    as_html = release_files(index.simple_url, listed, Version("1.0"), accept=ACCEPT_HTML)
    assert [(f.filename, f.sha256) for f in as_html] == [(f.filename, f.sha256) for f in as_json]
    assert len(as_json) == 3
    assert all(len(f.sha256) == 64 for f in as_json)


def test_one_byte_changed_in_the_sdist(
    repo: Path,
    index: IndexServer,
    uploader: str,
    tmp_path: Path,
    uv_cache: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sdist, wheel = build_tag(repo, "v0.2.0", tmp_path, uv_cache)
    raw = io.BytesIO(gzip.decompress(sdist.read_bytes()))
    changed = io.BytesIO()
    with (
        tarfile.open(fileobj=raw) as src,
        tarfile.open(fileobj=changed, mode="w", format=tarfile.PAX_FORMAT) as out,
    ):
        for member in src.getmembers():
            data = src.extractfile(member).read() if member.isfile() else b""  # type: ignore[union-attr]
            if member.name.endswith("__init__.py"):
                data = data.replace(b"A sample", b"A Sample")
            out.addfile(member, io.BytesIO(data) if member.isfile() else None)
    tampered = tmp_path / "tampered" / sdist.name
    tampered.parent.mkdir()
    tampered.write_bytes(gzip.compress(changed.getvalue(), mtime=COMMIT_EPOCH))
    publish(index, uploader, tampered, wheel)
    code, report = verify(index, f"{NAME}==0.2.0", str(repo), capsys)
    assert code == 1
    assert report["verified"] is False
    assert verdicts(report) == {sdist.name: "differs", wheel.name: "reproduced"}
    diff = "\n".join(report["files"][0]["diff"])  # type: ignore[index]
    assert "ty_sample_hatchling-0.2.0/src/ty_sample_hatchling/__init__.py: content differs" in diff
    assert '-"""A Sample module."""' in diff
    assert '+"""A sample module."""' in diff


def test_file_added_to_the_wheel(
    repo: Path,
    index: IndexServer,
    uploader: str,
    tmp_path: Path,
    uv_cache: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sdist, wheel = build_tag(repo, "v0.3.0", tmp_path, uv_cache)
    tampered = rewrite(
        wheel,
        tmp_path / "tampered" / wheel.name,
        {},
        {"ty_sample_hatchling/backdoor.py": b"import os\n"},
    )
    publish(index, uploader, sdist, tampered)
    code, report = verify(index, f"{NAME}==0.3.0", str(repo), capsys)
    assert code == 1
    assert verdicts(report) == {sdist.name: "reproduced", wheel.name: "differs"}
    diff = report["files"][1]["diff"]  # type: ignore[index]
    assert "  ty_sample_hatchling/backdoor.py: only in the first" in diff


def test_metadata_changed_in_the_wheel(
    repo: Path,
    index: IndexServer,
    uploader: str,
    tmp_path: Path,
    uv_cache: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sdist, wheel = build_tag(repo, "v0.4.0", tmp_path, uv_cache)
    metadata_name = "ty_sample_hatchling-0.4.0.dist-info/METADATA"
    with zipfile.ZipFile(wheel) as archive:
        metadata = archive.read(metadata_name)
    changed = metadata.replace(b"Requires-Python: >=3.9", b"Requires-Python: >=3.8")
    assert changed != metadata
    tampered = rewrite(wheel, tmp_path / "tampered" / wheel.name, {metadata_name: changed})
    publish(index, uploader, sdist, tampered)
    code, report = verify(index, f"{NAME}==0.4.0", str(repo), capsys)
    assert code == 1
    diff = "\n".join(report["files"][1]["diff"])  # type: ignore[index]
    assert f"{metadata_name}: content differs" in diff
    assert "-Requires-Python: >=3.8" in diff
    assert "+Requires-Python: >=3.9" in diff


def test_plain_python_build_release_is_equivalent_not_identical(
    index: IndexServer,
    uploader: str,
    tmp_path: Path,
    cli_cache: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    repo = make_repo("setuptools", tmp_path / "repo")
    env = {
        **client_env(tmp_path),
        "SOURCE_DATE_EPOCH": git(repo, "log", "-1", "--pretty=%ct").strip(),
    }
    result = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(tmp_path / "plain"), str(repo)],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    files = sorted((tmp_path / "plain").iterdir())
    publish(index, uploader, *files)
    spec = "ty-sample-setuptools==0.1.0"
    code, report = verify(index, spec, str(repo), capsys)
    assert code == 1
    found = verdicts(report)
    sdist = next(n for n in found if n.endswith(".tar.gz"))
    assert found[sdist] == "equivalent"
    assert set(found.values()) <= {"reproduced", "equivalent"}
    code, report = verify(index, spec, str(repo), capsys, "--accept-equivalent")
    assert code == 0
    assert report["verified"] is True


@pytest.mark.parametrize(
    ("spec", "source", "message"),
    [
        ("nonsense", ".", "expected NAME==VERSION, got 'nonsense'"),
        ("bad name!==1.0", ".", "'bad name!' is not a valid project name"),
        (f"{NAME}==one", ".", "'one' is not a valid version (PEP 440)"),
        ("ty-never-uploaded==1.0", ".", "ty-never-uploaded/: not found (404)"),
        (f"{LISTED}==9.9", ".", "lists no files of ty-listed 9.9"),
        (
            f"{LISTED}==1.0",
            "/no/such/dir",
            "source '/no/such/dir' is neither a directory nor a git URL",
        ),
    ],
)
def test_bad_input(
    index: IndexServer,
    listed: str,
    capsys: pytest.CaptureFixture[str],
    spec: str,
    source: str,
    message: str,
) -> None:
    assert main(["verify", spec, "--index", index.simple_url, "--source", source]) == 1
    assert message in capsys.readouterr().err


def test_missing_tag_asks_for_ref(
    index: IndexServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    untagged = make_repo("hatchling", tmp_path / "untagged", tag=None)
    assert (
        main(["verify", f"{NAME}==0.1.0", "--index", index.simple_url, "--source", str(untagged)])
        == 1
    )
    err = capsys.readouterr().err
    assert "no tag refs/tags/v0.1.0 or refs/tags/0.1.0 in" in err
    assert "pass --ref" in err


def test_bad_build_env_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "env.json").write_text('{"version": 1}')
    assert (
        main(
            [
                "verify",
                f"{NAME}==0.1.0",
                "--index",
                "http://127.0.0.1:9/simple/",
                "--source",
                ".",
                "--build-env",
                str(tmp_path / "env.json"),
            ]
        )
        == 1
    )
    err = capsys.readouterr().err
    assert "is not a valid build environment record" in err
    assert "dependencies must be a non-empty list" in err


def test_unreachable_index(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["verify", f"{NAME}==0.1.0", "--index", "http://127.0.0.1:9/simple/", "--source", "."])
        == 1
    )
    assert "cannot reach the index" in capsys.readouterr().err


def test_normalised_copy_helper_is_stable(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path, "demo", "1.0")
    once = normalize_archive(wheel, tmp_path / "once.whl", COMMIT_EPOCH)
    assert [m.name for m in read_members(once)[0]][-1] == "demo-1.0.dist-info/RECORD"
    assert os.path.getsize(once) > 0
