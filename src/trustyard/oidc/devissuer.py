"""The development OIDC issuer: discovery, JWKS, RS256 ID tokens, Actions' token request endpoint.
Copies token.actions.githubusercontent.com and Actions' ACTIONS_ID_TOKEN_REQUEST_URL protocol.

FOR DEVELOPMENT AND TESTS ONLY. It signs whatever its callers ask for: the bearer *request
token* of ``GET /token?audience=A`` is unsigned base64url JSON carrying the claims
(:mod:`trustyard.oidc.devclaims`), so anyone who can reach the issuer can mint any identity.
It therefore listens on loopback unless told otherwise (``insecure_public``), and no index
should trust it outside a test set-up.

Endpoints: ``/.well-known/openid-configuration``, ``/.well-known/jwks`` (also at GitLab's
``/oauth/discovery/keys``), and ``/token`` answering ``{"value": "<jwt>"}`` as GitHub does.
The RSA 2048 key lives in ``DATA/issuer-key.pem`` (0600); its RFC 7638 thumbprint is the kid.
"""

from __future__ import annotations

import http.server
import ipaddress
import json
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from trustyard.errors import ConfigurationError, Error, InvalidInput
from trustyard.oidc.devclaims import BadRequestToken, TokenRequest, mint_claims
from trustyard.oidc.devkeys import SigningKey, load_or_create_signing_key, sign

__all__ = [
    "KEY_FILE",
    "DevIssuerApp",
    "DevIssuerError",
    "DevIssuerServer",
    "IssuerUnreachable",
    "check_bind_address",
    "fetch_token",
    "make_server",
]

KEY_FILE = "issuer-key.pem"
JWKS_PATH = "/.well-known/jwks"
GITLAB_JWKS_PATH = "/oauth/discovery/keys"

# GitHub's discovery document lists these claims (token.actions.githubusercontent.com).
_CLAIMS_SUPPORTED = [
    "sub", "aud", "exp", "iat", "iss", "jti", "nbf", "ref", "sha", "repository",
    "repository_id", "repository_owner", "repository_owner_id", "run_id", "run_number",
    "run_attempt", "actor", "actor_id", "workflow", "workflow_ref", "workflow_sha", "head_ref",
    "base_ref", "event_name", "ref_type", "ref_protected", "environment", "job_workflow_ref",
    "job_workflow_sha", "repository_visibility", "runner_environment",
]  # fmt: skip


class DevIssuerError(Error):
    """A request the development issuer refuses, or a failure talking to it."""


class MissingAudience(DevIssuerError):
    """``/token`` was called without ``?audience=``."""


class IssuerUnreachable(DevIssuerError):
    """The development issuer could not be reached or answered with an error."""


class DevIssuerApp:
    """The issuer's behaviour, independent of the HTTP server that exposes it."""

    def __init__(self, key: SigningKey, key_path: Path, issuer: str) -> None:
        self.key = key
        self.key_path = key_path
        self.issuer = issuer.rstrip("/")

    def discovery(self) -> dict[str, Any]:
        """The OpenID Provider metadata, shaped like GitHub's."""
        return {
            "issuer": self.issuer,
            "jwks_uri": self.issuer + JWKS_PATH,
            "subject_types_supported": ["public", "pairwise"],
            "response_types_supported": ["id_token"],
            "claims_supported": _CLAIMS_SUPPORTED,
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid"],
        }

    def jwks(self) -> dict[str, Any]:
        """The public signing key set."""
        return {"keys": [self.key.public_jwk()]}

    def mint(self, authorization: str | None, audience: str | None) -> str:
        """An ID token for the request token in ``authorization`` (``Bearer <token>``)."""
        scheme, _, credential = (authorization or "").strip().partition(" ")
        if scheme.lower() != "bearer" or not credential.strip():
            raise BadRequestToken("send the request token as 'Authorization: Bearer <token>'")
        request = TokenRequest.decode(credential.strip())
        if not audience:
            raise MissingAudience("the 'audience' query parameter is required")
        claims = mint_claims(request, issuer=self.issuer, audience=audience, now=int(time.time()))
        return sign(claims, self.key_path, algorithm="RS256")


class DevIssuerServer(http.server.ThreadingHTTPServer):
    """A threading HTTP server for :class:`DevIssuerApp`; ``url`` is the issuer identifier."""

    daemon_threads = True
    app: DevIssuerApp
    url: str


