"""The release pipeline's state file and its refusals: each is reported before any stage runs
(no build, no network), and the release directory is left as it was."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.release.conftest import git, make_repo
from trustyard.errors import Error
from trustyard.release.errors import ReleaseError
from trustyard.release.pipeline import STATE_FILE, ReleaseOptions, release
from trustyard.release.promotion import IndexTarget

WHEEL = "ty_sample_hatchling-0.1.0-py3-none-any.whl"
SDIST = "ty_sample_hatchling-0.1.0.tar.gz"
UNREACHABLE = "https://127.0.0.1:9/legacy/"


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_repo("hatchling", tmp_path_factory.mktemp("pipeline") / "repo")


def _options(repo: Path, dist: Path) -> ReleaseOptions:
    return ReleaseOptions(
        project=repo,
        dist=dist,
        test=IndexTarget("test", UNREACHABLE),
        production=IndexTarget("production", UNREACHABLE),
        ref="v0.1.0",
        environ={},
    )


def _built(repo: Path, dist: Path) -> dict[str, str]:
    """A release directory as the build stage leaves it (file contents are stand-ins)."""
    dist.mkdir()
    files = {}
    for name in (WHEEL, SDIST):
        (dist / name).write_bytes(name.encode())
        files[name] = hashlib.sha256(name.encode()).hexdigest()
    state = {
        "version": 1,
        "commit": git(repo, "rev-parse", "v0.1.0^{commit}").strip(),
        "release": "ty-sample-hatchling==0.1.0",
        "files": files,
        "done": {"build": {"files": 2, "at": "2026-01-01T00:00:00+00:00"}},
    }
    (dist / STATE_FILE).write_text(json.dumps(state))
    return files


def _snapshot(dist: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(dist.iterdir())}


def _state(dist: Path) -> dict[str, object]:
    document = json.loads((dist / STATE_FILE).read_text())
    assert isinstance(document, dict)
    return document


def _rewrite_state(dist: Path, change: Callable[[dict[str, object]], object]) -> None:
    document = _state(dist)
    change(document)
    (dist / STATE_FILE).write_text(json.dumps(document))


@pytest.mark.parametrize(
    ("damage", "complaint"),
    [
        (lambda d: (d / WHEEL).write_bytes(b"tampered"), f"{WHEEL} changed since it was built"),
        (lambda d: (d / SDIST).unlink(), f"{SDIST} was built by this release but is gone"),
        (
            lambda d: (d / "other-1.0-py3-none-any.whl").write_bytes(b"x"),
            "holds distributions this release did not build: other-1.0-py3-none-any.whl",
        ),
    ],
)
def test_changed_release_directory_is_refused_before_the_next_stage(
    repo: Path, tmp_path: Path, damage: Callable[[Path], object], complaint: str
) -> None:
    dist = tmp_path / "dist"
    _built(repo, dist)
    damage(dist)
    before = _snapshot(dist)
    with pytest.raises(ReleaseError, match=complaint):
        release(_options(repo, dist))
    assert _snapshot(dist) == before


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("{", "is not a readable release state"),
        ("\xff", "is not a readable release state"),
        ("[]", "not a release state this version understands"),
        ('{"version": 2}', "not a release state this version understands"),
    ],
)
def test_unreadable_state_is_refused(repo: Path, tmp_path: Path, text: str, complaint: str) -> None:
    dist = tmp_path / "dist"
    _built(repo, dist)
    (dist / STATE_FILE).write_text(text, encoding="latin-1")
    before = _snapshot(dist)
    with pytest.raises(ReleaseError, match=complaint):
        release(_options(repo, dist))
    assert _snapshot(dist) == before


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d.update(commit=1),
        lambda d: d.update(files={"a.whl": 3}),
        lambda d: d.update(files=[]),
        lambda d: d.update(done={"deploy": {}}),
        lambda d: d.update(done={"build": "yes"}),
        lambda d: d.pop("release"),
    ],
)
def test_state_of_the_wrong_shape_is_refused(
    repo: Path, tmp_path: Path, change: Callable[[dict[str, object]], object]
) -> None:
    dist = tmp_path / "dist"
    _built(repo, dist)
    _rewrite_state(dist, change)
    with pytest.raises(ReleaseError, match="not a release state this version understands"):
        release(_options(repo, dist))


def test_state_of_another_commit_is_refused(repo: Path, tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    _built(repo, dist)
    _rewrite_state(dist, lambda d: d.update(commit="0" * 40))
    with pytest.raises(
        ReleaseError, match=r"holds the release of commit 000000000000, but v0\.1\.0"
    ):
        release(_options(repo, dist))


def test_distributions_without_state_are_refused(repo: Path, tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    dist.mkdir()
    (dist / WHEEL).write_bytes(b"x")
    with pytest.raises(ReleaseError, match=r"already holds distributions .* but no release-state"):
        release(_options(repo, dist))
    assert not (dist / STATE_FILE).exists()


def test_index_targets_derive_the_simple_api() -> None:
    assert IndexTarget("t", "https://h:1/legacy/").simple_url == "https://h:1/simple/"
    assert IndexTarget("t", "https://h/pypi/legacy").simple_url == "https://h/pypi/simple/"


def test_bad_publisher_spec_is_refused_before_anything_runs(repo: Path, tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    options = _options(repo, dist)
    bad = dataclasses.replace(options, publisher="bitbucket:octo/x")
    with pytest.raises(Error, match="bitbucket"):
        release(bad)
    assert not dist.exists()
