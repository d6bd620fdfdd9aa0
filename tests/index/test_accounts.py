"""Tokens and ownership through the admin CLI and real uploads."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import IndexServer
from tests.dists.builders import build_wheel
from tests.index.conftest import post_upload, request, upload_fields, upload_file


def test_token_create_prints_only_the_token(index: IndexServer) -> None:
    index.create_user("printer")
    result = index.cli("admin", "token", "create", "printer")
    assert result.stdout.count("\n") == 1
    assert result.stdout.startswith("trustyard-")


def test_tokens_are_stored_only_as_hashes(index: IndexServer) -> None:
    index.create_user("hashed")
    token = index.create_token("hashed")
    secret = token.split(".", 1)[1]
    assert secret not in repr(index.snapshot().tables)
    if index.storage is None:  # the embedded SQLite file: also its free pages and the WAL
        raw = (index.data / "trustyard.sqlite3").read_bytes()
        for wal in index.data.glob("trustyard.sqlite3-wal"):
            raw += wal.read_bytes()
        assert secret.encode() not in raw


def test_user_wide_token_creates_project_and_becomes_owner(
    index: IndexServer, tmp_path: Path
) -> None:
    index.create_user("owner1")
    index.create_user("stranger1")
    owner = index.create_token("owner1")
    stranger = index.create_token("stranger1")
    assert (
        upload_file(index, owner, build_wheel(tmp_path, "owned", "1.0"), "owned", "1.0").status
        == 200
    )
    refused = upload_file(index, stranger, build_wheel(tmp_path, "owned", "1.1"), "owned", "1.1")
    assert refused.status == 403
    assert (
        upload_file(index, owner, build_wheel(tmp_path, "owned", "1.1"), "owned", "1.1").status
        == 200
    )


def test_project_scoped_token(index: IndexServer, tmp_path: Path) -> None:
    index.create_user("scoper")
    index.cli("admin", "project", "create", "Scoped-Proj", "--owner", "scoper")
    scoped = index.create_token("scoper", "--project", "scoped_proj")
    assert (
        upload_file(
            index, scoped, build_wheel(tmp_path, "scoped-proj", "1.0"), "scoped-proj", "1.0"
        ).status
        == 200
    )
    denied = upload_file(
        index, scoped, build_wheel(tmp_path, "not-scoped", "1.0"), "not-scoped", "1.0"
    )
    assert denied.status == 403


def test_token_and_bearer_schemes(index: IndexServer, tmp_path: Path) -> None:
    index.create_user("schemer")
    token = index.create_token("schemer")
    for number, scheme in enumerate(("token", "bearer", "Bearer")):
        wheel = build_wheel(tmp_path / scheme, "schemes", f"1.{number}")
        answer = post_upload(
            index,
            None,
            upload_fields(wheel, "schemes", f"1.{number}"),
            [("content", wheel.name, wheel.read_bytes(), "application/octet-stream")],
            auth=f"{scheme} {token}",
        )
        assert answer.status == 200, answer.reason


def test_delete_file_keeps_the_name_burnt(
    index: IndexServer, uploader: str, tmp_path: Path
) -> None:
    wheel = build_wheel(tmp_path, "burnt", "1.0")
    assert upload_file(index, uploader, wheel, "burnt", "1.0").status == 200
    index.cli("admin", "project", "delete-file", wheel.name)
    assert not [key for key in index.stored_files() if key.endswith(f"/{wheel.name}")]
    assert wheel.name not in request(index, "GET", "/simple/burnt/").text
    again = upload_file(index, uploader, wheel, "burnt", "1.0")  # even the same bytes
    assert again.status == 400
    assert "previously used" in again.reason


def test_admin_errors_are_one_clear_line(index: IndexServer) -> None:
    cases = [
        (("admin", "token", "create", "nobody"), "no user named 'nobody'"),
        (("admin", "token", "create", "erin", "--expires", "soon"), "invalid duration 'soon'"),
        (("admin", "project", "create", "x", "--owner", "nobody"), "no user named 'nobody'"),
        (("admin", "project", "yank", "nothing-here", "1.0"), "no project named 'nothing-here'"),
        (("admin", "project", "delete-file", "nothing-1.0.tar.gz"), "no file named"),
        (("admin", "project", "create", "bad_", "--owner", "erin"), "invalid value for Name"),
    ]
    index.create_user("erin")
    for args, message in cases:
        result = index.cli(*args, check=False)
        assert result.returncode == 1, args
        assert message in result.stderr, (args, result.stderr)
        assert result.stderr.count("\n") == 1
    dup = index.cli(
        "admin", "user", "create", "erin", "--password-stdin", stdin="long enough pw\n", check=False
    )
    assert dup.returncode == 1
    assert "already exists" in dup.stderr
    short = index.cli(
        "admin", "user", "create", "bob", "--password-stdin", stdin="short\n", check=False
    )
    assert "at least 8 characters" in short.stderr
