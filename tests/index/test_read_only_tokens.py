"""Read-only API tokens (issue 20): created from the CLI and the account page, listed as such,
refused by every upload path with a 403 that names them, carried by exports old and new, and
their use noted at most once per interval."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text

from tests.index.conftest import LocalBrowser, LocalIndex
from trustyard.cli.main import main
from trustyard.errors import Forbidden, Unauthenticated
from trustyard.index.db.models import JournalEntry, Token
from trustyard.index.services import accounts, backup, token_use
from trustyard.index.services.accounts import utcnow
from trustyard.index.services.uploads import _authorize

FORMAT_4_EXPORT = Path(__file__).parents[1] / "data" / "exports" / "format4-schema0020"


def _token_row(index: LocalIndex, token: str) -> Token:
    parsed = accounts.parse_token(token)
    assert parsed is not None
    with index.db.read() as session:
        row = session.get_one(Token, parsed[0])
        session.expunge(row)
        return row


def test_a_read_only_token_cannot_upload_and_the_refusal_names_it(
    shared_index: LocalIndex, wheels: Callable[[str, str], Path]
) -> None:
    index = shared_index
    index.create_user("ro-owner")
    writer = index.create_token("ro-owner")
    assert index.upload(writer, wheels("ro-project", "1.0")).status_code == 200
    with index.db.write() as session:
        reader = accounts.create_token(session, "ro-owner", read_only=True)
        scoped = accounts.create_token(session, "ro-owner", project="ro-project", read_only=True)
    for token in (reader, scoped):
        answer = index.upload(token, wheels("ro-project", "2.0"))
        assert answer.status_code == 403, answer.text
        assert "read-only token" in answer.text
        assert _token_row(index, token).id in answer.text
    # a new project is refused too, before the body is looked at
    assert index.upload(reader, wheels("ro-new-project", "1.0")).status_code == 403
    assert index.get("/simple/ro-new-project/").status_code == 404
    assert "2.0" not in index.get("/pypi/ro-project/json").text


def test_the_upload_service_refuses_a_read_only_identity_too(shared_index: LocalIndex) -> None:
    """Defence in depth: a caller of ``accept_upload`` that forgot the route's check."""
    identity = accounts.Identity("x", 1, "t" * 24, None, read_only=True)
    with shared_index.db.read() as session, pytest.raises(Forbidden, match="read-only"):
        _authorize(session, identity, "anything")


