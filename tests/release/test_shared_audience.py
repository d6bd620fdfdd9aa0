"""``trustyard release`` refuses a test and a production index that announce the same Trusted
Publishing audience (issue 14, finding 4): the test index could replay the CI job's ID token to
production. Real ``serve --tls`` indexes; the refusal comes before anything is built."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import IndexServer, start_index
from tests.release.conftest import make_repo
from trustyard.cli.main import main
from trustyard.release.oidc_exchange import SharedAudience, refuse_shared_audience
from trustyard.release.pipeline import ReleaseOptions, release
from trustyard.release.promotion import IndexTarget
from trustyard.release.publish import tls_context
from trustyard.release.upload_client import HttpClient

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def indexes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, IndexServer]]:
    """Two pairs: 'test' and 'production' sharing one audience (set explicitly, as two indexes
    upgraded from before per-index audiences may), and 'own' with an audience of its own."""
    tmp = tmp_path_factory.mktemp("shared-audience")
    started: dict[str, IndexServer] = {}
    try:
        started["test"] = start_index(tmp / "test", "--tls", "--audience", "trustyard")
        started["production"] = start_index(tmp / "prod", "--tls", "--audience", "trustyard")
        started["own"] = start_index(tmp / "own", "--tls")
        yield started
    finally:
        for server in started.values():
            server.stop()


@pytest.fixture(scope="module")
def bundle(indexes: dict[str, IndexServer], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One CA file trusting every index of the module."""
    path = tmp_path_factory.mktemp("cas") / "bundle.pem"
    path.write_text("".join(s.ca.read_text() for s in indexes.values() if s.ca is not None))
    return path


def test_release_refuses_indexes_that_share_an_audience_before_building(
    indexes: dict[str, IndexServer], bundle: Path, tmp_path: Path
) -> None:
    repo = make_repo("hatchling", tmp_path / "repo")
    dist = tmp_path / "dist"
    options = ReleaseOptions(
        project=repo,
        dist=dist,
        test=IndexTarget("test", indexes["test"].upload_url),
        production=IndexTarget("production", indexes["production"].upload_url),
        ref="v0.1.0",
        trusted_publishing="always",
        cacert=bundle,
        environ={},
    )
    with pytest.raises(SharedAudience) as refused:
        release(options)
    message = refused.value.message
    assert "announce the same Trusted Publishing audience 'trustyard'" in message
    assert "could replay this job's ID token to production" in message
    assert not dist.exists() or list(dist.iterdir()) == []  # nothing built, no state
    for server in (indexes["test"], indexes["production"]):
        assert server.query("SELECT count(*) FROM projects") == [(0,)]


def test_the_cli_says_so_in_one_line(
    indexes: dict[str, IndexServer],
    bundle: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    repo = make_repo("hatchling", tmp_path / "repo")
    code = main(
        [
            "release", str(tmp_path / "d"), "--project", str(repo), "--ref", "v0.1.0",
            "--test-index", indexes["test"].upload_url, "--index", indexes["production"].upload_url,
            "--trusted-publishing", "always", "--cacert", str(bundle), "--yes",
        ]
    )  # fmt: skip
    assert code == 1
    err = capsys.readouterr().err
    assert err.startswith("trustyard: error: the test index")
    assert "same Trusted Publishing audience" in err


def test_indexes_with_their_own_audiences_pass(
    indexes: dict[str, IndexServer], bundle: Path
) -> None:
    client = HttpClient(tls_context(bundle), timeout=30)
    assert indexes["own"].audience != indexes["production"].audience
    refuse_shared_audience(client, indexes["own"].upload_url, indexes["production"].upload_url)
    # An index without Trusted Publishing (or unreachable) is the publish stage's to report.
    refuse_shared_audience(client, "https://127.0.0.1:9/legacy/", indexes["own"].upload_url)
