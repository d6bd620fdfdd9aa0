"""``services/second_factor.py`` on a real in-process index: TOTP windows and replays, recovery
codes, who ``require_2fa`` holds, the admin's reset (the real CLI) and the export round trip."""

from __future__ import annotations

import functools
import os
import shutil
import time
from datetime import datetime, timedelta
from pathlib import Path

import pyotp
import pytest
from anyio.from_thread import BlockingPortal
from sqlalchemy import event

from tests.dists.builders import build_wheel
from tests.index.conftest import LocalBrowser, LocalIndex
from tests.trustyard_cli import run_trustyard
from trustyard.errors import Conflict
from trustyard.index.services import (
    backup,
    collaborators,
    organisations,
    projects,
    second_factor,
    teams,
)
from trustyard.index.services.accounts import find_user, get_user
from trustyard.index.services.journal import history_page
from trustyard.index.services.roles import HOST, ProjectRole
from trustyard.index.services.secret_keys import SecretKeys, SecretsUnreadable

T0 = datetime(2026, 12, 7, 12, 0, 0)  # naive UTC, as the catalogue stores times


def _enrol(index: LocalIndex, name: str) -> pyotp.TOTP:
    index.create_user(name)
    with index.db.write() as session:
        user_id = get_user(session, name).id
        secret = second_factor.begin_totp(session, user_id, _keys(index))
        totp = pyotp.TOTP(secret)
        second_factor.confirm_totp(session, user_id, totp.at(T0), _keys(index), now=T0)
    return totp


def _keys(index: LocalIndex) -> SecretKeys:
    return index.ctx.secret_keys


def _check(index: LocalIndex, name: str, code: str, at: datetime) -> bool:
    with index.db.write() as session:
        return second_factor.check_totp(
            session, get_user(session, name), code, _keys(index), now=at
        )


def test_totp_accepts_one_step_of_drift_and_never_the_same_step_twice(
    local_index: LocalIndex,
) -> None:
    totp = _enrol(local_index, "drift")
    step = timedelta(seconds=30)
    assert not _check(local_index, "drift", totp.at(T0), T0)  # used to confirm: a replay
    assert not _check(local_index, "drift", totp.at(T0 + 3 * step), T0)  # too far ahead
    assert _check(local_index, "drift", totp.at(T0 + step), T0)  # the next step, early
    assert not _check(local_index, "drift", totp.at(T0 + step), T0 + step)  # replayed
    # An older code, even within the window, comes after a newer one was accepted: refused.
    assert not _check(local_index, "drift", totp.at(T0), T0 + step)
    assert _check(local_index, "drift", " ".join(totp.at(T0 + 2 * step)), T0 + 2 * step)
    assert not _check(local_index, "drift", "12345", T0 + 3 * step)
    assert not _check(local_index, "drift", "abcdef", T0 + 3 * step)


def test_an_unconfirmed_key_is_no_factor_and_is_shown_until_confirmed(
    local_index: LocalIndex,
) -> None:
    local_index.create_user("halfway")
    with local_index.db.write() as session:
        user = get_user(session, "halfway")
        keys = _keys(local_index)
        first = second_factor.begin_totp(session, user.id, keys)
        assert second_factor.begin_totp(session, user.id, keys) == first  # a reload keeps it
        assert second_factor.pending_totp_secret(session, user.id, keys) == first
        assert not second_factor.has_second_factor(session, user.id)
        assert not second_factor.check_totp(session, user, pyotp.TOTP(first).now(), keys)
        with pytest.raises(Conflict):
            second_factor.generate_recovery_codes(session, user.id)
        second_factor.confirm_totp(session, user.id, pyotp.TOTP(first).now(), keys)
        assert second_factor.pending_totp_secret(session, user.id, keys) is None
        with pytest.raises(Conflict):
            second_factor.begin_totp(session, user.id, keys)


