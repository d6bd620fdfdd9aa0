"""The allow-list of OIDC issuers (issue 14, finding 5) and each index's own audience (finding 4),
through ``trustyard admin issuer``, the publisher commands, the web pages and the mint endpoint,
on both backends.

The attacker's "issuer" is a real HTTP server on loopback that records every request: a refusal
is shown to have sent it nothing.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import IndexServer, Snapshot, start_index
from tests.index.conftest import Answer, request
from tests.index.web.conftest import PASSWORD, signed_in
from tests.oidc.conftest import DevIssuer, dev_issuer
from tests.services import Backend
from trustyard.index.services.issuers import PUBLIC_ISSUERS
from trustyard.oidc.devclaims import GitHubRun
from trustyard.oidc.devkeys import generate_key_file, sign

__all__ = ["dev_issuer"]

RUN = GitHubRun(repository="octo/issuers", workflow="release.yml", ref="refs/tags/v1.0.0")
GITHUB = ["github", "--repository", RUN.repository, "--workflow", RUN.workflow]
# What a refused mint may change: its journal entry and the per-address rate counter.
MINT_BOOKKEEPING = ("journal", "rate_limit_counters")


@dataclass
class Recorder:
    """A loopback HTTP server that answers 404 to everything and remembers what it was asked."""

    url: str = ""
    asked: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def recorder() -> Iterator[Recorder]:
    found = Recorder()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            found.asked.append(self.path)
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    found.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield found
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("attacker-key") / "rsa.pem"
    generate_key_file(path, "RS256")
    return path


@pytest.fixture(scope="module")
def people(index: IndexServer) -> None:
    """alice (a user) and root (an admin) on the module's index."""
    index.create_user("alice", PASSWORD)
    index.cli(
        "admin", "user", "create", "root", "--password-stdin", "--admin", stdin=PASSWORD + "\n"
    )


def _token(issuer: str, audience: str, key: Path) -> str:
    now = int(time.time())
    claims = {
        **RUN.claims(),
        "iss": issuer,
        "aud": audience,
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        "jti": str(uuid.uuid4()),
    }
    return sign(claims, key)


def _mint(index: IndexServer, token: str) -> Answer:
    body = json.dumps({"token": token}).encode()
    return request(index, "POST", "/_/oidc/mint-token", body, {"Content-Type": "application/json"})


def _refusal(answer: Answer) -> tuple[int, str, str]:
    error = json.loads(answer.body)["errors"][0]
    return answer.status, error["code"], error["description"]


def _without(snapshot: Snapshot, *tables: str) -> dict[str, list[tuple[object, ...]]]:
    return {name: rows for name, rows in snapshot.tables.items() if name not in tables}


def _allowed(index: IndexServer) -> dict[str, str]:
    lines = index.cli("admin", "issuer", "list").stdout.splitlines()
    return {line.split("\t")[0]: line.split("\t")[1] for line in lines}


def test_a_new_index_trusts_the_public_issuers_only(index: IndexServer) -> None:
    assert _allowed(index) == dict.fromkeys(PUBLIC_ISSUERS, "public-only")
    rows = json.loads(index.cli("admin", "issuer", "list", "--json").stdout)
    assert {row["url"] for row in rows} == set(PUBLIC_ISSUERS)


def test_publishers_naming_an_unlisted_issuer_are_refused_with_nothing_changed(
    index: IndexServer, people: None
) -> None:
    index.cli("admin", "project", "create", "iss-cli", "--owner", "alice")
    before = index.snapshot()
    for command in (
        ["publisher", "add", "iss-cli", *GITHUB, "--issuer", "https://ci.example.com"],
        ["publisher", "add", "iss-cli", "oidc", "--issuer", "https://id.example", "--claim", "a=b"],
        ["publisher", "add-pending", "iss-new", *GITHUB, "--owner", "alice", "--issuer",
         "https://ci.example.com"],
    ):  # fmt: skip
        refused = index.cli(*command, check=False)
        assert refused.returncode == 1, refused.stdout
        assert "is not trusted by this index: ask its admin to add it" in refused.stderr
        assert "trustyard admin issuer add https://" in refused.stderr
    assert index.snapshot() == before
    # The public issuers are there: a GitHub publisher with the default issuer is accepted.
    index.cli("publisher", "add", "iss-cli", *GITHUB)


