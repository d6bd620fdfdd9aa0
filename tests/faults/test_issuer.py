"""An OIDC issuer whose discovery and JWKS endpoints hang or go away during Trusted Publishing.

The issuer here is a real HTTP server on loopback serving the development issuer's own
documents (:class:`~trustyard.oidc.devissuer.DevIssuerApp`), with a switch that makes it hang
(answer after 30 s) or stop listening. The index caches an issuer's keys in its catalogue
(warehouse's JWKS cache): a token signed with a cached key keeps working whatever the issuer
does, even after an index restart; a token naming an unknown key is refused with 422
``invalid-token``, at once within the refresh cooldown, and after at most the fetch timeout
when a refresh is due. How long each refusal took is printed (figures in
``docs/reliability.md``); no timing is asserted: a refusal that arrives while the issuer still
hangs shows the index gave up on it rather than waited.
"""

from __future__ import annotations

import http.server
import json
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import IndexServer, start_index
from tests.dists.builders import build_wheel
from tests.index.conftest import Answer, request, upload_file
from trustyard.oidc.devclaims import GitHubRun
from trustyard.oidc.devissuer import JWKS_PATH, DevIssuerApp
from trustyard.oidc.devkeys import load_or_create_signing_key, sign

pytestmark = pytest.mark.slow

RUN = GitHubRun(repository="octo/flaky", workflow="release.yml", ref="refs/tags/v1")
HANG_SECONDS = 30.0  # far longer than the index's fetch timeout (5 s per document)


class FlakyIssuer(http.server.ThreadingHTTPServer):
    """Discovery and JWKS of a development issuer; ``mode`` is ``up`` or ``hang``."""

    daemon_threads = True
    mode = "up"
    app: DevIssuerApp
    url: str
    asked: list[str]  # the path of every request, in arrival order
    hanging: set[int]  # the threads answering a request that still hang