def test_recovery_codes_are_single_use_and_replaced_together(local_index: LocalIndex) -> None:
    _enrol(local_index, "codes")
    with local_index.db.write() as session:
        user = get_user(session, "codes")
        old = second_factor.generate_recovery_codes(session, user.id)
        assert len(set(old)) == second_factor.RECOVERY_CODES
        assert all(len(c) == 23 and c.count("-") == 3 for c in old)
        assert second_factor.use_recovery_code(session, user, f"  {old[0].upper()} ")
        assert not second_factor.use_recovery_code(session, user, old[0])
        assert not second_factor.use_recovery_code(session, user, "not a code")
        new = second_factor.generate_recovery_codes(session, user.id)
        assert not second_factor.use_recovery_code(session, user, old[1])  # replaced
        assert second_factor.use_recovery_code(session, user, new[1].replace("-", ""))
        assert second_factor.factors_of(session, user.id).recovery_left == 7


def test_require_2fa_holds_admins_owners_and_maintainers_only(
    local_index: LocalIndex, tmp_path: Path
) -> None:
    people = (
        "boss",
        "maker",
        "reader",
        "direct-reader",
        "team-maint",
        "team-reader",
        "org-owner",
    )
    for name in people:
        local_index.create_user(name, admin=name == "boss")
    wheel = build_wheel(tmp_path, "makers-thing", "1.0")
    assert local_index.upload(local_index.create_token("maker"), wheel).status_code == 200
    with local_index.db.write() as session:
        # Roles held directly or through a team: write rights hold the account back,
        # a Reader's do not, whichever way they came.
        collaborators.add_collaborator(
            session, "makers-thing", "direct-reader", ProjectRole.READER, actor=HOST
        )
        organisations.create_organisation(session, "makers", "maker", actor=HOST)
        organisations.add_project(session, "makers", "makers-thing", actor=HOST)
        for name, role in (("team-maint", "maintainer"), ("team-reader", "reader")):
            organisations.invite(session, "makers", name, "member", actor=HOST)
            organisations.accept(session, "makers", invitee=name)
            teams.create_team(session, "makers", name, actor=HOST)
            teams.add_member(session, "makers", name, name, actor=HOST)
            teams.set_team_role(session, "makers", name, "makers-thing", role, actor=HOST)
        # An owner of the organisation owns its projects without a role of their own.
        organisations.invite(session, "makers", "org-owner", "owner", actor=HOST)
        organisations.accept(session, "makers", invitee="org-owner")
    with local_index.db.read() as session:
        ids = {u: get_user(session, u).id for u in people}
        assert second_factor.must_enrol(session, ids["boss"], is_admin=True)
        assert second_factor.must_enrol(session, ids["maker"], is_admin=False)
        assert second_factor.must_enrol(session, ids["team-maint"], is_admin=False)
        assert not second_factor.must_enrol(session, ids["reader"], is_admin=False)
        assert not second_factor.must_enrol(session, ids["direct-reader"], is_admin=False)
        assert not second_factor.must_enrol(session, ids["team-reader"], is_admin=False)
        assert second_factor.must_enrol(session, ids["org-owner"], is_admin=False)


def test_must_enrol_asks_a_fixed_number_of_queries_however_many_projects(
    local_index: LocalIndex, tmp_path: Path
) -> None:
    """``must_enrol`` runs on every signed-in page under ``require_2fa``: its cost does not grow
    with the account's projects (it once walked them, three queries each)."""
    local_index.create_user("reader-of-many")
    local_index.create_user("owner-of-many")
    with local_index.db.write() as session:
        for number in range(12):
            name = f"many-{number}"
            projects.create_project(session, name, owner="owner-of-many")
            collaborators.add_collaborator(
                session, name, "reader-of-many", ProjectRole.READER, actor=HOST
            )
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(local_index.db.engine, "before_cursor_execute", count)
    try:
        with local_index.db.read() as session:
            for name, expected in (("reader-of-many", False), ("owner-of-many", True)):
                statements.clear()
                user_id = get_user(session, name).id
                statements.clear()
                assert second_factor.must_enrol(session, user_id, is_admin=False) is expected
                assert len(statements) == 2, statements
    finally:
        event.remove(local_index.db.engine, "before_cursor_execute", count)