def test_cli_creates_and_lists_read_only_tokens(
    shared_index: LocalIndex, capsys: pytest.CaptureFixture[str]
) -> None:
    index = shared_index
    index.create_user("ro-cli")
    data = ["--data", str(index.data)]
    assert (
        main(["admin", "token", "create", "ro-cli", "--read-only", "--expires", "2h", *data]) == 0
    )
    token = capsys.readouterr().out.strip()
    row = _token_row(index, token)
    assert row.read_only
    assert row.expires is not None
    assert timedelta(hours=1, minutes=59) < row.expires - row.created <= timedelta(hours=2)
    assert main(["admin", "token", "create", "ro-cli", *data]) == 0
    capsys.readouterr()
    assert main(["admin", "token", "list", "ro-cli", *data]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert sorted(line.split("\t")[1] for line in lines) == ["read-only", "upload"]
    assert main(["admin", "token", "list", "ro-cli", "--json", *data]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert {(t["id"], t["read_only"]) for t in listed if t["read_only"]} == {(row.id, True)}
    with index.db.read() as session:
        actions = session.scalars(
            select(JournalEntry.action).where(JournalEntry.actor == "ro-cli")
        ).all()
    assert f"create read-only token {row.id} for all projects" in actions


def test_cli_refuses_a_bad_expiry_and_creates_nothing(
    shared_index: LocalIndex, capsys: pytest.CaptureFixture[str]
) -> None:
    index = shared_index
    index.create_user("ro-bad")
    data = ["--data", str(index.data)]
    assert (
        main(["admin", "token", "create", "ro-bad", "--read-only", "--expires", "0d", *data]) == 1
    )
    assert "invalid duration" in capsys.readouterr().err
    with index.db.read() as session:
        assert accounts.list_tokens(session, "ro-bad") == []


def test_account_page_creates_a_read_only_token(
    web_client: LocalBrowser, wheels: Callable[[str, str], Path]
) -> None:
    index = web_client.index
    index.create_user("ro-web")
    web_client.sign_in("ro-web")
    answer = web_client.post(
        "/manage/account/token/",
        {"description": "ci installs", "scope": "", "expiry": "30d", "access": "read"},
    )
    assert answer.status_code == 201, answer.text
    assert "read-only" in answer.text
    token = answer.text.split('id="new-token" class="secret">')[1].split("<")[0]
    row = _token_row(index, token)
    assert row.read_only
    assert row.expires is not None
    assert index.upload(token, wheels("ro-web-project", "1.0")).status_code == 403
    refused = web_client.post(
        "/manage/account/token/",
        {"description": "x", "scope": "", "expiry": "30d", "access": "admin"},
    )
    assert refused.status_code == 400
    assert "the access must be upload or read" in refused.text
    # without the field (an old form): an upload token, as before
    plain = web_client.post(
        "/manage/account/token/", {"description": "old form", "scope": "", "expiry": ""}
    )
    assert plain.status_code == 201
    with index.db.read() as session:
        views = accounts.list_tokens(session, "ro-web")
    assert sorted(view.read_only for view in views) == [False, True]


def test_a_read_only_token_is_revocable_and_expiring(shared_index: LocalIndex) -> None:
    index = shared_index
    index.create_user("ro-revoke")
    with index.db.write() as session:
        token = accounts.create_token(session, "ro-revoke", read_only=True)
        expiring = accounts.create_token(
            session, "ro-revoke", read_only=True, expires_in=timedelta(seconds=1)
        )
    with index.db.read() as session:
        assert accounts.authenticate_token(session, token).read_only
    row = _token_row(index, token)
    with index.db.write() as session:
        accounts.revoke_token(session, "ro-revoke", row.id)
        session.get_one(Token, _token_row(index, expiring).id).expires = utcnow()
    with index.db.read() as session:
        with pytest.raises(Unauthenticated, match="revoked"):
            accounts.authenticate_token(session, token)
        with pytest.raises(Unauthenticated, match="expired"):
            accounts.authenticate_token(session, expiring)


def test_use_is_noted_at_most_once_per_interval(shared_index: LocalIndex) -> None:
    index = shared_index
    index.create_user("ro-sampled")
    with index.db.write() as session:
        token = accounts.create_token(session, "ro-sampled", read_only=True)
    with index.db.read() as session:
        identity = accounts.authenticate_token(session, token)
    start = utcnow()
    assert token_use.note_use(index.db, identity, start)
    for seconds in (1, 60, 299):
        assert not token_use.note_use(index.db, identity, start + timedelta(seconds=seconds))
    assert _token_row(index, token).last_used == start
    # another process (this one forgetting) writes nothing within the interval either
    token_use.forget()
    assert not token_use.note_use(index.db, identity, start + timedelta(seconds=30))
    later = start + token_use.USE_INTERVAL + timedelta(seconds=31)
    assert token_use.note_use(index.db, identity, later)
    assert _token_row(index, token).last_used == later
    with index.db.read() as session:
        lines = session.scalars(
            select(JournalEntry.action).where(JournalEntry.actor == "ro-sampled")
        ).all()
    assert [line for line in lines if line.startswith("first use")] == [
        f"first use of read-only token {identity.token_id}"
    ]


def test_an_upload_notes_the_tokens_use(
    shared_index: LocalIndex, wheels: Callable[[str, str], Path]
) -> None:
    index = shared_index
    index.create_user("ro-used")
    token = index.create_token("ro-used")
    assert _token_row(index, token).last_used is None
    assert index.upload(token, wheels("ro-used-project", "1.0")).status_code == 200
    assert _token_row(index, token).last_used is not None


def test_exports_carry_the_flag_and_older_exports_import_as_upload_tokens(
    local_index: LocalIndex, tmp_path: Path, portal: object
) -> None:
    index = local_index
    index.create_user("ro-export")
    with index.db.write() as session:
        accounts.create_token(session, "ro-export", read_only=True)
    backup.export_index(index.db, index.ctx.storage, tmp_path / "export")
    manifest = json.loads((tmp_path / "export" / "manifest.json").read_text())
    assert manifest["version"] == backup.FORMAT_VERSION
    assert {"reader_policies", "token_readers"} <= set(manifest["tables"])
    (row,) = [json.loads(line) for line in (tmp_path / "export/catalogue/tokens.jsonl").open()]
    assert row["read_only"] is True

    restored = LocalIndex(tmp_path / "restored", index.portal)
    try:
        backup.import_index(restored.db, restored.ctx.storage, tmp_path / "export")
        with restored.db.read() as session:
            assert session.scalars(select(Token.read_only)).all() == [True]
    finally:
        restored.close()


def _with_a_token(source: Path, target: Path) -> Path:
    """The format-4 export with one of olga's tokens added, as schema 0020 had its columns."""
    shutil.copytree(source, target)
    line = (
        json.dumps(
            {
                "id": "a" * 24,
                "user_id": 1,
                "project_id": None,
                "secret_hash": "b" * 64,
                "description": "from an old export",
                "created": "2026-12-07T16:30:00",
                "expires": None,
                "last_used": None,
                "revoked": False,
                "publisher_identity": None,
            }
        ).encode()
        + b"\n"
    )
    (target / "catalogue" / "tokens.jsonl").write_bytes(line)
    manifest = json.loads((target / "manifest.json").read_text())
    manifest["tables"]["tokens"].update(rows=1, sha256=hashlib.sha256(line).hexdigest())
    (target / "manifest.json").write_text(json.dumps(manifest))
    return target


# An import at an older schema reflects its tables; SQLAlchemy says it skips the expression
# index on users (lower(username)), which the migrations then recreate.
@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection")
def test_a_token_of_an_older_export_imports_as_an_upload_token(
    local_index: LocalIndex, tmp_path: Path
) -> None:
    source = _with_a_token(FORMAT_4_EXPORT, tmp_path / "old")
    backup.import_index(local_index.db, local_index.ctx.storage, source)
    with local_index.db.read() as session:
        assert session.execute(text("SELECT id, read_only, reader_identity FROM tokens")).all() == [
            ("a" * 24, False, None)
        ]