def test_the_attackers_issuer_is_refused_at_registration_and_at_mint_with_nothing_fetched(
    index: IndexServer, people: None, recorder: Recorder, key: Path
) -> None:
    """The reported attack: a signed-in user registers a pending publisher naming their own
    issuer (here on loopback, as any http URL there was accepted), then sends an unsigned
    token naming it; the index used to fetch its discovery document."""
    asked = len(recorder.asked)  # (one recorder serves both backends' modules)
    alice = signed_in(index, "alice")
    alice.get("/manage/account/publishing/")
    before = index.snapshot()
    form = {
        "kind": "github",
        "project_name": "iss-attack",
        "repository": RUN.repository,
        "workflow": RUN.workflow,
        "issuer": recorder.url,
    }
    answer = alice.post("/manage/account/publishing/", form)
    assert answer.status == 400, answer.text
    assert "is not trusted by this index" in answer.text
    refused = _mint(index, _token(recorder.url, index.audience, key))
    assert _refusal(refused) == (422, "invalid-payload", "unknown trusted publishing issuer")
    assert recorder.asked[asked:] == []
    after = index.snapshot()
    assert _without(after, *MINT_BOOKKEEPING) == _without(before, *MINT_BOOKKEEPING)
    assert after.files == before.files


def test_an_issuer_off_the_list_or_on_a_private_address_is_never_fetched(
    index: IndexServer, people: None, recorder: Recorder, key: Path
) -> None:
    """A publisher whose issuer is no longer listed (or was listed, as migration 0010 lists the
    issuers of existing publishers, without private addresses): mints are refused and the
    issuer hears nothing, until an admin allows it with its private address."""
    index.cli("admin", "project", "create", "iss-private", "--owner", "alice")
    index.cli("admin", "issuer", "add", recorder.url, "--allow-private-address")
    index.cli("publisher", "add", "iss-private", *GITHUB, "--issuer", recorder.url)
    asked = len(recorder.asked)

    index.execute("DELETE FROM trusted_issuers WHERE url = :u", u=recorder.url)
    refused = _mint(index, _token(recorder.url, index.audience, key))
    assert _refusal(refused) == (422, "invalid-payload", "unknown trusted publishing issuer")
    assert len(recorder.asked) == asked

    index.cli("admin", "issuer", "add", recorder.url, "--allow-private-address")
    index.execute(
        "UPDATE trusted_issuers SET allow_private_address = :f WHERE url = :u",
        f=False,
        u=recorder.url,
    )
    refused = _mint(index, _token(recorder.url, index.audience, key))
    assert _refusal(refused)[:2] == (422, "invalid-token")
    assert len(recorder.asked) == asked  # 127.0.0.1 is not public: nothing was sent
    assert "not a public address" in index.log.read_text()

    # Allowed as the admin says: now the index does ask (and finds no keys there).
    index.cli("admin", "issuer", "add", recorder.url, "--allow-private-address")
    index.execute("DELETE FROM oidc_key_sets WHERE issuer = :u", u=recorder.url)
    refused = _mint(index, _token(recorder.url, index.audience, key))
    assert _refusal(refused)[:2] == (422, "invalid-token")
    assert recorder.asked[asked:] == ["/.well-known/openid-configuration"]


def test_admin_issuer_commands_add_change_list_and_remove(index: IndexServer, people: None) -> None:
    url = "https://gitlab.example.com"
    index.cli("admin", "issuer", "add", url)
    assert _allowed(index)[url] == "public-only"
    again = index.cli("admin", "issuer", "add", url, "--allow-private-address")
    assert "already allowed" in again.stderr
    assert _allowed(index)[url] == "private-allowed"
    before = index.snapshot()
    for bad, why in [
        ("http://ci.example.com", "https://"),
        (f"{url}/", "must not end with '/'"),
        (f"{url}?x=1", "may hold only letters, digits"),
        ("https://user@ci.example.com", "may hold only letters, digits"),
        ('https://ci.example.com/"><script>', "may hold only letters, digits"),
        ("https://127.0.0.1:8443", "--allow-private-address"),
        ("https://169.254.169.254", "--allow-private-address"),
        ("https://[::1]", "--allow-private-address"),
        ("https://localhost", "--allow-private-address"),
        ("https://" + "x" * 500 + ".example", "at most 500"),
    ]:
        refused = index.cli("admin", "issuer", "add", bad, check=False)
        assert refused.returncode == 1, bad
        assert why in refused.stderr, (bad, refused.stderr)
    assert index.snapshot() == before

    # Removing an issuer that publishers name is refused, naming them; nothing changes.
    index.cli("admin", "project", "create", "iss-remove", "--owner", "alice")
    index.cli("publisher", "add", "iss-remove", "gitlab", "--project", "g/p",
              "--workflow-path", ".gitlab-ci.yml", "--issuer", url)  # fmt: skip
    before = index.snapshot()
    refused = index.cli("admin", "issuer", "remove", url, check=False)
    assert refused.returncode == 1
    assert "1 publisher(s) still name https://gitlab.example.com: iss-remove" in refused.stderr
    assert index.snapshot() == before
    [(publisher_id,)] = index.query(
        "SELECT id FROM publishers WHERE issuer = :u AND project_id IS NOT NULL", u=url
    )
    index.cli("publisher", "remove", "iss-remove", str(publisher_id))
    index.cli("admin", "issuer", "remove", url)
    assert url not in _allowed(index)
    gone = index.cli("admin", "issuer", "remove", url, check=False)
    assert gone.returncode == 1
    assert "is not a trusted issuer" in gone.stderr
    actions = [str(row[0]) for row in index.query("SELECT action FROM journal ORDER BY id")]
    assert f"allow trusted issuer {url}" in actions
    assert f"change trusted issuer {url} (private addresses allowed)" in actions
    assert f"remove trusted issuer {url}" in actions