class _Handler(http.server.BaseHTTPRequestHandler):
    server: DevIssuerServer
    protocol_version = "HTTP/1.1"
    server_version = "trustyard-dev-issuer"

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        app = self.server.app
        if parts.path == "/.well-known/openid-configuration":
            self._json(200, app.discovery())
        elif parts.path in {JWKS_PATH, GITLAB_JWKS_PATH}:
            self._json(200, app.jwks())
        elif parts.path == "/token":
            audience = parse_qs(parts.query).get("audience", [None])[-1]
            try:
                self._json(200, {"value": app.mint(self.headers.get("Authorization"), audience)})
            except BadRequestToken as exc:
                self._error(401, "invalid_token", exc, {"WWW-Authenticate": "Bearer"})
            except Error as exc:
                self._error(400, "invalid_request", exc)
        else:
            self._json(404, {"error": "not_found", "message": f"no such endpoint: {parts.path}"})

    def do_POST(self) -> None:
        self._json(405, {"error": "method_not_allowed", "message": "use GET"}, {"Allow": "GET"})

    def _error(
        self, status: int, code: str, exc: Error, headers: Mapping[str, str] | None = None
    ) -> None:
        self._json(status, {"error": code, "message": exc.diagnostics()}, headers)

    def _json(
        self, status: int, body: Mapping[str, Any], headers: Mapping[str, str] | None = None
    ) -> None:
        data = json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


def check_bind_address(host: str, *, insecure_public: bool = False) -> None:
    """Refuse any address but loopback unless ``insecure_public`` says the risk is accepted."""
    if insecure_public or host == "localhost":
        return
    try:
        loopback = ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ConfigurationError(
            f"the development issuer signs any identity it is asked for; it will not listen on "
            f"{host!r} (not loopback) without --insecure-public"
        )


def make_server(
    data_dir: Path, host: str = "127.0.0.1", port: int = 8090, *, insecure_public: bool = False
) -> DevIssuerServer:
    """Bind the issuer (port 0: any free port) with its key in ``data_dir``; not yet serving."""
    check_bind_address(host, insecure_public=insecure_public)
    key_path = data_dir / KEY_FILE
    key = load_or_create_signing_key(key_path)
    bare = host.strip("[]")
    try:
        family = socket.getaddrinfo(bare, port, type=socket.SOCK_STREAM)[0][0]
    except socket.gaierror as exc:
        raise ConfigurationError(f"cannot listen on {host!r}: {exc.strerror}") from exc
    server_class = type("_Server", (DevIssuerServer,), {"address_family": family})
    try:
        server: DevIssuerServer = server_class((bare, port), _Handler)
    except OSError as exc:
        raise ConfigurationError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    bound_port = server.server_address[1]
    shown = f"[{bare}]" if ":" in bare else bare
    server.url = f"http://{shown}:{bound_port}"
    server.app = DevIssuerApp(key, key_path, server.url)
    return server


def fetch_token(issuer: str, audience: str, request_token: str, *, timeout: float = 10) -> str:
    """Ask a running development issuer for an ID token, as a GitHub Actions step would."""
    if not audience:
        raise InvalidInput("an audience is required")
    if urlsplit(issuer).scheme not in {"http", "https"}:
        raise InvalidInput(f"the issuer {issuer!r} is not an http(s) URL")
    url = f"{issuer.rstrip('/')}/token?{urlencode({'api-version': '2.0', 'audience': audience})}"
    request = urllib.request.Request(  # noqa: S310 - the URL is http(s) built just above
        url, headers={"Authorization": f"Bearer {request_token}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            body = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode("utf-8", "replace")
        raise IssuerUnreachable(
            f"{issuer} refused the token request ({exc.code}): {detail}"
        ) from exc
    except (urllib.error.URLError, OSError) as exc:
        raise IssuerUnreachable(f"cannot reach the development issuer at {issuer}: {exc}") from exc
    except ValueError as exc:
        raise IssuerUnreachable(f"{issuer} answered with something other than JSON") from exc
    value = body.get("value") if isinstance(body, dict) else None
    if not isinstance(value, str):
        raise IssuerUnreachable(f"{issuer} answered without a token 'value'")
    return value
