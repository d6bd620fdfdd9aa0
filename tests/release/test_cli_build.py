"""``trustyard build`` as a user runs it: JSON report, refusals, and --check catching a leak."""

from __future__ import annotations

import json
import tarfile
import zipfile
from pathlib import Path

import pytest

from tests.release.conftest import git, make_repo
from trustyard.cli.main import main

pytestmark = [pytest.mark.slow, pytest.mark.builds]

STAMPING_SETUP = """\
import time
from pathlib import Path
from setuptools import setup

Path("src/ty_sample_setuptools/_stamp.py").write_text(f"BUILT_AT = {time.time_ns()}\\n")
setup()
"""


def test_json_report_and_build_env(
    tmp_path: Path, cli_cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = make_repo("flit_core", tmp_path / "repo")
    assert main(["build", str(repo), "--out", str(tmp_path / "dist"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [f["filename"] for f in report["files"]] == [
        "ty_sample_flit-0.1.0.tar.gz",
        "ty_sample_flit-0.1.0-py3-none-any.whl",
    ]
    assert report["commit"] == git(repo, "rev-parse", "HEAD").strip()
    assert report["reproducible"] is None
    env = json.loads((tmp_path / "dist" / "build-env.json").read_text())
    assert env["backend"]["entry_point"] == "flit_core.buildapi"


def test_default_output_is_dist_in_the_project(
    tmp_path: Path, cli_cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = make_repo("uv_build", tmp_path / "repo")
    (repo / ".gitignore").write_text("dist/\n")
    git(repo, "add", ".gitignore")
    git(repo, "commit", "-qm", "ignore dist")
    assert main(["build", str(repo)]) == 0
    out = capsys.readouterr().out
    assert f"{repo / 'dist' / 'ty_sample_uv-0.1.0.tar.gz'}" in out
    assert (repo / "dist" / "build-env.json").is_file()


def test_dirty_tree_is_refused_naming_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = make_repo("hatchling", tmp_path / "repo")
    (repo / "scratch.py").write_text("")
    assert main(["build", str(repo), "--out", str(tmp_path / "dist")]) == 1
    err = capsys.readouterr().err
    assert "trustyard: error: the working tree is dirty" in err
    assert "?? scratch.py" in err
    assert not (tmp_path / "dist").exists()


def test_allow_dirty_builds_the_committed_tree(
    tmp_path: Path, cli_cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = make_repo("hatchling", tmp_path / "repo")
    (repo / "src" / "ty_sample_hatchling" / "leak.py").write_text("SECRET = 1\n")
    assert (
        main(["build", str(repo), "--out", str(tmp_path / "dist"), "--allow-dirty", "--json"]) == 0
    )
    with tarfile.open(tmp_path / "dist" / "ty_sample_hatchling-0.1.0.tar.gz") as sdist:
        assert not any(n.endswith("leak.py") for n in sdist.getnames())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--ref", "v9.9.9"], "'v9.9.9' does not name a commit in"),
        (["--ref=-x"], "invalid ref '-x'"),
    ],
)
def test_bad_ref(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    repo = make_repo("hatchling", tmp_path / "repo")
    assert main(["build", str(repo), *args]) == 1
    assert message in capsys.readouterr().err


def test_failing_backend_is_reported(
    tmp_path: Path, cli_cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = make_repo("setuptools", tmp_path / "repo")
    (repo / "setup.py").write_text("raise SystemExit('this project cannot build')\n")
    git(repo, "add", "setup.py")
    git(repo, "commit", "-qm", "broken")
    assert main(["build", str(repo), "--out", str(tmp_path / "dist")]) == 1
    err = capsys.readouterr().err
    assert "the build backend failed" in err
    assert "this project cannot build" in err


def test_check_catches_a_build_time_stamp(
    tmp_path: Path, cli_cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = make_repo("setuptools", tmp_path / "repo")
    (repo / "setup.py").write_text(STAMPING_SETUP)
    git(repo, "add", "setup.py")
    git(repo, "commit", "-qm", "stamp the build time")
    assert main(["build", str(repo), "--out", str(tmp_path / "dist"), "--check"]) == 1
    captured = capsys.readouterr()
    assert "the two builds differ" in captured.err
    assert (
        "ty_sample_setuptools-0.1.0/src/ty_sample_setuptools/_stamp.py: content differs"
        in captured.out
    )
    assert "-BUILT_AT = " in captured.out
    assert "+BUILT_AT = " in captured.out


def test_check_json_on_a_reproducible_project(
    tmp_path: Path, cli_cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = make_repo("poetry_core", tmp_path / "repo")
    assert main(["build", str(repo), "--out", str(tmp_path / "dist"), "--check", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["reproducible"] is True
    assert report["differences"] == []


def test_wheel_holds_only_what_the_sdist_holds(
    tmp_path: Path, cli_cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The wheel's source tree is made from the export the sdist was built from: a file the
    sdist leaves out is not in the wheel either, as when pip builds from the sdist."""
    repo = make_repo("hatchling", tmp_path / "repo", tag=None)
    (repo / "src/ty_sample_hatchling/dev_only.py").write_text("SECRET = 1\n")
    with (repo / "pyproject.toml").open("a") as config:
        config.write('\n[tool.hatch.build.targets.sdist]\nexclude = ["dev_only.py"]\n')
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "--message", "a file only the repository has")
    assert main(["build", str(repo), "--out", str(tmp_path / "dist"), "--json"]) == 0
    capsys.readouterr()
    with tarfile.open(tmp_path / "dist/ty_sample_hatchling-0.1.0.tar.gz") as sdist:
        names = sdist.getnames()
    assert "ty_sample_hatchling-0.1.0/src/ty_sample_hatchling/__init__.py" in names
    assert not any(name.endswith("dev_only.py") for name in names)
    with zipfile.ZipFile(tmp_path / "dist/ty_sample_hatchling-0.1.0-py3-none-any.whl") as wheel:
        files = wheel.namelist()
    assert "ty_sample_hatchling/__init__.py" in files
    assert "ty_sample_hatchling/dev_only.py" not in files
