"""``trustyard verify NAME --versions ...`` against a real trustyard index: four releases of one
project, one honest with a foreign platform wheel, one tampered, one under an unusual tag, one
never tagged; each version rebuilt by the real one-release verify."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pytest

from tests.conftest import IndexServer
from tests.dists.builders import build_wheel
from tests.index.conftest import upload_built
from tests.release.conftest import FIXTURES, git
from trustyard.cli.main import main
from trustyard.release.build import BuildOptions, build_release
from trustyard.release.sweep import FAILED, NO_TAG, NOT_VERIFIED, VERIFIED
from trustyard.release.verify import DIFFERS, IDENTICAL, NOT_REBUILDABLE

NAME = "ty-sweep"
MODULE = "src/ty_sweep/__init__.py"
# version -> the tag it gets (None: never tagged); 0.5.0's tag names a commit that cannot build
TAGS = {
    "0.1.0": "v0.1.0",
    "0.2.0": "0.2.0",
    "0.3.0": "release-0.3.0",
    "0.4.0": None,
    "0.5.0": "v0.5.0",
}
BROKEN = "0.5.0"


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The hatchling sample renamed ty-sweep, one commit (and tag, as TAGS says) per version."""
    path = tmp_path_factory.mktemp("sweep") / "repo"
    shutil.copytree(FIXTURES / "hatchling", path)
    (path / "src" / "ty_sample_hatchling").rename(path / "src" / "ty_sweep")
    pyproject = path / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace("ty-sample-hatchling", NAME))
    git(path, "init", "--quiet", "--initial-branch=main")
    previous = "0.1.0"
    for month, (version, tag) in enumerate(TAGS.items(), 3):
        for file in (pyproject, path / MODULE):
            file.write_text(file.read_text().replace(previous, version))
        previous = version
        if version == BROKEN:
            pyproject.write_text(pyproject.read_text().replace("hatchling.build", "no.such"))
        date = f"2024-0{month}-01T00:00:00+00:00"
        git(path, "add", "--all", date=date)
        git(path, "commit", "--quiet", "--message", f"release {version}", date=date)
        if tag:
            git(path, "tag", tag)
    return path


@pytest.fixture(scope="module")
def published(
    repo: Path,
    index: IndexServer,
    uploader: str,
    tmp_path_factory: pytest.TempPathFactory,
    uv_cache: Path,
) -> dict[str, list[str]]:
    """Every version built from its commit and uploaded; 0.1.0 also has a Windows wheel (not
    rebuildable here) and 0.2.0's wheel gains a file after the build."""
    root = tmp_path_factory.mktemp("published")
    log = git(repo, "log", "--format=%H %s").splitlines()
    commits = {line.split()[-1]: line.split()[0] for line in log}
    names: dict[str, list[str]] = {}
    for version in TAGS:
        out = root / version
        if version == BROKEN:  # built elsewhere, somehow: the tag cannot be rebuilt
            wheel = build_wheel(out, NAME, version)
            assert upload_built(index, uploader, wheel).status == 200
            names[version] = [wheel.name]
            continue
        sdist, wheel = build_release(
            BuildOptions(repo, ref=commits[version], cache_dir=uv_cache), out, root / "work"
        ).artifacts
        files = [sdist, wheel]
        if version == "0.1.0":
            files.append(build_wheel(out / "win", NAME, version, tag="cp311-cp311-win_amd64"))
            # tags this machine may match, made by no recipe here (tomli's mypyc wheels)
            linux = "cp311-cp311-manylinux_2_17_x86_64"
            files.append(build_wheel(out / "linux", NAME, version, tag=linux))
        if version == "0.2.0":
            tampered = out / "tampered" / wheel.name
            tampered.parent.mkdir()
            with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(tampered, "w") as dest:
                for info in src.infolist():
                    dest.writestr(info, src.read(info))
                dest.writestr("ty_sweep/backdoor.py", b"import os\n")
            files[1] = tampered
        for path in files:
            answer = upload_built(index, uploader, path)
            assert answer.status == 200, answer.text
        names[version] = [p.name for p in files]
    index.cli("admin", "project", "yank", NAME, "0.2.0", "--reason", "tampered")
    return names