class _Handler(http.server.BaseHTTPRequestHandler):
    server: FlakyIssuer

    def do_GET(self) -> None:
        self.server.asked.append(self.path)
        if self.server.mode == "hang":
            self.server.hanging.add(threading.get_ident())
            time.sleep(HANG_SECONDS)
            self.server.hanging.discard(threading.get_ident())
        if self.path == "/.well-known/openid-configuration":
            body = self.server.app.discovery()
        elif self.path == JWKS_PATH:
            body = self.server.app.jwks()
        else:
            self.send_error(404)
            return
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the test reports what matters."""


@pytest.fixture
def issuer(tmp_path: Path) -> Iterator[FlakyIssuer]:
    server = FlakyIssuer(("127.0.0.1", 0), _Handler)
    server.url = f"http://127.0.0.1:{server.server_address[1]}"
    server.asked = []
    server.hanging = set()
    key_path = tmp_path / "issuer" / "key1.pem"
    server.app = DevIssuerApp(load_or_create_signing_key(key_path), key_path, server.url)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


# Set explicitly (the index's own would otherwise be generated), so tokens can be signed first.
AUDIENCE = "trustyard-faults"


def id_token(issuer_url: str, key_path: Path) -> str:
    now = int(time.time())
    claims = {
        **RUN.claims(),
        "iss": issuer_url,
        "aud": AUDIENCE,
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        "jti": str(uuid.uuid4()),
    }
    return sign(claims, key_path)


def mint(server: IndexServer, token: str) -> tuple[Answer, float]:
    began = time.monotonic()
    body = json.dumps({"token": token}).encode()
    answer = request(
        server, "POST", "/_/oidc/mint-token", body, {"Content-Type": "application/json"}
    )
    return answer, time.monotonic() - began


def refusal_code(answer: Answer) -> str:
    assert answer.status == 422, (answer.status, answer.text)
    code: str = json.loads(answer.body)["errors"][0]["code"]
    return code


def cooldown_over(data: Path) -> None:
    """Make the cached keys look a minute old (as if time passed): a refresh is due."""
    engine = create_engine(f"sqlite:///{data / 'trustyard.sqlite3'}")
    try:
        with engine.begin() as conn:
            past = datetime.now(UTC).replace(tzinfo=None) - timedelta(hours=1)
            conn.execute(text("UPDATE oidc_key_sets SET fetched = :t"), {"t": past})
    finally:
        engine.dispose()


def publish_through(server: IndexServer, issuer: FlakyIssuer, tmp: Path) -> None:
    """A project whose GitHub publisher names ``issuer``, and one mint that caches its keys."""
    server.create_user("owner")
    owner = server.create_token("owner")
    wheel = build_wheel(tmp / "w", "flaky-tp", "0.1")
    assert upload_file(server, owner, wheel, "flaky-tp", "0.1").status == 200
    server.trust_issuer(issuer.url)
    server.cli(
        "publisher",
        "add",
        "flaky-tp",
        "github",
        "--repository",
        RUN.repository,
        "--workflow",
        RUN.workflow,
        "--issuer",
        issuer.url,
    )
    first, _ = mint(server, id_token(issuer.url, issuer.app.key_path))
    assert first.status == 200, first.text  # the keys are now cached in the catalogue


def test_cached_keys_survive_a_hanging_or_dead_issuer_and_unknown_keys_fail_fast(
    issuer: FlakyIssuer, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    server = start_index(data, "--audience", AUDIENCE)
    known = issuer.app.key_path
    unknown = tmp_path / "issuer" / "key2.pem"
    load_or_create_signing_key(unknown)
    timings: dict[str, float] = {}
    try:
        publish_through(server, issuer, tmp_path)

        issuer.mode = "hang"
        answer, timings["cached key, issuer hanging"] = mint(server, id_token(issuer.url, known))
        assert answer.status == 200, answer.text
        answer, took = mint(server, id_token(issuer.url, unknown))
        timings["unknown key, issuer hanging, within cooldown"] = took
        assert refusal_code(answer) == "invalid-token"
        cooldown_over(data)
        answer, took = mint(server, id_token(issuer.url, unknown))
        timings["unknown key, issuer hanging, refresh due"] = took
        assert refusal_code(answer) == "invalid-token"
        # The refusal came while the issuer still hung: the index gave up on it (its fetch
        # timeout), it did not wait for the answer. Ordering, not a timing.
        assert issuer.hanging, "the refusal waited for the hanging issuer to answer"
        answer, _ = mint(server, id_token(issuer.url, known))
        assert answer.status == 200, "a failed refresh must keep the cached keys"

        issuer.shutdown()  # the issuer goes away: its port refuses connections
        issuer.server_close()
        cooldown_over(data)
        answer, took = mint(server, id_token(issuer.url, unknown))
        timings["unknown key, issuer down, refresh due"] = took
        assert refusal_code(answer) == "invalid-token"

        # A restarted index has only the catalogue's copy of the keys: still enough.
        server.stop()
        server = start_index(data, "--audience", AUDIENCE)
        answer, timings["cached key, issuer down, index restarted"] = mint(
            server, id_token(issuer.url, known)
        )
        assert answer.status == 200, answer.text
        # A minted token still uploads.
        token = json.loads(answer.body)["token"]
        wheel = build_wheel(tmp_path / "w2", "flaky-tp", "0.2")
        assert upload_file(server, token, wheel, "flaky-tp", "0.2").status == 200
    finally:
        server.stop()
    print("mint timings: " + ", ".join(f"{k}: {v:.2f} s" for k, v in timings.items()))


def test_concurrent_refreshes_of_a_hanging_issuer_share_one_fetch(
    issuer: FlakyIssuer, tmp_path: Path
) -> None:
    """Six mints naming an unknown key at once, while the issuer hangs and a refresh is due:
    one request fetches and the others wait for its outcome, so the issuer is asked once (each
    asking on its own, every request would wait out its own fetch timeout)."""
    data = tmp_path / "data"
    server = start_index(data, "--audience", AUDIENCE)
    unknown = tmp_path / "issuer" / "key2.pem"
    load_or_create_signing_key(unknown)
    try:
        publish_through(server, issuer, tmp_path)
        tokens = [id_token(issuer.url, unknown) for _ in range(6)]
        issuer.mode = "hang"
        issuer.asked.clear()
        cooldown_over(data)
        with ThreadPoolExecutor(len(tokens)) as pool:
            answers = [answer for answer, _ in pool.map(lambda t: mint(server, t), tokens)]
        assert [refusal_code(answer) for answer in answers] == ["invalid-token"] * len(tokens)
        assert issuer.asked == ["/.well-known/openid-configuration"], issuer.asked
    finally:
        server.stop()
