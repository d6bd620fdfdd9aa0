"""Managing trusted publishers with the CLI: what is accepted, and bad input refused clearly."""

from __future__ import annotations

import json

import pytest

from tests.conftest import IndexServer


@pytest.fixture(scope="module")
def owned(index: IndexServer) -> IndexServer:
    index.create_user("owner")
    index.cli("admin", "project", "create", "pub-proj", "--owner", "owner")
    return index


GITHUB = ["github", "--repository", "Octo/Repo", "--workflow", "release.yml"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["add", "pub-proj", "github", "--repository", "norepo", "--workflow", "r.yml"],
            "must be OWNER/REPO",
        ),
        (
            [
                "add",
                "pub-proj",
                "github",
                "--repository",
                "a/b",
                "--workflow",
                ".github/workflows/r.yml",
            ],
            "must be a file name",
        ),
        (
            ["add", "pub-proj", "github", "--repository", "a/b", "--workflow", "release.txt"],
            "must be a file name",
        ),
        (
            ["add", "pub-proj", *GITHUB, "--issuer", "http://ci.example.com"],
            "must be an https:// URL",
        ),
        (
            ["add", "pub-proj", *GITHUB, "--issuer", "https://ci.example.com/"],
            "must not end with '/'",
        ),
        (["add", "no-such-project", *GITHUB], "no project named 'no-such-project'"),
        (
            ["add", "pub-proj", "gitlab", "--project", "flat", "--workflow-path", ".gitlab-ci.yml"],
            "must be NAMESPACE/PROJECT",
        ),
        (["add", "pub-proj", "oidc", "--issuer", "https://ci.example.com"], "at least one --claim"),
        (
            ["add", "pub-proj", "oidc", "--issuer", "https://ci.example.com", "--claim", "novalue"],
            "--claim takes NAME=VALUE",
        ),
        (["add-pending", "pub-proj", *GITHUB, "--owner", "owner"], "already exists"),
        (["add-pending", "bad_", *GITHUB, "--owner", "owner"], "not a valid project name"),
        (["add-pending", "fresh", *GITHUB, "--owner", "nobody"], "no user named 'nobody'"),
        (["remove", "pub-proj", "999"], "has no publisher 999"),
        (["list", "nothing-at-all"], "no project or pending publisher named"),
    ],
)
def test_bad_input_is_refused_with_one_clear_line(
    owned: IndexServer, args: list[str], message: str
) -> None:
    result = owned.cli("publisher", *args, check=False)
    assert result.returncode == 1, result.stderr
    assert message in result.stderr
    assert result.stderr.count("\n") == 1


def test_add_list_remove(owned: IndexServer) -> None:
    first = int(owned.cli("publisher", "add", "pub-proj", *GITHUB, "--environment", "pypi").stdout)
    second = int(
        owned.cli(
            "publisher",
            "add",
            "pub-proj",
            "google",
            "--email",
            "ci@example.iam.gserviceaccount.com",
        ).stdout
    )
    pending = int(
        owned.cli("publisher", "add-pending", "pub-later", *GITHUB, "--owner", "owner").stdout
    )
    listing = json.loads(owned.cli("publisher", "list", "pub-proj", "--json").stdout)
    assert [(p["id"], p["kind"], p["pending"]) for p in listing] == [
        (first, "github", False),
        (second, "google", False),
    ]
    assert listing[0]["issuer"] == "https://token.actions.githubusercontent.com"
    assert "environment pypi" in listing[0]["description"]
    later = json.loads(owned.cli("publisher", "list", "pub-later", "--json").stdout)
    assert [(p["id"], p["pending"]) for p in later] == [(pending, True)]
    owned.cli("publisher", "remove", "pub-proj", str(first))
    remaining = json.loads(owned.cli("publisher", "list", "pub-proj", "--json").stdout)
    assert [p["id"] for p in remaining] == [second]
    # A removed publisher's id is never reused.
    third = int(owned.cli("publisher", "add", "pub-proj", *GITHUB).stdout)
    assert third > pending
