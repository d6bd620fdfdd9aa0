"""Projects whose version comes from git (hatch-vcs, setuptools-scm, pdm-backend's scm source)
build from trustyard's clean export of a tag as from a checkout of it; and a bare repository
serves as the source of ``build`` and ``verify``."""

from __future__ import annotations

import json
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import IndexServer
from tests.index.conftest import upload_built
from tests.release.conftest import git
from trustyard.cli.main import main
from trustyard.release.buildenv.scm import GitVersion, version_from_git
from trustyard.release.errors import SourceError

pytestmark = pytest.mark.usefixtures("in_tmp_dir")

HATCH_VCS = """\
[build-system]
requires = ["hatchling>=1.27", "hatch-vcs>=0.4"]
build-backend = "hatchling.build"

[project]
name = "ty-sample-vcs"
dynamic = ["version"]
requires-python = ">=3.9"

[tool.hatch.version]
source = "vcs"
"""

SETUPTOOLS_SCM = """\
[build-system]
requires = ["setuptools>=77", "setuptools-scm>=8"]
build-backend = "setuptools.build_meta"

[project]
name = "ty-sample-scm"
dynamic = ["version"]
requires-python = ">=3.9"

[tool.setuptools_scm]
"""

PDM_SCM = """\
[build-system]
requires = ["pdm-backend>=2.4"]
build-backend = "pdm.backend"

[project]
name = "ty-sample-pdm-scm"
dynamic = ["version"]
requires-python = ">=3.9"

[tool.pdm.version]
source = "scm"
"""


def project(root: Path, pyproject: str, package: str) -> Path:
    (root / "src" / package).mkdir(parents=True)
    (root / "src" / package / "__init__.py").write_text('"""A git-versioned sample."""\n')
    (root / "pyproject.toml").write_text(pyproject)
    return root


def git_project(root: Path, pyproject: str, package: str, tag: str | None = "v0.3.0") -> Path:
    """A git repository of a git-versioned project: an untagged first commit, then ``tag``."""
    project(root, pyproject, package)
    git(root, "init", "--quiet", "--initial-branch=main")
    git(root, "add", "--all")
    git(root, "commit", "--quiet", "--message", "first")
    (root / "README.md").write_text("sample\n")
    git(root, "add", "--all")
    git(root, "commit", "--quiet", "--message", "release", date="2024-05-06T07:08:09+00:00")
    if tag:
        git(root, "tag", tag)
    return root


def requires(pyproject: str) -> list[str]:
    line = next(x for x in pyproject.splitlines() if x.startswith("requires"))
    found: list[str] = json.loads(line.partition("=")[2])
    return found


# -- which version, and how it is passed (no build) -------------------------------------------


@pytest.mark.parametrize(
    ("pyproject", "plugin", "variable"),
    [
        (HATCH_VCS, "hatch-vcs", "SETUPTOOLS_SCM_PRETEND_VERSION"),
        (SETUPTOOLS_SCM, "setuptools-scm", "SETUPTOOLS_SCM_PRETEND_VERSION"),
        (PDM_SCM, "pdm-backend", "PDM_BUILD_SCM_VERSION"),
        (  # pdm-backend's own tree: it builds itself, so it does not require itself
            PDM_SCM.replace('requires = ["pdm-backend>=2.4"]', "requires = []").replace(
                'build-backend = "pdm.backend"',
                'build-backend = "pdm.backend.intree"\nbackend-path = ["src"]',
            ),
            "pdm-backend",
            "PDM_BUILD_SCM_VERSION",
        ),
    ],
)
def test_plugin_and_variable(tmp_path: Path, pyproject: str, plugin: str, variable: str) -> None:
    root = project(tmp_path, pyproject, "pkg")
    found = version_from_git(root, requires(pyproject), "v1.2.3", "c0ffee" * 7)
    assert found == GitVersion(plugin, "v1.2.3", "1.2.3")
    assert found.environment() == {variable: "1.2.3"}


@pytest.mark.parametrize(
    ("tag", "version"),
    [
        ("v0.3.0", "0.3.0"),
        ("0.3.0", "0.3.0"),
        ("V2.0rc1", "2.0rc1"),
        ("ty-sample-scm-1.4", "1.4"),
        ("v1.0.0.post1", "1.0.0.post1"),
        ("1.0.0+build.5", "1.0.0"),
    ],
)
def test_tag_to_version_as_setuptools_scm(tmp_path: Path, tag: str, version: str) -> None:
    root = project(tmp_path, SETUPTOOLS_SCM, "pkg")
    found = version_from_git(root, requires(SETUPTOOLS_SCM), tag, "c0ffee" * 7)
    assert found is not None
    assert found.version == version


def test_off_a_tag_is_refused_naming_the_plugin(tmp_path: Path) -> None:
    root = project(tmp_path, HATCH_VCS, "pkg")
    with pytest.raises(
        SourceError,
        match=r"git-versioned project \(hatch-vcs\) need the commit to be at a version tag; "
        r"c0ffeec0ffee has none",
    ):
        version_from_git(root, requires(HATCH_VCS), None, "c0ffee" * 7)


def test_a_tag_that_is_not_a_version_is_refused(tmp_path: Path) -> None:
    root = project(tmp_path, SETUPTOOLS_SCM, "pkg")
    with pytest.raises(SourceError, match=r"tag 'v1\.x' does not hold a version"):
        version_from_git(root, requires(SETUPTOOLS_SCM), "v1.x", "c0ffee" * 7)


