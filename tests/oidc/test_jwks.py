"""Where key fetches may go (issue 14, finding 5): real HTTP servers on loopback that redirect,
that name a ``jwks_uri`` on another origin, or that are simply private addresses.

Each server records the requests it is sent, so a refusal is shown to have sent nothing to the
place it refused.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from trustyard.oidc.jwks import KeyFetchError, fetch_jwks, is_public_address

KEY = {"kty": "RSA", "kid": "k1", "n": "AQAB", "e": "AQAB"}


@dataclass
class Site:
    """A loopback HTTP server answering each path as the test says; every path asked is kept."""

    url: str = ""
    answers: dict[str, tuple[int, dict[str, str], bytes]] = field(default_factory=dict)
    asked: list[str] = field(default_factory=list)

    def serve_json(self, path: str, document: Any) -> None:
        self.answers[path] = (
            200,
            {"Content-Type": "application/json"},
            json.dumps(document).encode(),
        )

    def redirect(self, path: str, location: str, status: int = 302) -> None:
        self.answers[path] = (status, {"Location": location}, b"")

    def issuer_of(self, jwks_uri: str | None = None) -> None:
        """Serve a valid discovery document naming ``jwks_uri`` (default: its own /jwks)."""
        self.serve_json(
            "/.well-known/openid-configuration",
            {"issuer": self.url, "jwks_uri": jwks_uri or f"{self.url}/jwks"},
        )
        self.serve_json("/jwks", {"keys": [KEY]})


def _handler(site: Site) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            site.asked.append(self.path)
            status, headers, body = site.answers.get(self.path, (404, {}, b""))
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

    return Handler


@pytest.fixture
def sites() -> Iterator[tuple[Site, Site]]:
    """Two servers: the issuer, and another origin (a redirect target, a foreign jwks_uri)."""
    servers = []
    found = []
    for _ in range(2):
        site = Site()
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(site))
        site.url = f"http://127.0.0.1:{server.server_address[1]}"
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        found.append(site)
    try:
        yield found[0], found[1]
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


def test_an_allowed_private_issuer_on_its_own_origin_gives_its_keys(
    sites: tuple[Site, Site],
) -> None:
    issuer, _ = sites
    issuer.issuer_of()
    assert fetch_jwks(issuer.url, allow_private_address=True) == {"k1": KEY}
    assert issuer.asked == ["/.well-known/openid-configuration", "/jwks"]


def test_a_redirected_discovery_document_is_not_followed(sites: tuple[Site, Site]) -> None:
    issuer, elsewhere = sites
    elsewhere.issuer_of()
    issuer.redirect(
        "/.well-known/openid-configuration", f"{elsewhere.url}/.well-known/openid-configuration"
    )
    with pytest.raises(KeyFetchError, match="redirects are not followed"):
        fetch_jwks(issuer.url, allow_private_address=True)
    assert elsewhere.asked == []


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirected_key_set_is_not_followed(sites: tuple[Site, Site], status: int) -> None:
    issuer, elsewhere = sites
    issuer.issuer_of()
    elsewhere.serve_json("/jwks", {"keys": [KEY]})
    issuer.redirect("/jwks", f"{elsewhere.url}/jwks", status)
    with pytest.raises(KeyFetchError, match="redirects are not followed"):
        fetch_jwks(issuer.url, allow_private_address=True)
    assert elsewhere.asked == []


def test_a_jwks_uri_on_another_origin_is_refused(sites: tuple[Site, Site]) -> None:
    issuer, elsewhere = sites
    elsewhere.serve_json("/jwks", {"keys": [KEY]})
    issuer.issuer_of(jwks_uri=f"{elsewhere.url}/jwks")  # another port: another origin
    with pytest.raises(KeyFetchError, match="another origin"):
        fetch_jwks(issuer.url, allow_private_address=True)
    assert elsewhere.asked == []
    # Nor with another host or scheme naming the same machine.
    for foreign in (
        issuer.url.replace("127.0.0.1", "localhost") + "/jwks",
        issuer.url.replace("http://", "https://") + "/jwks",
        "http://169.254.169.254/latest/meta-data/",
    ):
        issuer.issuer_of(jwks_uri=foreign)
        with pytest.raises(KeyFetchError, match="another origin"):
            fetch_jwks(issuer.url, allow_private_address=True)
    assert issuer.asked.count("/jwks") == 0


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_a_private_address_is_refused_before_anything_is_sent(
    sites: tuple[Site, Site], host: str
) -> None:
    """A loopback literal, and a name that resolves to loopback: refused unless the issuer was
    allowed private addresses, and the server never hears of it."""
    issuer, _ = sites
    issuer.issuer_of()
    url = issuer.url.replace("127.0.0.1", host)
    with pytest.raises(KeyFetchError, match="not a public address"):
        fetch_jwks(url)
    assert issuer.asked == []


@pytest.mark.parametrize(
    "issuer",
    [
        "https://169.254.169.254",  # cloud metadata (link-local)
        "https://10.0.0.1",
        "https://192.168.1.1",
        "https://[::1]",
        "https://[fe80::1]",
        "https://[::ffff:127.0.0.1]",
        "https://0.0.0.0",
        "https://100.64.0.1",  # carrier-grade NAT
    ],
)
def test_private_and_link_local_literals_are_refused(issuer: str) -> None:
    with pytest.raises(KeyFetchError, match="not a public address"):
        fetch_jwks(issuer)


def test_public_addresses_are_public() -> None:
    assert is_public_address("140.82.112.3")  # github.com
    assert is_public_address("2606:4700::6810:84e5")
    assert not is_public_address("::ffff:10.1.2.3")
    assert not is_public_address("224.0.0.1")