def _cli(index: LocalIndex, *args: str) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRUSTYARD_")}
    result = run_trustyard([*args, "--data", str(index.data)], env)
    return result.returncode, result.stderr


def test_an_admin_resets_a_lost_device_from_the_cli(local_index: LocalIndex) -> None:
    _enrol(local_index, "lost")
    with local_index.db.write() as session:
        second_factor.generate_recovery_codes(session, get_user(session, "lost").id)
    status, said = _cli(local_index, "admin", "user", "reset-2fa", "lost")
    assert status == 0, said
    assert "removed 9 second factors and recovery codes of lost" in said
    with local_index.db.read() as session:
        factors = second_factor.factors_of(session, get_user(session, "lost").id)
        assert not factors.enrolled
        assert factors.recovery_total == 0
        actions = [e.action for e in history_page(session, None, limit=5).entries]
    assert "second factor of lost reset (9 factors and codes removed)" in actions
    status, said = _cli(local_index, "admin", "user", "reset-2fa", "lost")
    assert status != 0
    assert "has no second factor to reset" in said
    status, said = _cli(local_index, "admin", "user", "reset-2fa", "nobody-here")
    assert status != 0


def test_factors_survive_an_export_and_import_on_each_backend(
    local_index: LocalIndex,
    database_url_of_each_backend: str,
    tmp_path: Path,
    portal: BlockingPortal,
) -> None:
    """An export carries TOTP keys sealed, as stored (never in clear), and recovery codes.
    Imported where the source's key file is missing, the import is refused whole; with the
    key file in place (the operator's step) the factors work on either backend, and new rows
    get ids past the imported ones (PostgreSQL's sequences are moved on)."""
    totp = _enrol(local_index, "moved")
    with local_index.db.write() as session:
        codes = second_factor.generate_recovery_codes(session, get_user(session, "moved").id)
    export = tmp_path / "export"
    summary = backup.export_index(local_index.db, local_index.ctx.storage, export)
    assert summary.rows["totp_secrets"] == 1
    assert summary.rows["recovery_codes"] == second_factor.RECOVERY_CODES
    assert summary.rows["webauthn_credentials"] == 0
    for path in (export / "catalogue").iterdir():
        assert totp.secret not in path.read_text(), path.name
    sealed = (export / "catalogue" / "totp_secrets.jsonl").read_text()
    assert '"ty1:' in sealed
    target = LocalIndex(tmp_path / "target", portal, database=database_url_of_each_backend)
    try:
        keys = _keys(target)  # the target's own key file, made when it was opened
        take_in = functools.partial(second_factor.take_in_imported, keys=keys)
        with pytest.raises(SecretsUnreadable, match="put the key file of the index"):
            backup.import_index(target.db, target.ctx.storage, export, after_rows=take_in)
        with target.db.read() as session:
            assert find_user(session, "moved") is None  # nothing imported
        shutil.copyfile(_keys(local_index).path, keys.path)
        backup.import_index(target.db, target.ctx.storage, export, after_rows=take_in)
        # Signing in to the restored index's web pages: the password, then the app's code.
        web = LocalBrowser(target)
        try:
            asked = web.sign_in("moved")
            assert asked.url.path == "/account/two-factor/"
            code = totp.at(time.time() + totp.interval)
            done = web.post("/account/two-factor/", {"method": "totp", "code": code})
            assert done.status_code == 200
            assert "trustyard_session" in web.client.cookies
        finally:
            web.close()
        with target.db.write() as session:
            user = get_user(session, "moved")
            assert second_factor.use_recovery_code(session, user, codes[0])
        # Another account's codes are inserted while the imported ones are still there.
        _enrol(target, "newcomer")
        with target.db.write() as session:
            user = get_user(session, "newcomer")
            fresh = second_factor.generate_recovery_codes(session, user.id)
            assert second_factor.use_recovery_code(session, user, fresh[0])
        with target.db.read() as session:
            moved = second_factor.factors_of(session, get_user(session, "moved").id)
            assert moved.recovery_left == second_factor.RECOVERY_CODES - 1
    finally:
        target.close()
