"""Reproducible builds of every sample project in tests/fixtures, one per PEP 517 backend.

One procedure for every backend: build three times under varied conditions (``--check``, then a
third build in another clone), then check the outputs are normalised, the build environment is
recorded and the wheel installs. Each backend's tests share one module-scoped build; the
scheduler in tests/conftest.py spreads the backends over the workers.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import client_env, tool
from tests.release.conftest import COMMIT_EPOCH, git, make_repo
from trustyard.release.build import BuildOptions, BuildResult, Conditions, build_release
from trustyard.release.check import CheckResult, check_reproducible
from trustyard.release.normalize import read_members, record_problems

pytestmark = [pytest.mark.slow, pytest.mark.builds]


@dataclass(frozen=True)
class Sample:
    """A sample project (tests/fixtures/<name>), its backend's distribution and its module."""

    name: str
    backend: str
    module: str


SAMPLES = [
    Sample("flit_core", "flit-core", "ty_sample_flit"),
    Sample("hatchling", "hatchling", "ty_sample_hatchling"),
    Sample("pdm_backend", "pdm-backend", "ty_sample_pdm"),
    Sample("poetry_core", "poetry-core", "ty_sample_poetry"),
    Sample("setuptools", "setuptools", "ty_sample_setuptools"),
    Sample("setuptools_c", "setuptools", "ty_sample_cext._speedups"),
    Sample("uv_build", "uv-build", "ty_sample_uv"),
]


@dataclass
class Built:
    check: CheckResult
    clone: BuildResult
    out: Path


def build_three_ways(sample: str, root: Path, uv_cache: Path) -> Built:
    """``--check`` (two parallel builds) in one clone, a third build in a second clone made
    by ``git clone`` (other path, other file mtimes) under umask 002 and another TZ."""
    repo = make_repo(sample, root / "repo")
    clone = root / "another" / "clone-with-a-longer-path"
    clone.parent.mkdir()
    git(root, "clone", "--quiet", str(repo), str(clone))
    out = root / "out"
    check = check_reproducible(BuildOptions(repo, cache_dir=uv_cache), out, root / "work")
    third = build_release(
        BuildOptions(clone, cache_dir=uv_cache),
        root / "out-clone",
        root / "work-clone",
        Conditions(label="clone", umask=0o002, tz="America/St_Johns", lang="C"),
    )
    return Built(check=check, clone=third, out=out)


def assert_reproducible(built: Built) -> None:
    assert built.check.reproducible, built.check.differences
    first = [p.read_bytes() for p in built.check.first.artifacts]
    assert [p.read_bytes() for p in built.check.second.artifacts] == first
    assert [p.read_bytes() for p in built.clone.artifacts] == first
    assert next(p.name for p in built.check.first.artifacts).endswith(".tar.gz")


def assert_normalised(built: Built) -> None:
    sdist, wheel = built.check.first.artifacts
    members, facts = read_members(sdist)
    assert facts["gzip.mtime"] == str(COMMIT_EPOCH)
    assert facts["gzip.name"] == ""
    assert {m.mtime for m in members} == {COMMIT_EPOCH}
    assert {m.owner for m in members} == {"0/0 /"}
    assert {m.mode for m in members} <= {0o644, 0o755}
    assert record_problems(wheel) == []
    names = [m.name for m in read_members(wheel)[0]]
    assert names[-1].endswith(".dist-info/RECORD")


def assert_recorded(built: Built, backend: str) -> None:
    record = json.loads((built.out / "build-env.json").read_text())
    assert record["backend"]["name"] == backend
    pins = {d["name"]: d for d in record["dependencies"]}
    assert pins[backend]["version"] == record["backend"]["version"]
    assert all(h.startswith("sha256:") and len(h) == 71 for d in pins.values() for h in d["hashes"])
    assert record["python"]["version"] == ".".join(map(str, sys.version_info[:3]))
    assert record["source"]["source_date_epoch"] == COMMIT_EPOCH
    assert [a["filename"] for a in record["artifacts"]] == [
        p.name for p in built.check.first.artifacts
    ]


def assert_installs(built: Built, root: Path, module: str) -> None:
    """pip and uv install the wheel (and pip the sdist), twine check passes on both."""
    sdist, wheel = built.check.first.artifacts
    env = client_env(root)
    for installer, target in (
        ([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index"], "pip"),
        (
            [tool("uv"), "pip", "install", "--no-deps", "--offline", "--python", sys.executable],
            "uv",
        ),
    ):
        result = subprocess.run(
            [*installer, "--target", str(root / target), str(wheel)],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        imported = subprocess.run(
            [sys.executable, "-c", f"import {module}"],
            capture_output=True,
            text=True,
            env={**env, "PYTHONPATH": str(root / target)},
            check=False,
        )
        assert imported.returncode == 0, imported.stderr
    twine = subprocess.run(
        [tool("twine"), "check", "--strict", str(sdist), str(wheel)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert twine.returncode == 0, twine.stdout + twine.stderr


@pytest.fixture(scope="module", params=SAMPLES, ids=[s.name for s in SAMPLES])
def sample(request: pytest.FixtureRequest) -> Sample:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, uv_cache: Path, sample: Sample) -> Built:
    return build_three_ways(sample.name, tmp_path_factory.mktemp(sample.name), uv_cache)


def test_byte_identical_under_check_and_across_clones(built: Built) -> None:
    assert_reproducible(built)


def test_outputs_are_normalised(built: Built) -> None:
    assert_normalised(built)


def test_environment_is_recorded(built: Built, sample: Sample) -> None:
    assert_recorded(built, sample.backend)


def test_installs_with_pip_and_uv_and_passes_twine(
    built: Built, sample: Sample, tmp_path: Path
) -> None:
    assert_installs(built, tmp_path, sample.module)
