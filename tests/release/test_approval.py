"""The approval gate: --yes, an approval file bound to the exact hashes, a GitHub environment
(read from a real development-issuer token), a terminal prompt, and refusal by default."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.oidc.conftest import DevIssuer, start_dev_issuer
from trustyard.dists.sha256sums import render_sha256sums
from trustyard.release.approval import (
    ApprovalRefused,
    ApprovalRequest,
    seek_approval,
)

A = "a" * 64
B = "b" * 64
REQUEST = ApprovalRequest({"p-1.0.tar.gz": A, "p-1.0-py3-none-any.whl": B}, "https://idx/legacy/")


@pytest.fixture(scope="module")
def dev_issuer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevIssuer]:
    issuer = start_dev_issuer(tmp_path_factory.mktemp("approval-issuer") / "data")
    yield issuer
    issuer.stop()


def test_yes_approves() -> None:
    assert seek_approval(REQUEST, yes=True, environ={}).by == "--yes"


def test_unattended_run_is_refused_by_default() -> None:
    with pytest.raises(ApprovalRefused, match="--yes or --approve-file"):
        seek_approval(REQUEST, environ={}, interactive=False, ask=lambda _: "y")


def test_approval_file_with_the_same_hashes_approves(tmp_path: Path) -> None:
    approval = tmp_path / "APPROVED"
    approval.write_text(render_sha256sums(REQUEST.files))
    assert seek_approval(REQUEST, approve_file=approval, environ={}).by.startswith("approval file")


@pytest.mark.parametrize(
    ("files", "complaint"),
    [
        ({"p-1.0.tar.gz": A}, "p-1.0-py3-none-any.whl: not listed"),
        ({**REQUEST.files, "p-1.0-cp311.whl": A}, "listed, but there is no such file"),
        ({"p-1.0.tar.gz": B, "p-1.0-py3-none-any.whl": B}, f"listed as {B}, but the file is {A}"),
    ],
)
def test_approval_file_for_other_bytes_is_refused(
    tmp_path: Path, files: dict[str, str], complaint: str
) -> None:
    approval = tmp_path / "APPROVED"
    approval.write_text(render_sha256sums(files))
    with pytest.raises(ApprovalRefused, match="does not approve these bytes") as caught:
        seek_approval(REQUEST, approve_file=approval, environ={})
    assert complaint in caught.value.message


def test_unreadable_approval_file(tmp_path: Path) -> None:
    with pytest.raises(ApprovalRefused, match="cannot read the approval file"):
        seek_approval(REQUEST, approve_file=tmp_path / "missing", environ={})
    binary = tmp_path / "binary"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ApprovalRefused, match="cannot read the approval file"):
        seek_approval(REQUEST, approve_file=binary, environ={})


@pytest.mark.parametrize(
    ("answer", "approved"), [("y", True), ("YES", True), ("", False), ("n", False)]
)
def test_terminal_prompt(answer: str, approved: bool, capsys: pytest.CaptureFixture[str]) -> None:
    asked: list[str] = []

    def ask(prompt: str) -> str:
        asked.append(prompt)
        return answer

    if approved:
        assert (
            seek_approval(REQUEST, environ={}, interactive=True, ask=ask).by == "interactive prompt"
        )
    else:
        with pytest.raises(ApprovalRefused, match="not approved"):
            seek_approval(REQUEST, environ={}, interactive=True, ask=ask)
    assert asked == ["Publish these 2 files? [y/N] "]
    shown = capsys.readouterr().out
    assert f"{A}  p-1.0.tar.gz" in shown
    assert "https://idx/legacy/" in shown


def test_github_job_with_an_environment_is_approved(dev_issuer: DevIssuer) -> None:
    env = dev_issuer.env("--repository", "octo/proj", "--environment", "release")
    approval = seek_approval(REQUEST, environ=env, audience="trustyard")
    assert approval.by == "GitHub environment 'release'"


def test_github_job_without_an_environment_is_refused(dev_issuer: DevIssuer) -> None:
    env = dev_issuer.env("--repository", "octo/proj")
    with pytest.raises(ApprovalRefused, match="no environment"):
        seek_approval(REQUEST, environ=env, audience="trustyard")


def test_github_job_without_token_permission_is_refused() -> None:
    with pytest.raises(ApprovalRefused, match="id-token: write"):
        seek_approval(REQUEST, environ={"GITHUB_ACTIONS": "true"}, audience="trustyard")


def test_approval_file_that_is_not_sha256sums(tmp_path: Path) -> None:
    approval = tmp_path / "APPROVED"
    approval.write_text("yes please\n")
    with pytest.raises(ApprovalRefused, match="not a SHA256SUMS"):
        seek_approval(REQUEST, approve_file=approval, environ={})
