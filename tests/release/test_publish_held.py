"""``trustyard publish`` (and so ``release`` and ``release add-wheels``, which publish through
it) against a real index that holds the upload (issue 18's publisher continuity): the file is
reported as held, with the index's reason, and the command fails cleanly."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import IndexServer, start_index
from tests.dists.builders import build_wheel
from tests.index.conftest import upload_built
from tests.index.test_attestations import add_github_publisher, mint
from tests.oidc.conftest import DevIssuer, dev_issuer
from trustyard.cli.main import main
from trustyard.release.publish import publish_files

__all__ = ["dev_issuer"]

NAME, REPOSITORY, WORKFLOW = "held-pkg", "octo/held-pkg", "release.yml"


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory, dev_issuer: DevIssuer) -> Iterator[IndexServer]:
    tmp = tmp_path_factory.mktemp("held")
    server = start_index(tmp / "index")
    try:
        server.create_user("alice")
        server.cli("admin", "project", "create", NAME, "--owner", "alice")
        add_github_publisher(server, dev_issuer, NAME, REPOSITORY, WORKFLOW)
        first = build_wheel(tmp / "first", NAME, "1.0")
        answer = upload_built(server, mint(server, dev_issuer, REPOSITORY), first)
        assert answer.status == 200, answer.reason
        yield server
    finally:
        server.stop()


def test_a_held_upload_is_reported_as_held(index: IndexServer, tmp_path: Path) -> None:
    token = index.create_token("alice")
    wheel = build_wheel(tmp_path, NAME, "1.1")
    report = publish_files(
        [wheel], upload_url=index.upload_url, token=token, trusted_publishing="never"
    )
    (result,) = report.files
    assert result.outcome == "held"
    assert "held for an owner's approval" in result.reason
    assert not report.ok


def test_the_cli_says_held_and_fails(
    index: IndexServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    token = index.create_token("alice")
    wheel = build_wheel(tmp_path, NAME, "1.2")
    code = main(
        [
            "publish",
            str(wheel),
            "--index",
            index.upload_url,
            "--token",
            token,
            "--trusted-publishing",
            "never",
        ]
    )
    err = capsys.readouterr().err
    assert code == 1, err
    assert "0 uploaded, 0 skipped, 0 failed, 1 held" in err
    assert f"{wheel.name} is held: Stored but held for an owner's approval" in err