def test_the_projects_own_tag_pattern(tmp_path: Path) -> None:
    pyproject = HATCH_VCS.replace(
        'source = "vcs"', 'source = "vcs"\ntag-pattern = "^release/(?P<version>.+)$"'
    )
    root = project(tmp_path, pyproject, "pkg")
    found = version_from_git(root, requires(pyproject), "release/4.5", "c0ffee" * 7)
    assert found is not None
    assert found.version == "4.5"


@pytest.mark.parametrize(
    "pyproject",
    [
        # a static [project] version: setuptools-scm only finds files here
        SETUPTOOLS_SCM.replace('dynamic = ["version"]', 'version = "1.0"'),
        # pdm-backend without the scm source
        PDM_SCM.replace('source = "scm"', 'source = "file"'),
        # no git plugin at all
        '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n',
    ],
)
def test_projects_not_versioned_by_git_are_left_alone(tmp_path: Path, pyproject: str) -> None:
    root = project(tmp_path, pyproject, "pkg")
    assert version_from_git(root, requires(pyproject), None, "c0ffee" * 7) is None


# -- real builds -------------------------------------------------------------------------------


def wheel_version(wheel: Path) -> str:
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = archive.read(name).decode()
    return next(x for x in metadata.splitlines() if x.startswith("Version: ")).split(": ")[1]


def sdist_version(sdist: Path) -> str:
    with tarfile.open(sdist) as archive:
        member = next(
            m
            for m in archive.getmembers()
            if m.name.count("/") == 1 and m.name.endswith("/PKG-INFO")
        )
        stream = archive.extractfile(member)
        assert stream is not None
        text = stream.read().decode()
    return next(x for x in text.splitlines() if x.startswith("Version: ")).split(": ")[1]


def build(
    source: Path, out: Path, capsys: pytest.CaptureFixture[str], *extra: str
) -> dict[str, Any]:
    code = main(["build", str(source), "--out", str(out), "--json", *extra])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    report: dict[str, Any] = json.loads(captured.out)
    return report


@pytest.mark.slow
@pytest.mark.builds
def test_hatch_vcs_project_builds_from_the_tag(
    tmp_path: Path, cli_cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = git_project(tmp_path / "repo", HATCH_VCS, "ty_sample_vcs")
    report = build(repo, tmp_path / "dist", capsys, "--ref", "v0.3.0")
    names = [f["filename"] for f in report["files"]]
    assert names == ["ty_sample_vcs-0.3.0.tar.gz", "ty_sample_vcs-0.3.0-py3-none-any.whl"]
    sdist, wheel = (Path(f["path"]) for f in report["files"])
    assert sdist_version(sdist) == "0.3.0"
    assert wheel_version(wheel) == "0.3.0"
    record = json.loads((tmp_path / "dist" / "build-env.json").read_text())
    assert record["source"]["version_from_git"] == {
        "plugin": "hatch-vcs",
        "tag": "v0.3.0",
        "version": "0.3.0",
    }

    # a bare clone builds the same bytes
    bare = tmp_path / "bare.git"
    git(tmp_path, "clone", "--quiet", "--bare", str(repo), str(bare))
    again = build(bare, tmp_path / "dist-bare", capsys, "--ref", "v0.3.0")
    assert [f["sha256"] for f in again["files"]] == [f["sha256"] for f in report["files"]]

    # the untagged first commit is refused before anything is resolved
    first = git(repo, "rev-parse", "HEAD~1").strip()
    code = main(["build", str(repo), "--out", str(tmp_path / "x"), "--ref", first])
    assert code != 0
    assert "need the commit to be at a version tag" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.builds
@pytest.mark.parametrize(
    ("pyproject", "dist"),
    [(SETUPTOOLS_SCM, "ty_sample_scm"), (PDM_SCM, "ty_sample_pdm_scm")],
    ids=["setuptools-scm", "pdm-backend"],
)
def test_other_plugins_build_from_the_tag(
    tmp_path: Path,
    cli_cache: Path,
    capsys: pytest.CaptureFixture[str],
    pyproject: str,
    dist: str,
) -> None:
    repo = git_project(tmp_path / "repo", pyproject, dist, tag="v1.4.0")
    report = build(repo, tmp_path / "dist", capsys)  # HEAD is at the tag
    sdist, wheel = (Path(f["path"]) for f in report["files"])
    assert (sdist.name, wheel.name) == (f"{dist}-1.4.0.tar.gz", f"{dist}-1.4.0-py3-none-any.whl")
    assert sdist_version(sdist) == wheel_version(wheel) == "1.4.0"


@pytest.mark.slow
@pytest.mark.builds
def test_verify_a_git_versioned_release_from_a_bare_repository(
    tmp_path: Path,
    index: IndexServer,
    uploader: str,
    cli_cache: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    repo = git_project(tmp_path / "repo", HATCH_VCS, "ty_sample_vcs")
    report = build(repo, tmp_path / "dist", capsys, "--ref", "v0.3.0")
    for file in report["files"]:
        answer = upload_built(index, uploader, Path(file["path"]))
        assert answer.status == 200, answer.text
    bare = tmp_path / "bare.git"
    git(tmp_path, "clone", "--quiet", "--bare", str(repo), str(bare))
    args = ["verify", "ty-sample-vcs==0.3.0", "--index", index.simple_url, "--json"]
    code = main([*args, "--source", str(bare)])
    result = json.loads(capsys.readouterr().out)
    assert code == 0, result
    assert result["ref"] == "v0.3.0"
    assert {f["verdict"] for f in result["files"]} == {"reproduced"}

    # a git URL of the bare repository as well
    code = main([*args, "--source", f"file://{bare}"])
    assert code == 0, capsys.readouterr().out
