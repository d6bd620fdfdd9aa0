"""Fixtures for the release pipeline: real git repositories made from the sample projects."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
COMMIT_DATE = "2024-03-04T05:06:07+00:00"
COMMIT_EPOCH = 1709528767


def git(repo: Path, *args: str, date: str = COMMIT_DATE) -> str:
    """Run git with a fixed identity and dates, ignoring the machine's git configuration."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        GIT_AUTHOR_NAME="Tess Ter",
        GIT_AUTHOR_EMAIL="tess@example.org",
        GIT_COMMITTER_NAME="Tess Ter",
        GIT_COMMITTER_EMAIL="tess@example.org",
        GIT_AUTHOR_DATE=date,
        GIT_COMMITTER_DATE=date,
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_CONFIG_NOSYSTEM="1",
    )
    result = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, env=env, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def make_repo(sample: str, dest: Path, *, tag: str | None = "v0.1.0") -> Path:
    """A git repository holding ``tests/fixtures/<sample>``, committed (and tagged)."""
    shutil.copytree(FIXTURES / sample, dest)
    git(dest, "init", "--quiet", "--initial-branch=main")
    git(dest, "add", "--all")
    git(dest, "commit", "--quiet", "--message", f"{sample} sample")
    if tag:
        git(dest, "tag", tag)
    return dest


@pytest.fixture(scope="session")
def uv_cache(build_caches: dict[str, str]) -> Path:
    """One uv cache for all workers: build requirements are downloaded once per run."""
    return Path(build_caches["UV_CACHE_DIR"])


@pytest.fixture(autouse=True)
def build_env_cache(build_caches: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Path:
    """One build-env cache for all workers (safe under concurrent use by design), never the
    user's ``~/.cache``."""
    root = build_caches["TRUSTYARD_BUILD_ENV_CACHE"]
    monkeypatch.setenv("TRUSTYARD_BUILD_ENV_CACHE", root)
    return Path(root)


@pytest.fixture
def cli_cache(uv_cache: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Make in-process CLI runs use the shared uv cache."""
    monkeypatch.setenv("UV_CACHE_DIR", str(uv_cache))
    return uv_cache


@pytest.fixture
def in_tmp_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in the test's own directory: ``verify`` writes the build-env.json of the recipe
    that reproduced a release into the current directory by default."""
    monkeypatch.chdir(tmp_path)
    return tmp_path
