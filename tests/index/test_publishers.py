"""Managing trusted publishers with the CLI: what is accepted, and bad input refused clearly."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.conftest import IndexServer


@pytest.fixture(scope="module")
def owned(index: IndexServer) -> IndexServer:
    index.create_user("owner")
    index.cli("admin", "project", "create", "pub-proj", "--owner", "owner")
    # The generic publishers below name this issuer (registration only: nothing is fetched).
    index.cli("admin", "issuer", "add", "https://ci.example.com")
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
        (["add-pending", "Pub_Proj", *GITHUB, "--owner", "owner"], "already exists"),
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


# -- pending publishers cannot be taken over (issue 14, finding 1) ------------------------------

TAKEN = "This trusted publisher has already been registered."
TAKEN_ELSEWHERE = (
    "A pending trusted publisher matching this configuration has already been registered"
    " for a different project name."
)


def _pending(
    index: IndexServer, name: str, owner: str, *config: str, check: bool = False
) -> subprocess.CompletedProcess[str]:
    return index.cli("publisher", "add-pending", name, *config, "--owner", owner, check=check)


@pytest.fixture(scope="module")
def victims(owned: IndexServer) -> IndexServer:
    """Pending publishers registered by ``victim``, for mallory to try to take over."""
    owned.create_user("victim")
    owned.create_user("mallory")
    github = ["github", "--repository", "victim/pkg", "--workflow", "release.yml"]
    gitlab = ["gitlab", "--project", "group/thing", "--workflow-path", ".gitlab-ci.yml"]
    generic = ["oidc", "--issuer", "https://ci.example.com", "--claim", "sub=repo:a"]
    _pending(owned, "victim-pkg", "victim", *github, check=True)
    _pending(owned, "gl-victim", "victim", *gitlab, check=True)
    _pending(owned, "oidc-victim", "victim", *generic, check=True)
    return owned


@pytest.mark.parametrize(
    ("name", "config", "message"),
    [
        ("victim-pkg", ["github", "--repository", "Victim/Pkg", "--workflow", "release.yml"], TAKEN),
        (
            "victim-pkg",
            [*["github", "--repository", "victim/pkg", "--workflow", "release.yml"],
             *["--environment", "pypi"]],
            TAKEN,
        ),
        (
            "Victim.Pkg",
            [*["github", "--repository", "victim/pkg", "--workflow", "release.yml"],
             *["--environment", "pypi", "--owner-id", "42"]],
            TAKEN,
        ),
        (
            "other-name",
            ["github", "--repository", "victim/pkg", "--workflow", "release.yml"],
            TAKEN_ELSEWHERE,
        ),
        (
            "gl-victim",
            [*["gitlab", "--project", "Group/Thing", "--workflow-path", ".gitlab-ci.yml"],
             *["--environment", "prod"]],
            TAKEN,
        ),
        (
            "gl-elsewhere",
            ["gitlab", "--project", "group/thing", "--workflow-path", ".gitlab-ci.yml"],
            TAKEN_ELSEWHERE,
        ),
        (
            "oidc-elsewhere",
            [*["oidc", "--issuer", "https://ci.example.com"],
             *["--claim", "sub=repo:a", "--claim", "ref=main"]],
            TAKEN_ELSEWHERE,
        ),
    ],
)  # fmt: skip
def test_an_overlapping_pending_publisher_of_another_user_is_refused(
    victims: IndexServer, name: str, config: list[str], message: str
) -> None:
    """The victim registered first; an identical or overlapping registration by anyone (any
    environment, any project name) is refused with PyPI's message, and nothing is stored."""
    owned = victims
    before = owned.snapshot()
    result = _pending(owned, name, "mallory", *config)
    assert result.returncode == 1, result.stderr
    assert message in result.stderr
    assert "contact the index's admins" in result.stderr
    assert owned.snapshot().tables["publishers"] == before.tables["publishers"]


def test_distinct_workflows_and_claims_do_not_overlap(owned: IndexServer) -> None:
    owned.create_user("neighbour")
    for name, config in (
        ("nb-one", ["github", "--repository", "nb/pkg", "--workflow", "release.yml"]),
        ("nb-two", ["github", "--repository", "nb/pkg", "--workflow", "other.yml"]),
        ("nb-three", ["oidc", "--issuer", "https://ci.example.com", "--claim", "sub=repo:b"]),
    ):
        _pending(owned, name, "neighbour", *config, check=True)


def test_at_most_three_pending_publishers_per_user(owned: IndexServer) -> None:
    owned.create_user("eager")
    for n in range(3):
        config = ["github", "--repository", f"eager/p{n}", "--workflow", "release.yml"]
        _pending(owned, f"eager-{n}", "eager", *config, check=True)
    before = owned.snapshot()
    config = ["github", "--repository", "eager/p3", "--workflow", "release.yml"]
    result = _pending(owned, "eager-3", "eager", *config)
    assert result.returncode == 1, result.stderr
    assert "You can't register more than 3 pending trusted publishers at once." in result.stderr
    assert owned.snapshot().tables["publishers"] == before.tables["publishers"]


def test_the_pending_publisher_limit_is_a_setting(owned: IndexServer, tmp_path: Path) -> None:
    # The index's own configuration (its database, on PostgreSQL), and the limit.
    own = owned.data / "trustyard.toml"
    config = tmp_path / "trustyard.toml"
    config.write_text((own.read_text() if own.exists() else "") + "max-pending-publishers = 1\n")
    owned.create_user("frugal")
    first = ["github", "--repository", "frugal/a", "--workflow", "release.yml"]
    _pending(owned, "frugal-a", "frugal", *first, "--config", str(config), check=True)
    second = ["github", "--repository", "frugal/b", "--workflow", "release.yml"]
    result = _pending(owned, "frugal-b", "frugal", *second, "--config", str(config))
    assert result.returncode == 1, result.stderr
    assert "You can't register more than 1 pending trusted publishers at once." in result.stderr
