"""``--github`` checks against recorded GitHub API responses served on a loopback port."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.audit.github_server import serve_recorded
from trustyard.audit import online
from trustyard.audit.github import GitHub, GitHubError, parse_repo
from trustyard.errors import InvalidInput

SCENARIOS = Path(__file__).parent / "fixtures" / "github"
PROJECT = Path(__file__).parent / "fixtures" / "gated-environment" / "pass"


def test_strong_repository_scores_ten() -> None:
    with serve_recorded(SCENARIOS / "strong") as server:
        gh = GitHub(server.url, "t0ken")
        results = [
            online.branch_protection(gh, "octo/pkg"),
            online.tag_protection(gh, "octo/pkg"),
            online.environments(gh, "octo/pkg", ["pypi", "testpypi"]),
            online.signed_releases(gh, "octo/pkg"),
        ]
    assert [(r.name, r.score) for r in results] == [
        ("Branch-Protection", 10),
        ("Tag-Protection", 10),
        ("Environment-Protection", 10),
        ("Signed-Releases", 10),
    ]
    assert all(not r.findings for r in results)
    assert {auth for _, auth in server.requests} == {"Bearer t0ken"}


def test_weak_repository_findings() -> None:
    with serve_recorded(SCENARIOS / "weak") as server:
        gh = GitHub(server.url, "t0ken")
        branch = online.branch_protection(gh, "octo/pkg")
        tags = online.tag_protection(gh, "octo/pkg")
        envs = online.environments(gh, "octo/pkg", ["pypi", "testpypi"])
        signed = online.signed_releases(gh, "octo/pkg")
    assert branch.score == 0
    assert "does not forbid force pushes and branch deletion" in branch.findings[0].why
    assert tags.score == 0
    assert envs.score == 0
    whys = [f.why for f in envs.findings]
    assert any("pypi has no required reviewers" in w for w in whys)
    assert any("pypi can be deployed from any branch" in w for w in whys)
    assert any("testpypi does not exist" in w for w in whys)
    # v0.2.0 signed (8), v0.1.0 neither (0): (8 + 0) / 2
    assert signed.score == 4
    assert [f.where for f in signed.findings] == [
        "github:octo/pkg/releases/v0.2.0",
        "github:octo/pkg/releases/v0.1.0",
    ]


def test_cli_github_mode(tmp_path: Path) -> None:
    env = {"GITHUB_TOKEN": "t0ken", "PATH": str(Path(sys.executable).parent)}
    with serve_recorded(SCENARIOS / "weak") as server:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "trustyard",
                "audit",
                str(PROJECT),
                "--github",
                "octo/pkg",
                "--github-api-url",
                server.url,
                "--format",
                "json",
            ],
            capture_output=True,
            text=True,
            check=False,
            env=env,
        )
    assert done.returncode == 1, done.stderr
    checks = {c["name"]: c for c in json.loads(done.stdout)["checks"]}
    assert checks["Branch-Protection"]["score"] == 0
    assert checks["Environment-Protection"]["score"] == 0


def test_cli_github_needs_token() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "trustyard", "audit", str(PROJECT), "--github", "octo/pkg"],
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": str(Path(sys.executable).parent)},
    )
    assert done.returncode == 1
    assert "--github needs a token in GITHUB_TOKEN" in done.stderr


def test_api_errors_are_precise() -> None:
    with serve_recorded(SCENARIOS / "weak") as server:
        gh = GitHub(server.url, None)
        with pytest.raises(GitHubError, match=r"GET /repos/octo/nope: GitHub answered 404"):
            gh.get("/repos/octo/nope")
        assert gh.get("/repos/octo/nope", missing_ok=True) is None
    with pytest.raises(GitHubError, match="cannot reach the GitHub API"):
        GitHub("http://127.0.0.1:9", None).get("/repos/octo/pkg")
    with pytest.raises(InvalidInput, match="must be an http"):
        GitHub("file:///etc", None)


@pytest.mark.parametrize("slug", ["octo", "octo/pkg/x", "/pkg", "octo/p kg"])
def test_bad_repository_slug(slug: str) -> None:
    with pytest.raises(InvalidInput, match="must be OWNER/REPO"):
        parse_repo(slug)