def sweep(
    index: IndexServer, source: str, capsys: pytest.CaptureFixture[str], *extra: str
) -> tuple[int, dict[str, object]]:
    code = main(["verify", NAME, "--index", index.simple_url, "--source", source, "--json", *extra])
    return code, json.loads(capsys.readouterr().out)


def outcomes(report: dict[str, object]) -> dict[str, tuple[str, str | None]]:
    releases = report["releases"]
    assert isinstance(releases, list)
    return {r["version"]: (r["status"], r["tag"]) for r in releases}


def file_verdicts(report: dict[str, object], version: str) -> dict[str, str]:
    releases = report["releases"]
    assert isinstance(releases, list)
    (release,) = [r for r in releases if r["version"] == version]
    return {f["filename"]: f["verdict"] for f in release["report"]["files"]}


def test_sweep_of_every_release(
    repo: Path,
    published: dict[str, list[str]],
    index: IndexServer,
    cli_cache: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, report = sweep(index, str(repo), capsys, "--versions", "all")
    assert code == 1, report
    assert report["schema"] == "https://trustyard.dev/schemas/verify-sweep/v1"
    assert report["verified"] is False
    assert outcomes(report) == {
        "0.1.0": (VERIFIED, "v0.1.0"),
        "0.2.0": (NOT_VERIFIED, "0.2.0"),
        "0.3.0": (NO_TAG, None),  # release-0.3.0 fits neither default pattern
        "0.4.0": (NO_TAG, None),
        "0.5.0": (FAILED, "v0.5.0"),
    }
    sdist, wheel, windows, linux = published["0.1.0"]
    assert file_verdicts(report, "0.1.0") == {
        sdist: IDENTICAL,
        wheel: IDENTICAL,
        windows: NOT_REBUILDABLE,
        linux: NOT_REBUILDABLE,
    }
    sdist, wheel = published["0.2.0"]
    assert file_verdicts(report, "0.2.0") == {sdist: IDENTICAL, wheel: DIFFERS}
    releases = report["releases"]
    assert isinstance(releases, list)
    assert "pass --tag-pattern" in releases[2]["detail"]
    assert [r["yanked"] for r in releases] == [False, True, False, False, False]
    assert "the build backend failed" in releases[4]["detail"]
    assert releases[4]["report"] is None


def test_sweep_by_specifier_from_a_git_url(
    repo: Path,
    published: dict[str, list[str]],
    index: IndexServer,
    cli_cache: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = ["verify", NAME, "--index", index.simple_url, "--source", f"file://{repo}"]
    assert main([*args, "--versions", "<0.2"]) == 0
    out = capsys.readouterr().out
    assert "not rebuilt (platform wheel)" in out
    assert "0.2.0" not in out
    assert out.rstrip().endswith("1 of 1 release(s) verified: verified")
    # the table names what differs in the tampered wheel
    assert main([*args, "--versions", ">=0.2,<0.3"]) == 1
    out = capsys.readouterr().out
    assert "backdoor.py (only on the index)" in out
    assert "0.2.0 (yanked)" in out
    assert out.rstrip().endswith("0 of 1 release(s) verified: NOT verified")


def test_sweep_of_the_last_three_with_tag_patterns(
    repo: Path,
    published: dict[str, list[str]],
    index: IndexServer,
    cli_cache: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, report = sweep(
        index,
        str(repo),
        capsys,
        "--versions",
        "last:3",
        "--tag-pattern",
        r"release-(?P<version>[0-9.]+)",
        "--tag-pattern",
        "v{version}",
    )
    assert code == 1, report
    assert outcomes(report) == {
        "0.3.0": (VERIFIED, "release-0.3.0"),
        "0.4.0": (NO_TAG, None),
        "0.5.0": (FAILED, "v0.5.0"),
    }
    assert report["tag_patterns"] == [r"release-(?P<version>[0-9.]+)", "v{version}"]


def test_no_version_chosen(
    published: dict[str, list[str]],
    index: IndexServer,
    repo: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = ["verify", NAME, "--index", index.simple_url, "--source", str(repo)]
    assert main([*args, "--versions", ">=9"]) == 1
    err = capsys.readouterr().err
    assert "no release of ty-sweep matches --versions '>=9'" in err
    assert "0.1.0, 0.2.0, 0.3.0, 0.4.0, 0.5.0" in err
