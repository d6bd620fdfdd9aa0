"""Tokens and ownership through the admin CLI and real uploads."""

from __future__ import annotations

from pathlib import Path

import pytest
from argon2 import PasswordHasher

from tests.conftest import IndexServer, start_index
from tests.dists.builders import build_wheel
from tests.index.conftest import post_upload, request, upload_fields, upload_file
from tests.index.web.conftest import HttpSession
from trustyard.index.db.engine import Database
from trustyard.index.services import accounts, sessions
from trustyard.index.services.ratelimits import RateLimited
from trustyard.settings import Settings, parse_rate


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


# -- sign-in: the same work for every name; failures held per (account, address) ----------------

PASSWORD = "correct horse battery"  # IndexServer.create_user's default
ATTACKER = "198.51.100.7"
OWNER = "192.0.2.10"


@pytest.fixture
def db(migrated_db: Database) -> Database:
    """The catalogue, on each backend."""
    return migrated_db


def test_unknown_and_disabled_names_cost_one_argon2_verification_too(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No timing oracle: every refused sign-in runs argon2 once on a real hash of the same
    parameters (counted by a spy on argon2-cffi's verifier, not timed)."""
    verified: list[str] = []
    original = PasswordHasher.verify

    def counting(self: PasswordHasher, hash: str | bytes, password: str | bytes) -> bool:
        verified.append(hash if isinstance(hash, str) else hash.decode())
        return original(self, hash, password)

    with db.write() as session:
        real_hash = accounts.create_user(session, "present", PASSWORD).password_hash
        accounts.create_user(session, "switched-off", PASSWORD)
        accounts.set_disabled(session, "switched-off", disabled=True, actor=None)
    monkeypatch.setattr(PasswordHasher, "verify", counting)
    for name, password in (
        ("present", "not the password"),
        ("absent", "not the password"),
        ("switched-off", PASSWORD),
    ):
        verified.clear()
        with db.write() as session:
            assert sessions.sign_in(session, name, password, OWNER) is None, name
        assert len(verified) == 1, name
        # A well-formed argon2 hash with the real hashes' cost parameters (m, t, p).
        assert verified[0].split("$")[1:4] == real_hash.split("$")[1:4], name
    verified.clear()
    with db.write() as session:
        assert sessions.sign_in(session, "present", PASSWORD, OWNER) is not None
    assert len(verified) == 1


def _attempt(
    db: Database, settings: Settings, user: str, password: str, address: str, at: int
) -> tuple[str, sessions.SignedIn] | sessions.SecondStep | None:
    return sessions.attempt_sign_in(db, settings, user, password, address, now=float(at))


def test_failures_hold_the_attackers_address_and_a_slower_limit_the_account(db: Database) -> None:
    settings = Settings(
        sign_in_rate_per_account_address="2/15m",
        sign_in_rate_per_account="5/1h",
        sign_in_rate_per_address="50/1h",
    )
    with db.write() as session:
        accounts.create_user(session, "owner", PASSWORD)
    t0 = 1_800_000_000 - 1_800_000_000 % 3600  # the start of an hour (and of its quarters)
    assert _attempt(db, settings, "owner", "guess-1", ATTACKER, t0) is None
    assert _attempt(db, settings, "Owner", "guess-2", ATTACKER, t0 + 1) is None
    # The attacker's address is held, even with the right password...
    with pytest.raises(RateLimited, match="failed sign-in attempts") as held:
        _attempt(db, settings, "owner", PASSWORD, ATTACKER, t0 + 2)
    assert 1 <= held.value.retry_after <= 900
    # ...while the owner, from their own address, still signs in.
    assert _attempt(db, settings, "owner", PASSWORD, OWNER, t0 + 3) is not None
    # Refusals while held do not count towards the account's limit: 2 failures so far.
    for second in range(10):
        with pytest.raises(RateLimited):
            _attempt(db, settings, "owner", "guess", ATTACKER, t0 + 4 + second)
    # The next quarter: two more guesses from the same address, one more in the one after.
    assert _attempt(db, settings, "owner", "guess-3", ATTACKER, t0 + 900) is None
    assert _attempt(db, settings, "owner", "guess-4", ATTACKER, t0 + 901) is None
    assert _attempt(db, settings, "owner", "guess-5", ATTACKER, t0 + 1800) is None
    # Five failures in the hour: the account's own limit holds every address now.
    with pytest.raises(RateLimited):
        _attempt(db, settings, "owner", "guess-6", ATTACKER, t0 + 1801)
    with pytest.raises(RateLimited) as account_held:
        _attempt(db, settings, "owner", PASSWORD, OWNER, t0 + 1802)
    assert account_held.value.retry_after == 3600 - 1802
    # The hour ends: the owner is back.
    assert _attempt(db, settings, "owner", PASSWORD, OWNER, t0 + 3600) is not None


def test_default_sign_in_limits_let_no_single_address_hold_an_account() -> None:
    """Under the defaults, one address's failures (held per account and address) can never
    reach the account's own limit; only many addresses together can."""
    settings = Settings()
    pair = parse_rate(settings.sign_in_rate_per_account_address)
    account = parse_rate(settings.sign_in_rate_per_account)
    assert pair is not None
    assert account is not None
    assert account.seconds % pair.seconds == 0
    assert pair.count * (account.seconds // pair.seconds) < account.count


@pytest.mark.slow
def test_sign_in_through_the_web_holds_the_address_not_the_owner(tmp_path: Path) -> None:
    """A real index behind a trusted proxy (X-Forwarded-For names each client)."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "trustyard.toml").write_text(
        'forwarded-allow-ips = "127.0.0.1"\n'
        'sign-in-rate-per-account-address = "2/1h"\n'
        'sign-in-rate-per-account = "5/1h"\n'
    )
    index = start_index(data)
    try:
        index.create_user("victim")

        def sign_in(password: str, address: str) -> int:
            http = HttpSession(index)
            assert http.get("/account/login/").status == 200
            forwarded = {"X-Forwarded-For": address}
            fields = {"username": "victim", "password": password}
            return http.post("/account/login/", fields, headers=forwarded).status

        assert [sign_in("wrong", "203.0.113.1") for _ in range(3)] == [403, 403, 429]
        assert sign_in(PASSWORD, "203.0.113.1") == 429
        assert sign_in(PASSWORD, "203.0.113.200") == 303  # the owner is not locked out
        # Other addresses add up to the account's limit: then everybody is held.
        assert [sign_in("wrong", "203.0.113.2") for _ in range(2)] == [403, 403]
        assert sign_in("wrong", "203.0.113.3") == 403
        assert sign_in("wrong", "203.0.113.4") == 429
        assert sign_in(PASSWORD, "203.0.113.200") == 429
    finally:
        index.stop()


# -- the journal keeps no typed input of strangers; names are unique whatever their case --------


def test_refused_sign_ins_journal_no_typed_input(index: IndexServer) -> None:
    index.create_user("typist")
    typed = ["Tr0ub4dor&3-typed-as-a-name", "typist"]
    for username in typed:
        http = HttpSession(index)
        http.get("/account/login/")
        answer = http.post("/account/login/", {"username": username, "password": "wrong pw!"})
        assert answer.status == 403
    rows = index.query("SELECT action, actor FROM journal ORDER BY id")
    journal = repr(rows)
    assert "Tr0ub4dor" not in journal
    refusals = [row for row in rows if "refused sign-in" in str(row[0])]
    assert len(refusals) >= 2
    for action, actor in refusals[-2:]:
        # The same fixed entry whether the account exists or not: no name, typed or real.
        assert actor is None
        assert action == "refused sign-in from 127.0.0.1: wrong username or password"


def test_user_names_are_unique_whatever_their_case(index: IndexServer) -> None:
    index.create_user("Casey")
    for variant in ("casey", "CASEY", "cAsEy"):
        result = index.cli(
            "admin", "user", "create", variant, "--password-stdin", stdin="pw 12345\n", check=False
        )
        assert result.returncode == 1, variant
        assert "already exists" in result.stderr
        assert "Casey" in result.stderr
    assert index.query("SELECT username FROM users WHERE lower(username) = 'casey'") == [("Casey",)]
    # PyPI signs in with any case of the name; the session is the account's own spelling.
    http = HttpSession(index)
    http.get("/account/login/")
    answer = http.post("/account/login/", {"username": "CASEY", "password": PASSWORD})
    assert answer.status == 303, answer.text
    assert "Casey" in http.get("/manage/account/").text
