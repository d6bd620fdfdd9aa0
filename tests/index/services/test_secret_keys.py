"""TOTP keys sealed at rest (issue 20, ``services/secret_keys.py``) on a real in-process index:
the key file outside the database, what a copy of the database shows, keys stored in clear
before sealing existed, values moved between rows, missing and foreign key files, rotation by
the real CLI."""

from __future__ import annotations

import stat
from datetime import datetime, timedelta
from pathlib import Path

import pyotp
import pytest
from anyio.from_thread import BlockingPortal
from sqlalchemy import update

from tests.index.conftest import LocalIndex
from trustyard.cli.main import main
from trustyard.errors import ConfigurationError
from trustyard.index.context import open_index
from trustyard.index.db.models import TotpSecret
from trustyard.index.services import second_factor
from trustyard.index.services.accounts import get_user
from trustyard.index.services.secret_keys import (
    Keyring,
    SecretsUnreadable,
    new_key,
    sealed_key_id,
)
from trustyard.settings import Settings

T0 = datetime(2026, 12, 7, 12, 0, 0)
STEP = timedelta(seconds=30)


def _enrol(index: LocalIndex, name: str) -> pyotp.TOTP:
    index.create_user(name)
    keys = index.ctx.secret_keys
    with index.db.write() as session:
        user_id = get_user(session, name).id
        totp = pyotp.TOTP(second_factor.begin_totp(session, user_id, keys))
        second_factor.confirm_totp(session, user_id, totp.at(T0), keys, now=T0)
    return totp


def _check(index: LocalIndex, name: str, code: str, at: datetime) -> bool:
    with index.db.write() as session:
        user = get_user(session, name)
        return second_factor.check_totp(session, user, code, index.ctx.secret_keys, now=at)


def _stored(index: LocalIndex, name: str) -> str:
    with index.db.read() as session:
        return session.get_one(TotpSecret, get_user(session, name).id).secret


def test_the_database_holds_no_totp_key_in_clear(local_index: LocalIndex) -> None:
    totp = _enrol(local_index, "sealed")
    path = local_index.ctx.secret_keys.path
    assert path == local_index.data / "secrets.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    stored = _stored(local_index, "sealed")
    assert stored.startswith("ty1:")
    assert totp.secret not in stored
    database = (local_index.data / "trustyard.sqlite3").read_bytes()
    assert totp.secret.encode() not in database
    assert _check(local_index, "sealed", totp.at(T0 + STEP), T0 + STEP)


def test_a_sealed_key_moved_to_another_account_does_not_open(local_index: LocalIndex) -> None:
    _enrol(local_index, "victim")
    _enrol(local_index, "mallory")
    with local_index.db.write() as session:
        victim = get_user(session, "victim").id
        mallory = get_user(session, "mallory").id
        value = session.get_one(TotpSecret, victim).secret
        session.execute(
            update(TotpSecret).where(TotpSecret.user_id == mallory).values(secret=value)
        )
    with pytest.raises(SecretsUnreadable, match="moved from another row"):
        _check(local_index, "mallory", "123456", T0 + STEP)


def test_a_key_stored_in_clear_works_and_is_sealed(local_index: LocalIndex) -> None:
    """A key stored before 0028 (or imported from such an index) signs in as it is; the
    start-up step seals it, once."""
    totp = _enrol(local_index, "older")
    with local_index.db.write() as session:
        user_id = get_user(session, "older").id
        session.execute(
            update(TotpSecret).where(TotpSecret.user_id == user_id).values(secret=totp.secret)
        )
    assert _check(local_index, "older", totp.at(T0 + STEP), T0 + STEP)
    keys = local_index.ctx.secret_keys
    assert second_factor.seal_totp_secrets(local_index.db, keys) == 1
    assert second_factor.seal_totp_secrets(local_index.db, keys) == 0
    assert sealed_key_id(_stored(local_index, "older")) == keys.ready().current
    assert _check(local_index, "older", totp.at(T0 + 2 * STEP), T0 + 2 * STEP)


def test_an_index_refuses_to_open_without_its_key_file(
    tmp_path: Path, portal: BlockingPortal
) -> None:
    index = LocalIndex(tmp_path / "data", portal)
    try:
        _enrol(index, "kept")
        path = index.ctx.secret_keys.path
        own = path.read_text()
    finally:
        index.close()
    settings = Settings(data_dir=tmp_path / "data")
    path.unlink()
    with pytest.raises(ConfigurationError, match="is missing"):
        open_index(settings)
    assert not path.exists()  # no new key was made in its place
    path.write_text(Keyring((new_key(),)).text())
    path.chmod(0o600)
    with pytest.raises(ConfigurationError, match="lacks key"):
        open_index(settings)
    path.write_text(own)
    path.chmod(0o640)
    with pytest.raises(ConfigurationError, match="chmod 600"):
        open_index(settings)
    path.chmod(0o600)
    open_index(settings).db.dispose()


def test_a_second_instance_with_a_key_of_its_own_is_refused(
    tmp_path: Path, portal: BlockingPortal
) -> None:
    """Two instances of one index (one database) must share the key file: one with a file of
    its own is refused at start once a key is sealed, rather than sealing with its own."""
    first = LocalIndex(tmp_path / "first", portal)
    try:
        _enrol(first, "both-instances")
        database = first.settings.database_url
        second = Settings(data_dir=tmp_path / "second", database=database)
        with pytest.raises(ConfigurationError, match="is missing"):
            open_index(second)  # no key file: it does not make one
        own = second.secrets_key_path
        own.write_text(Keyring((new_key(),)).text())
        own.chmod(0o600)
        with pytest.raises(ConfigurationError, match="another instance made a key file"):
            open_index(second)
        with_first_key = Settings(
            data_dir=tmp_path / "second",
            database=database,
            secrets_key_file=first.ctx.secret_keys.path,
        )
        open_index(with_first_key).db.dispose()
    finally:
        first.close()


def test_rotate_key_reseals_every_key_and_keeps_the_old_one(
    local_index: LocalIndex, capsys: pytest.CaptureFixture[str]
) -> None:
    totp = _enrol(local_index, "rotated")
    keys = local_index.ctx.secret_keys
    old = keys.ready().current
    assert main(["admin", "secrets", "rotate-key", "--data", str(local_index.data)]) == 0
    said = capsys.readouterr().err
    lines = keys.path.read_text().splitlines()
    assert len(lines) == 2
    current = sealed_key_id(_stored(local_index, "rotated"))
    assert current is not None
    assert current != old
    assert f"new key {current}" in said
    assert "1 TOTP key(s) sealed again" in said
    assert stat.S_IMODE(keys.path.stat().st_mode) == 0o600
    # this running process reads the file again when it meets the new key's id
    assert _check(local_index, "rotated", totp.at(T0 + STEP), T0 + STEP)
