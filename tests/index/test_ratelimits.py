"""Rate limits on token minting and on sign-in, counted in the database.

The counters are checked on SQLite and PostgreSQL directly (parallel writers never share the
last slot), then through real index processes: mint per address and per publisher, sign-in per
account and per address, and two instances on one PostgreSQL sharing every count.

Through a real index, the per-publisher mint limit runs on both backends (the ``backend``
fixture): its count is keyed by the publisher a verified token matched and sits beside the
token's ``jti`` and the refusal's journal entry, the one path no other test here drives through
PostgreSQL. The per-address and sign-in limits use the same counters (tested on both databases
above) and reach PostgreSQL through two real instances in
``test_two_instances_on_one_database_share_the_counts``, so running them twice more would add
only time.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import IndexServer, start_index
from tests.dists.builders import build_wheel
from tests.index.conftest import Answer, request, upload_file
from tests.index.web.conftest import HttpSession
from tests.oidc.conftest import DevIssuer, start_dev_issuer
from tests.services import EMBEDDED, Backend, PostgresServer
from trustyard.index.db.engine import Database
from trustyard.index.services import ratelimits
from trustyard.index.services.ratelimits import RateLimited
from trustyard.oidc.devclaims import GitHubRun
from trustyard.oidc.devkeys import sign
from trustyard.settings import Rate, Settings, parse_rate

PASSWORD = "correct horse battery"  # IndexServer.create_user's default


# -- the counters, on both databases ---------------------------------------------------------


@pytest.fixture
def db(migrated_db: Database) -> Database:
    """The catalogue, on each backend."""
    return migrated_db


def test_a_window_allows_its_count_then_refuses_with_retry_after(db: Database) -> None:
    rules: ratelimits.Rules = [("test", Rate(3, 3600), "k1")]
    for _ in range(3):
        ratelimits.hit(db, rules, "test events")
    with pytest.raises(RateLimited, match="too many test events; try again in") as refused:
        ratelimits.hit(db, rules, "test events")
    assert 1 <= refused.value.retry_after <= 3600
    assert refused.value.status == 429
    ratelimits.hit(db, [("test", Rate(3, 3600), "k2")], "test events")  # other keys unaffected
    ratelimits.hit(db, [("other-rule", Rate(3, 3600), "k1")], "test events")
    ratelimits.hit(db, [("test", None, "k1")], "test events")  # a limit that is off


def test_refund_takes_back_one_event_only(db: Database) -> None:
    rules: ratelimits.Rules = [("refund", Rate(2, 3600), "k")]
    ratelimits.hit(db, rules, "x")
    counted = ratelimits.hit(db, rules, "x")
    ratelimits.refund(db, rules, counted)
    ratelimits.hit(db, rules, "x")  # the refunded slot
    with pytest.raises(RateLimited):
        ratelimits.hit(db, rules, "x")


def test_parallel_hits_never_share_the_last_slot(db: Database) -> None:
    rules: ratelimits.Rules = [("parallel", Rate(5, 86400), "k")]

    def attempt(_: int) -> bool:
        try:
            ratelimits.hit(db, rules, "x")
        except RateLimited:
            return False
        return True

    with ThreadPoolExecutor(8) as pool:
        allowed = sum(pool.map(attempt, range(24)))
    assert allowed == 5


def test_hostile_keys_are_stored_bounded(db: Database) -> None:
    for value in ("x" * 10_000, "\x00\n\udcff", "ünïcödé"):
        rules: ratelimits.Rules = [("hostile", Rate(1, 60), value)]
        ratelimits.hit(db, rules, "x")
        with pytest.raises(RateLimited):
            ratelimits.hit(db, rules, "x")
    assert len(ratelimits.counter_key("r", "x" * 10_000)) < 300


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("60/1m", Rate(60, 60)),
        ("5/15m", Rate(5, 900)),
        (" 1000/1d ", Rate(1000, 86400)),
        ("3/30s", Rate(3, 30)),
        ("2/1h", Rate(2, 3600)),
        ("off", None),
    ],
)
def test_parse_rate(text: str, expected: Rate | None) -> None:
    assert parse_rate(text) == expected


@pytest.mark.parametrize("text", ["", "60", "60/", "/1m", "0/1m", "5/0m", "5/1w", "-1/1m", "x/1m"])
def test_parse_rate_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="rate"):
        parse_rate(text)


def test_defaults_never_bother_real_ci() -> None:
    """Tens of exchanges a minute per publisher and per address, as PyPI has no limit at all."""
    settings = Settings()
    for name in ("mint_rate_per_address", "mint_rate_per_publisher"):
        rate = parse_rate(getattr(settings, name))
        assert rate is not None
        assert rate.count * 60 / rate.seconds >= 30, name


# -- through a real index ----------------------------------------------------------------------


def _index(tmp: Path, toml: str, *extra: str, backend: Backend = EMBEDDED) -> IndexServer:
    data = tmp / "data"
    data.mkdir(parents=True)
    (data / "trustyard.toml").write_text(toml)
    return start_index(data, *extra, backend=backend)


def _mint(index: IndexServer, token: str, path: str = "/_/oidc/mint-token") -> Answer:
    return request(index, "POST", path, json.dumps({"token": token}).encode())


def _assert_rate_limited(answer: Answer, window: int) -> None:
    assert answer.status == 429, answer.text
    assert 1 <= int(answer.headers["retry-after"]) <= window
    document = json.loads(answer.body)
    assert document["message"] == "Token request failed"
    (error,) = document["errors"]
    assert error["code"] == "rate-limited"
    assert error["description"].startswith("too many ")


@pytest.mark.slow
def test_mint_is_limited_per_client_address(tmp_path: Path) -> None:
    index = _index(tmp_path, 'mint-rate-per-address = "3/1h"\n')
    try:
        for path in ("/_/oidc/mint-token", "/_/oidc/github/mint-token", "/_/oidc/mint-token"):
            assert _mint(index, "not.a.jwt", path).status == 422
        for path in ("/_/oidc/mint-token", "/_/oidc/github/mint-token"):
            refused = _mint(index, "not.a.jwt", path)
            _assert_rate_limited(refused, 3600)
            assert "from this address" in refused.text
        # Other endpoints are not counted.
        assert request(index, "GET", "/_/oidc/audience").status == 200
    finally:
        index.stop()


@dataclass
class Publishing:
    index: IndexServer
    issuer: DevIssuer
    audience: str


@pytest.fixture
def publishing(tmp_path: Path, backend: Backend) -> Iterator[Publishing]:
    issuer = start_dev_issuer(tmp_path / "issuer")
    index = _index(tmp_path, 'mint-rate-per-publisher = "2/1h"\n', backend=backend)
    try:
        index.trust_issuer(issuer.url)
        index.create_user("alice")
        token = index.create_token("alice")
        for project, repository in (("rl-one", "octo/one"), ("rl-two", "octo/two")):
            wheel = build_wheel(tmp_path / project, project, "0.1")
            assert upload_file(index, token, wheel, project, "0.1").status == 200
            index.cli(
                "publisher",
                "add",
                project,
                "github",
                "--repository",
                repository,
                "--workflow",
                "release.yml",
                "--issuer",
                issuer.url,
            )
        yield Publishing(index, issuer, index.audience)
    finally:
        index.stop()
        issuer.stop()


def _ci_token(world: Publishing, repository: str, **overrides: Any) -> str:
    now = int(time.time())
    run = GitHubRun(repository=repository, workflow="release.yml", ref="refs/tags/v1.0.0")
    claims: dict[str, Any] = {
        **run.claims(),
        "iss": world.issuer.url,
        "aud": world.audience,
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        "jti": str(uuid.uuid4()),
        **overrides,
    }
    return sign(claims, world.issuer.key_path)


def test_mint_is_limited_per_publisher(publishing: Publishing) -> None:
    index = publishing.index
    for _ in range(2):
        assert _mint(index, _ci_token(publishing, "octo/one")).status == 200
    held = _ci_token(publishing, "octo/one")
    refused = _mint(index, held)
    _assert_rate_limited(refused, 3600)
    assert "by this publisher" in refused.text
    # Another publisher is not held back by the first one's count...
    assert _mint(index, _ci_token(publishing, "octo/two")).status == 200
    # ...and the refusal is in the journal, with the identity it refused.
    actions = [str(row[0]) for row in index.query("SELECT action FROM journal")]
    refusals = [a for a in actions if "refused: rate-limited" in a]
    assert len(refusals) == 1
    assert "octo/one" in refusals[0]
    # Tokens that match no publisher are counted per issuer and subject, not per publisher.
    for _ in range(2):
        assert _mint(index, _ci_token(publishing, "octo/none")).status == 422
    _assert_rate_limited(_mint(index, _ci_token(publishing, "octo/none")), 3600)


def _sign_in(index: IndexServer, username: str, password: str) -> Answer:
    http = HttpSession(index)
    assert http.get("/account/login/").status == 200
    return http.post("/account/login/", {"username": username, "password": password})


@pytest.mark.slow
def test_sign_in_counts_failures_per_account_and_per_address(tmp_path: Path) -> None:
    index = _index(
        tmp_path, 'sign-in-rate-per-account = "3/1h"\nsign-in-rate-per-address = "7/1h"\n'
    )
    try:
        for name in ("alice", "bob", "carol"):
            index.create_user(name)
        # A success neither counts nor wipes earlier failures: alice has 2 + 1 = 3 failures.
        assert _sign_in(index, "alice", "wrong").status == 403
        assert _sign_in(index, "Alice", "wrong").status == 403  # any spelling of the name
        assert _sign_in(index, "alice", PASSWORD).status == 303
        assert _sign_in(index, "alice", PASSWORD).status == 303
        assert _sign_in(index, "alice", "wrong").status == 403
        refused = _sign_in(index, "alice", PASSWORD)  # right, but the account is held
        assert refused.status == 429
        assert 1 <= int(refused.headers["retry-after"]) <= 3600
        assert "too many failed sign-in attempts" in refused.text
        assert "trustyard_session" not in "".join(refused.raw_cookies)
        # Bob is not held by Alice's failures; the address has 3 failures so far (an attempt
        # refused by a limit counts under none).
        assert _sign_in(index, "bob", PASSWORD).status == 303
        assert _sign_in(index, "bob", "wrong").status == 403
        assert _sign_in(index, "carol", "wrong").status == 403
        assert _sign_in(index, "nobody", "wrong").status == 403
        assert _sign_in(index, "dave", "wrong").status == 403  # 7 from this address
        assert _sign_in(index, "carol", PASSWORD).status == 429  # the address is held now
    finally:
        index.stop()


def test_two_instances_on_one_database_share_the_counts(
    tmp_path: Path, postgres_server: PostgresServer
) -> None:
    database = postgres_server.new_database()
    toml = (
        f"database = {json.dumps(database)}\n"
        'mint-rate-per-address = "4/1h"\nsign-in-rate-per-account = "2/1h"\n'
    )
    a = _index(tmp_path / "a", toml)
    b = _index(tmp_path / "b", toml)
    try:
        a.create_user("dora")
        for index in (a, b, a, b):
            assert _mint(index, "not.a.jwt").status == 422
        _assert_rate_limited(_mint(a, "not.a.jwt"), 3600)
        _assert_rate_limited(_mint(b, "not.a.jwt"), 3600)
        assert _sign_in(a, "dora", "wrong").status == 403
        assert _sign_in(b, "dora", "wrong").status == 403
        assert _sign_in(a, "dora", PASSWORD).status == 429
        assert _sign_in(b, "dora", PASSWORD).status == 429
    finally:
        a.stop()
        b.stop()


@pytest.mark.slow
def test_per_address_limits_see_clients_behind_a_trusted_proxy_only(tmp_path: Path) -> None:
    """X-Forwarded-For names the client only when the peer is a configured proxy."""
    trusting = _index(
        tmp_path / "trusting",
        'mint-rate-per-address = "2/1h"\nforwarded-allow-ips = "127.0.0.1"\n',
    )
    naive = _index(tmp_path / "naive", 'mint-rate-per-address = "2/1h"\n')
    try:
        for index, held_third in ((trusting, False), (naive, True)):
            for client in ("203.0.113.1", "203.0.113.1", "203.0.113.2"):
                answer = request(
                    index,
                    "POST",
                    "/_/oidc/mint-token",
                    b'{"token": "x"}',
                    {"X-Forwarded-For": client},
                )
                expected = 429 if client.endswith(".2") and held_third else 422
                assert answer.status == expected, (index.url, client, answer.text)
            spoofed = request(
                index,
                "POST",
                "/_/oidc/mint-token",
                b'{"token": "x"}',
                {"X-Forwarded-For": "203.0.113.1"},
            )
            assert spoofed.status == 429
    finally:
        trusting.stop()
        naive.stop()
