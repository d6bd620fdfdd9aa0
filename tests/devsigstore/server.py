"""HTTP for the development Sigstore: Fulcio's v2 and Rekor's v1 REST paths on one loopback port.
Paths and error shape (``{"code", "message"}``) as Fulcio's grpc-gateway and Rekor v1 answer.

``POST /api/v2/signingCert``, ``GET /api/v2/trustBundle``; ``POST /api/v1/log/entries``,
``GET /api/v1/log/entries/<uuid>``, ``GET /api/v1/log/entries?logIndex=N``, ``GET /api/v1/log``,
``GET /api/v1/log/publicKey``. Bodies over 1 MiB are refused unread; sockets time out after
30 seconds so no client can hold a thread forever.
"""

from __future__ import annotations

import http.server
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.devsigstore.errors import (
    BodyTooLarge,
    DevSigstoreError,
    EntryExists,
    MethodNotAllowed,
    NotFound,
)
from tests.devsigstore.fulcio import FulcioCA
from tests.devsigstore.rekor import TransparencyLog

__all__ = ["MAX_BODY", "DevSigstoreServer"]

MAX_BODY = 1024 * 1024
_ENTRIES = "/api/v1/log/entries"


class DevSigstoreServer(http.server.ThreadingHTTPServer):
    """A threading HTTP server holding one Fulcio CA and one transparency log."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], fulcio: FulcioCA, log: TransparencyLog) -> None:
        super().__init__(address, _Handler)
        self.fulcio = fulcio
        self.log = log


class _Handler(http.server.BaseHTTPRequestHandler):
    server: DevSigstoreServer
    protocol_version = "HTTP/1.1"
    server_version = "trustyard-devsigstore"
    timeout = 30

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read errors from responses, not from stderr."""

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        parts = urlsplit(self.path)
        try:
            self._route(method, parts.path, parse_qs(parts.query))
        except EntryExists as exc:
            self._json(
                exc.status,
                {"code": exc.status, "message": exc.message},
                {"Location": f"{_ENTRIES}/{exc.uuid}"},
            )
        except DevSigstoreError as exc:
            self._json(exc.status, {"code": exc.status, "message": exc.message})

    def _route(self, method: str, path: str, query: Mapping[str, list[str]]) -> None:
        server = self.server
        if path == "/api/v2/signingCert":
            self._only(method, "POST")
            body = self._body()
            self._json(200, server.fulcio.signing_cert(self.headers.get("Authorization"), body))
        elif path == "/api/v2/trustBundle":
            self._only(method, "GET")
            self._json(200, {"chains": [{"certificates": [server.fulcio.pem()]}]})
        elif path == _ENTRIES:
            if method == "POST":
                uuid, entry = server.log.add(self._body())
                self._json(201, {uuid: entry}, {"Location": f"{_ENTRIES}/{uuid}"})
                return
            self._only(method, "GET")
            raw = query.get("logIndex", [""])[-1]
            if not raw.isdigit():
                raise DevSigstoreError("logIndex (a non-negative integer) is required")
            self._json(200, server.log.get_by_index(int(raw)))
        elif path.startswith(_ENTRIES + "/"):
            self._only(method, "GET")
            self._json(200, server.log.get(path.removeprefix(_ENTRIES + "/")))
        elif path == "/api/v1/log":
            self._only(method, "GET")
            self._json(200, server.log.info())
        elif path == "/api/v1/log/publicKey":
            self._only(method, "GET")
            self._send(200, server.log.public_key_pem().encode(), "application/x-pem-file")
        else:
            self._drain()
            raise NotFound(f"no such endpoint: {path}")

    def _only(self, method: str, allowed: str) -> None:
        if method != allowed:
            self._drain()
            raise MethodNotAllowed(f"{method} is not allowed here; use {allowed}")

    def _drain(self) -> None:
        """Do not keep a connection whose request body was left unread."""
        if self.headers.get("Content-Length") not in (None, "0") or self.headers.get(
            "Transfer-Encoding"
        ):
            self.close_connection = True

    def _body(self) -> Any:
        """The JSON request body, read only if its declared length is within the limit."""
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            raise DevSigstoreError("chunked request bodies are not supported; send Content-Length")
        declared = self.headers.get("Content-Length", "")
        if not declared.isdigit():
            self.close_connection = True
            raise DevSigstoreError("a Content-Length header is required")
        size = int(declared)
        if size > MAX_BODY:
            self.close_connection = True
            raise BodyTooLarge(f"request body of {size} bytes is over the {MAX_BODY} byte limit")
        data = self.rfile.read(size)
        if len(data) != size:
            self.close_connection = True
            raise DevSigstoreError("the request body is shorter than its Content-Length")
        try:
            return json.loads(data)
        except (UnicodeDecodeError, ValueError) as exc:
            raise DevSigstoreError(f"the request body is not JSON: {exc}") from exc

    def _json(self, status: int, body: Any, headers: Mapping[str, str] | None = None) -> None:
        self._send(status, json.dumps(body).encode(), "application/json", headers)

    def _send(
        self, status: int, data: bytes, content_type: str, headers: Mapping[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)