def test_admin_issuer_pages_add_and_remove_with_csrf(index: IndexServer, people: None) -> None:
    url = "https://forgejo.example.org"
    alice = signed_in(index, "alice")
    alice.get("/manage/account/")
    root = signed_in(index, "root")
    page = root.get("/admin/issuers/")
    assert page.status == 200
    for public in PUBLIC_ISSUERS:
        assert f'data-issuer="{public}"' in page.text
    before = index.snapshot()
    assert alice.post("/admin/issuers/add/", {"url": url}).status == 403  # not an admin
    assert root.post("/admin/issuers/add/", {"url": url}, csrf=False).status == 403
    assert root.post("/admin/issuers/add/", {"url": url, "other": "x"}).status == 400
    assert root.post("/admin/issuers/add/", {"url": "http://ci.example.com"}).status == 400
    assert root.post("/admin/issuers/remove/", {"url": url}).status == 404
    assert index.snapshot() == before

    assert root.post("/admin/issuers/add/", {"url": url}).status == 303
    row = root.get("/admin/issuers/").text.split(f'data-issuer="{url}"', 1)[1].split("</tr>")[0]
    assert '<td class="private">public only</td>' in row
    loopback = "http://127.0.0.1:9"
    form = {"url": loopback, "allow_private_address": "1"}
    assert root.post("/admin/issuers/add/", form).status == 303
    assert _allowed(index)[loopback] == "private-allowed"

    index.cli("admin", "project", "create", "iss-web", "--owner", "alice")
    index.cli("publisher", "add", "iss-web", "oidc", "--issuer", url, "--claim", "sub=x")
    before = index.snapshot()
    answer = root.post("/admin/issuers/remove/", {"url": url})
    assert answer.status == 409
    assert "still name https://forgejo.example.org: iss-web" in answer.text
    assert index.snapshot() == before
    assert root.post("/admin/issuers/remove/", {"url": loopback}).status == 303
    assert loopback not in _allowed(index)
    last = index.query("SELECT actor, action FROM journal ORDER BY id DESC LIMIT 1")
    assert last == [("root", f"remove trusted issuer {loopback}")]


def test_each_index_has_its_own_audience_and_refuses_the_others_tokens(
    index: IndexServer, fresh_index: IndexServer, dev_issuer: DevIssuer
) -> None:
    """Finding 4: two indexes (a test and a production one, say) no longer accept each other's
    CI tokens; instances of one index agree on its audience."""
    assert index.audience != fresh_index.audience
    assert index.audience.startswith("trustyard-")
    assert fresh_index.audience.startswith("trustyard-")
    for server in (index, fresh_index):
        server.trust_issuer(dev_issuer.url)
        server.create_user("aud-owner", PASSWORD)
        server.cli("admin", "project", "create", "iss-audience", "--owner", "aud-owner")
        server.cli("publisher", "add", "iss-audience", *GITHUB, "--issuer", dev_issuer.url)
    for_test = dev_issuer.mint(fresh_index.audience, RUN.claims())
    before = index.snapshot()
    replayed = _mint(index, for_test)
    assert _refusal(replayed) == (422, "invalid-token", "malformed or invalid token")
    after = index.snapshot()
    assert _without(after, *MINT_BOOKKEEPING, "oidc_key_sets") == _without(
        before, *MINT_BOOKKEEPING, "oidc_key_sets"
    )
    assert _mint(fresh_index, for_test).status == 200  # where it was meant to go

    second = start_index(fresh_index.data)  # another instance on the same database
    try:
        assert second.audience == fresh_index.audience
    finally:
        second.stop()


def test_an_explicit_audience_wins(tmp_path: Path, backend: Backend) -> None:
    server = start_index(tmp_path / "data", "--audience", "pypi-example-com", backend=backend)
    try:
        assert server.audience == "pypi-example-com"
        [(stored,)] = server.query("SELECT value FROM index_settings WHERE name = 'oidc_audience'")
        assert str(stored).startswith("trustyard-")  # kept, for when the setting is dropped
    finally:
        server.stop()
